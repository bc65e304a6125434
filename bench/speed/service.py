"""Service latency and throughput under a bounded local load: ``llm4tag serve`` in one process, 16
concurrent clients in this one, on loopback. The clients share the server's cores, so the lightest client
library is the default (aiohttp; ``--client httpx``, or ``both`` for four loads alternating the two).

    .venv/bin/python -m bench.speed.service --project debtags --requests 256 --no-generation --judge none
    .venv/bin/python -m bench.speed.service --project debtags --requests 48 --no-generation --judge candidates
    .venv/bin/python -m bench.speed.service --project debtags --requests 1536 --no-generation --judge none --workers 2

Texts: debtags test documents outside the seeded 300-document sample (so no cached judgement helps), their
embeddings stored in the project first, as for texts seen before (the service itself keeps a tagged text's
vector in memory only); ``--new-texts`` makes each one new, so no cached embedding helps (the in-process
baseline gets texts of its own, new too). The load starts once every worker answers.
Baseline in the same run: the same contents tagged in one in-process call (no HTTP), contents per second.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import httpx

from bench.common import machine, outside_sample, percentiles, project_parser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load(
    url: str, texts: list[str], clients: int, library: str = "aiohttp"
) -> tuple[list[float], list[int], float]:
    """Each of ``clients`` keeps one request in flight until ``texts`` run out. The load runs on the same cores
    as the server: aiohttp's client costs it less CPU a request than httpx's (``--client``)."""
    queue: asyncio.Queue = asyncio.Queue()
    for text in texts:
        queue.put_nowait(text)
    latencies, statuses = [], []

    async def post(http, text: str) -> int:
        if library == "httpx":
            return (await http.post(f"{url}/v1/tag", json={"text": text})).status_code
        async with http.post(f"{url}/v1/tag", json={"text": text}) as response:
            await response.read()
            return response.status

    async def client(http) -> None:
        while not queue.empty():
            text = queue.get_nowait()
            started = time.perf_counter()
            status = await post(http, text)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)

    if library == "httpx":
        session = httpx.AsyncClient(timeout=600)
    else:
        import aiohttp

        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
    async with session as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return latencies, statuses, time.perf_counter() - started


def main() -> None:
    parser = project_parser()
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--judge", choices=("none", "generated", "candidates"))
    parser.add_argument("--no-generation", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="service processes on the port (serve --workers)")
    parser.add_argument("--new-texts", action="store_true", help="texts never seen: no embedding is cached")
    parser.add_argument(
        "--client",
        default="aiohttp",
        help="the load's HTTP client library: aiohttp or httpx; 'both' runs the load four times, alternating",
    )
    args = parser.parse_args()
    texts = [d.text for d in outside_sample(args.data)][: args.requests]
    if args.new_texts:
        texts = [f"{text} [{time.time_ns()}]" for text in texts]
    else:  # the service keeps a tagged text's vector in memory only: store these, as for texts seen before
        from llm4tag.project import Project

        with Project.open(args.project) as project:
            project.embedder.encode(texts, persist=True)
    port = free_port()
    command = [sys.executable, "-m", "llm4tag.cli", "serve", "-p", args.project, "--port", str(port), "-q"]
    command += ["--workers", str(args.workers)]
    command += (["--judge", args.judge] if args.judge else []) + (["--no-generation"] if args.no_generation else [])
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        serving: set[int] = set()  # each worker listens once its project is loaded: wait for all of them
        while True:
            try:
                with httpx.Client(timeout=2) as fresh:  # a new connection each: the kernel spreads them
                    if fresh.get(f"{url}/readyz").status_code == 200:
                        serving.add(fresh.get(f"{url}/healthz").json()["pid"])
                if len(serving) >= args.workers:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                sys.exit("server did not become ready")
            time.sleep(0.5)
        asyncio.run(load(url, texts[:4], 1))  # warm-up: first encodings, first LLM call
        # 'both': alternating, twice each, so that neither profits from the other's warm caches alone
        libraries = ("httpx", "aiohttp", "httpx", "aiohttp") if args.client == "both" else (args.client,)
        runs = [(library, asyncio.run(load(url, texts, args.clients, library))) for library in libraries]
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        server.terminate()
        server.wait()
    batches = next(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith("llm4tag_pipeline_batches_total"))
    llm = next(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith("llm4tag_llm_calls_total"))

    # baseline, same run: the same contents through the pipeline in this process, one call
    from llm4tag.corpus import Document
    from llm4tag.project import Project

    with Project.open(args.project) as project:
        project.config.confidence.cache = False
        pipeline = project.pipeline(judge=args.judge, generation=False if args.no_generation else None)
        effective = pipeline.options
        pipeline.run([Document("w", texts[0])])
        started = time.perf_counter()
        pipeline.run([Document(f"b{i}", t + ("!" if args.new_texts else "")) for i, t in enumerate(texts)])
        direct = time.perf_counter() - started
    report = {
        "machine": machine(),
        "pipeline": {"judge": effective.judge, "generation": effective.generation},
        "requests": len(texts),
        "new_texts": args.new_texts,
        "clients": args.clients,
        "workers": args.workers,
        "pipeline_batches": batches,
        "llm_calls_per_request": llm / (len(texts) * len(runs) + 4),
        "in_process_contents_per_second (baseline, same run)": len(texts) / direct,
    }
    report["loads"] = [
        {
            "client": library,
            "status_codes": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "latency": percentiles(latencies),
            "throughput_requests_per_second": len(texts) / wall,
            "service_throughput_over_in_process": (len(texts) / wall) / (len(texts) / direct),
        }
        for library, (latencies, statuses, wall) in runs
    ]
    if len(runs) == 1:  # the report's shape before --client existed
        report.update(report.pop("loads")[0])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
