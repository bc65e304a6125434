"""Serving from several machines, on one: requests/s and latency of recall-only tagging and of feedback
writes for today's single SQLite server, one replica over PostgreSQL, and two replicas behind nginx, measured
in the same run; the lag from a write acknowledged by one replica to its use by the other; ``store copy``.

    .venv/bin/python -m bench.speed.cluster --project debtags --seconds 20

Two replicas on one two-core host share its cores with the database, nginx and the load: the ratio measures
the protocol's overhead, not a second machine's capacity. Texts: debtags test documents (``--data``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.cluster import Balancer, Replica
from tests.pg import PostgresServer, _free_port

from bench.common import machine, percentiles, project_parser
from llm4tag.config import ProjectConfig
from llm4tag.corpus.loaders import load_corpus


def drive(url: str, seconds: float, clients: int, body) -> dict:
    """``clients`` threads, each with one request in flight, for ``seconds``: requests/s and latency."""
    stop, latencies, failures, first_failure = threading.Event(), [], [0], []

    def client(worker: int) -> None:
        with httpx.Client(timeout=60) as http:
            n = 0
            while not stop.is_set():
                path, payload = body(worker, n)
                started = time.perf_counter()
                answer = http.post(f"{url}{path}", json=payload, headers={"X-API-Key": "bench"})
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures[0] += 1
                    if not first_failure:
                        first_failure.append(f"{answer.status_code} {answer.text[:200]}")
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"every request failed: {first_failure}")
    out = {"requests_per_s": round(len(latencies) / elapsed, 1), "failed": failures[0], **percentiles(latencies)}
    return {**out, "first_failure": first_failure[0]} if first_failure else out


def rss_mib(pid: int) -> float:
    """A process's resident memory (Linux), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def lag(writer: str, reader: str, trials: int) -> dict:
    """A tag added through ``writer``: how long until ``reader`` serves it."""
    samples = []
    with httpx.Client(timeout=30) as http:
        for i in range(trials):
            tag = {"id": f"bench::lag-{time.time_ns()}-{i}", "label": f"Lag probe {i}"}
            assert http.post(f"{writer}/v1/tags", json=tag, headers={"X-API-Key": "bench"}).status_code == 201
            started = time.perf_counter()
            while http.get(f"{reader}/v1/tags/{tag['id']}").status_code != 200:
                time.sleep(0.005)
            samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = project_parser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    texts = [d.text for d in load_corpus(Path(args.data) / "test.jsonl")][:2000]
    tag = lambda worker, n: ("/v1/tag", {"text": texts[(worker * 997 + n) % len(texts)], "llm": False})  # noqa: E731
    feedback = lambda worker, n: (  # noqa: E731
        "/v1/feedback",
        {"text": texts[(worker * 131 + n) % len(texts)], "content_id": f"bench-{worker}-{n}-{time.time_ns()}",
         "accept": ["devel::library"]},
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="llm4tag-bench-cluster-"))
    project = shutil.copytree(args.project, work / "sqlite")
    config = ProjectConfig.load(project)
    config.service.api_keys = ["bench"]  # writes need a key; the replicas read it from the store's copy
    config.save(project)
    report = {"machine": machine(), "project": args.project, "seconds": args.seconds, "clients": args.clients}
    postgres = PostgresServer.start()
    try:
        url = postgres.new_database()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llm4tag.cli", "store", "copy", "--from", str(project), "--to", url,
                        "-q"], check=True, capture_output=True)  # fmt: skip
        report["store_copy_seconds"] = {"sqlite_to_postgresql": round(time.perf_counter() - started, 1)}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llm4tag.cli", "store", "copy", "--from", url, "--to",
                        str(work / "back"), "-q"], check=True, capture_output=True)  # fmt: skip
        report["store_copy_seconds"]["postgresql_to_sqlite"] = round(time.perf_counter() - started, 1)
        baseline = Replica(project, "", _free_port())
        baseline.store_url = ""
        layouts = {
            "sqlite, one server": [baseline],
            "postgresql, one replica": [Replica(work / "r0", url, _free_port())],
            "postgresql, two replicas + nginx": [Replica(work / f"r{i}", url, _free_port()) for i in (1, 2)],
        }
        for name, replicas in layouts.items():
            for replica in replicas:
                replica.start(timeout=600)
            target = replicas[0].url
            balancer = None
            if len(replicas) > 1:
                balancer = Balancer(work / f"nginx-{len(replicas)}", [r.port for r in replicas])
                target = balancer.url
            try:
                report[name] = {"tag": drive(target, args.seconds, args.clients, tag),
                                "feedback": drive(target, args.seconds, args.clients, feedback)}  # fmt: skip
                if len(replicas) > 1:
                    report[name]["lag_seconds"] = lag(replicas[0].url, replicas[1].url, 30)
                report[name]["replica_rss_mib"] = [rss_mib(r.process.pid) for r in replicas]
            finally:
                if balancer is not None:
                    balancer.stop()
                for replica in replicas:
                    replica.stop()
            print(json.dumps({name: report[name]}), flush=True)
        base = report["sqlite, one server"]
        for name in ("postgresql, one replica", "postgresql, two replicas + nginx"):
            for what in ("tag", "feedback"):
                report[name][what]["ratio_to_sqlite"] = round(
                    report[name][what]["requests_per_s"] / max(base[what]["requests_per_s"], 1e-9), 2
                )
    finally:
        postgres.remove()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
