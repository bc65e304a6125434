"""A scripted OpenAI-compatible server for failure-path tests (not a stand-in for a model).

The ``model`` field picks the script: ``ok``, ``flaky-N`` (N failures with 500 first),
``always-500``, ``slow`` (longer than the client timeout), ``malformed`` (invalid JSON body),
``no-logprobs``, ``null-logprobs`` (``logprob: null`` throughout), ``missing-logprob`` (a token without a
``logprob`` field), ``hang`` (never answers within a test's lifetime), ``bad-request`` (400).
"""

from __future__ import annotations

import asyncio
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = {}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        app.state.calls["embeddings"] = app.state.calls.get("embeddings", 0) + 1
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, float(t.count("a"))]}
            for i, t in enumerate(inputs)
        ]
        return {
            "object": "list",
            "data": list(reversed(data)),
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = body["model"]
        calls = app.state.calls
        calls[model] = calls.get(model, 0) + 1
        if model.startswith("flaky-") and calls[model] <= int(model.split("-")[1]):
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        if model == "always-500":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if model == "bad-request":
            return JSONResponse({"error": {"message": "unknown parameter"}}, status_code=400)
        if model == "slow":
            time.sleep(2.0)
        if model == "hang":
            await asyncio.sleep(3600)
        if model == "malformed":
            return PlainTextResponse('{"choices": [', media_type="application/json")
        content = '{"tags": ["Networking"]}'
        if model == "echo":  # answers with the request's last message, after the delay it names ("... wait=0.3")
            content = body["messages"][-1]["content"]
            await asyncio.sleep(float(content.rsplit("wait=", 1)[1]))
        logprobs = None
        if body.get("logprobs") and model != "no-logprobs":
            logprobs = {
                "content": [
                    {
                        "token": "Yes",
                        "logprob": -0.1,
                        "bytes": None,
                        "top_logprobs": [
                            {"token": "Yes", "logprob": -0.1, "bytes": None},
                            {"token": "No", "logprob": -2.4, "bytes": None},
                        ],
                    }
                ]
            }
        if model == "null-logprobs":
            logprobs = {
                "content": [{"token": "Yes", "logprob": None, "top_logprobs": [{"token": "Yes", "logprob": None}]}]
            }
        if model == "missing-logprob":
            logprobs = {"content": [{"token": "Yes", "top_logprobs": None}]}
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": logprobs,
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    return app


class FakeServer:
    def __init__(self) -> None:
        self.app = make_app()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        sock = self.server.servers[0].sockets[0]
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def calls(self, model: str) -> int:
        return self.app.state.calls.get(model, 0)
