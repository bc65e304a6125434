"""How long the service stalls after an edit: the first tagging request after a ``reject`` feedback, with the
learned paths refitted in the background (the service's way) against refitted inside the request (the way a
CLI run does it), on copies of one project, in one run.

    .venv/bin/python -m bench.speed.refit_stall --data ../shared/data/debtags --contents 2500 --work /tmp/stall

Builds (once, in ``--work``) a project of the first ``--contents`` annotated contents with the default
embedder, fits its learned paths, then for each mode: starts the app in-process, tags once, sends the reject,
and times the next ``/v1/tag`` request, a feedback sent right after it, and the refit until it is in use.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
from pathlib import Path

from fastapi.testclient import TestClient

from bench.common import machine
from llm4tag.corpus.loaders import iter_corpus
from llm4tag.project import Project
from llm4tag.service import create_app


def build(data: Path, contents: int, directory: Path) -> Path:
    if (directory / "llm4tag.toml").exists():
        return directory
    with Project.init(directory, tags=data / "tags.jsonl") as project:
        project.add_contents(list(itertools.islice(iter_corpus(data / "train.jsonl", library=project.library,
                                                               on_unknown="skip"), contents)))  # fmt: skip
        project.index()
        project.recall_index.warm()
    return directory


def measure(directory: Path, *, background: bool, stored: dict, text: str) -> dict:
    with Project.open(directory) as project, TestClient(create_app(project), base_url="http://127.0.0.1") as client:
        project.recall_index.refit_in_background = background
        assert client.post("/v1/tag", json={"text": text, "llm": False}).status_code == 200
        reject = {"text": stored["text"], "content_id": stored["id"], "reject": stored["tags"][:1]}
        started = time.perf_counter()
        assert client.post("/v1/feedback", json=reject).status_code == 200
        feedback = time.perf_counter() - started
        started = time.perf_counter()
        assert client.post("/v1/tag", json={"text": text, "llm": False}).status_code == 200
        first_tag = time.perf_counter() - started
        started = time.perf_counter()
        accept = {"text": stored["text"], "content_id": stored["id"], "accept": stored["tags"][:1]}
        assert client.post("/v1/feedback", json=accept).status_code == 200
        next_feedback = time.perf_counter() - started
        started = time.perf_counter()
        while project.recall_index.refitting():
            time.sleep(0.2)
        refit_left = time.perf_counter() - started
    return {"mode": "background" if background else "in the request", "reject_s": round(feedback, 3),
            "first_tag_after_edit_s": round(first_tag, 3), "feedback_during_refit_s": round(next_feedback, 3),
            "refit_still_running_after_s": round(refit_left, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--contents", type=int, default=2500)
    parser.add_argument("--work", default="/tmp/refit-stall")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.work)
    base = build(data, args.contents, work / "base")
    stored = json.loads(next(iter((data / "train.jsonl").open())))
    text = json.loads(next(iter((data / "test.jsonl").open())))["text"]
    print(json.dumps({"machine": machine(), "contents": args.contents}))
    for round_ in range(args.rounds):
        for background in (False, True) if round_ % 2 == 0 else (True, False):
            copy = work / f"copy-{int(background)}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(base, copy)
            print(json.dumps({"round": round_} | measure(copy, background=background, stored=stored, text=text)),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
