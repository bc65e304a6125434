"""Several replicas on one PostgreSQL store behind nginx, as separate processes with empty directories: they
follow each other's writes, a replica killed under load loses no acknowledged write, and a database restart
under load costs 503s, not data, and no replica restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import debtags_project, debtags_slice, run_cli

from llm4tag.store.postgres import PostgresStore

FOLLOW_SECONDS = 5.0  # the bound on a write made through one replica being used by another (docs/deployment.md)
KEY = {"X-API-Key": "cluster-key"}


@pytest.fixture
def cluster(tmp_path, postgres_server, postgres_url, capsys):
    from tests.cluster import NGINX, Cluster

    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (scripts/nginx.sh installs Debian's package)")
    built = debtags_project(tmp_path / "fitted", train=300, api_keys=["cluster-key"], host="127.0.0.1")
    assert run_cli(["store", "copy", "--from", str(built), "--to", postgres_url, "-q"], capsys)[0] == 0
    running = Cluster(postgres_server, postgres_url, 2, tmp_path / "cluster").start()
    yield running
    running.stop()


def _tag(url: str, text: str) -> list:
    answer = httpx.post(f"{url}/v1/tag", json={"text": text, "llm": False, "candidates": True}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_replicas_follow_each_others_writes_within_the_bound(cluster):
    first, second = cluster.replicas
    text = debtags_slice("test", 1)[0]["text"]
    assert _tag(first.url, text)["tags"] == _tag(second.url, text)["tags"]  # one store, one set of fitted files
    tag = {"id": "local::cluster-made", "label": "Made in the cluster", "description": "a tag added via one replica"}
    assert httpx.post(f"{first.url}/v1/tags", json=tag, headers=KEY).status_code == 201
    started = time.monotonic()
    while httpx.get(f"{second.url}/v1/tags/local::cluster-made").status_code != 200:
        assert time.monotonic() - started < FOLLOW_SECONDS, "the other replica never saw the new tag"
        time.sleep(0.05)
    feedback = {"text": text + " cluster marker", "content_id": "fb-cluster", "accept": ["local::cluster-made"]}
    assert httpx.post(f"{first.url}/v1/feedback", json=feedback, headers=KEY, timeout=30).status_code == 200
    started = time.monotonic()
    while True:
        candidates = _tag(second.url, text + " cluster marker")["candidates"]
        neighbours = {content for candidate in candidates for content, _ in candidate["neighbours"]}
        if "fb-cluster" in neighbours:
            break
        assert time.monotonic() - started < FOLLOW_SECONDS, "the other replica never recalled the feedback"
        time.sleep(0.1)


def _send_feedback(url: str, stop: threading.Event, acknowledged: list, refused: list, worker: int) -> None:
    with httpx.Client(timeout=60) as client:
        n = 0
        while not stop.is_set():
            content = f"load-{worker}-{n}"
            body = {"text": f"a packet filter tool number {n} of worker {worker}", "content_id": content,
                    "accept": ["network::firewall"]}  # fmt: skip
            try:
                answer = client.post(f"{url}/v1/feedback", json=body, headers=KEY)
            except httpx.HTTPError:
                refused.append(content)
            else:
                (acknowledged if answer.status_code == 200 else refused).append(content)
            n += 1


def _load(url: str, seconds: float, during=None, clients: int = 16) -> tuple[list, list]:
    stop, acknowledged, refused = threading.Event(), [], []
    workers = [
        threading.Thread(target=_send_feedback, args=(url, stop, acknowledged, refused, i)) for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    if during is not None:
        during()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join(120)
    return acknowledged, refused


def _converged(cluster, text: str, seconds: float = 120) -> None:
    """Both replicas answer alike once the refits the load set off are done and saved (whoever made them)."""
    deadline = time.monotonic() + seconds
    while True:
        answers = [_tag(r.url, text)["tags"] for r in cluster.replicas]
        refitting = [httpx.get(f"{r.url}/readyz").json().get("refitting") for r in cluster.replicas]
        if answers[0] == answers[1] and not any(refitting):
            return
        assert time.monotonic() < deadline, f"the replicas still answer differently: {refitting}"
        time.sleep(1)


def _stored(store_url: str, ids: list[str]) -> set[str]:
    with PostgresStore(store_url) as store:
        return {d.id for d in store.get_contents(ids) if "network::firewall" in d.tags}


def test_a_replica_killed_under_load_loses_no_acknowledged_write_and_rejoins(cluster):
    first, second = cluster.replicas

    def kill_one() -> None:
        time.sleep(5)
        first.kill()  # kill -9, mid-load

    acknowledged, _ = _load(cluster.balancer.url, 30, during=threading.Thread(target=kill_one).start)
    assert len(acknowledged) > 50
    assert _stored(cluster.store_url, acknowledged) == set(acknowledged)  # every 200 is on the server
    first.start()  # rejoins from its directory and the store
    _converged(cluster, debtags_slice("test", 2)[1]["text"])


def test_a_database_restart_under_load_costs_503s_not_data_nor_a_replica_restart(cluster):
    def restart_database() -> None:
        time.sleep(3)
        cluster.postgres.stop()
        time.sleep(4)
        cluster.postgres.restart(first=True)

    acknowledged, refused = _load(
        cluster.balancer.url, 18, during=lambda: threading.Thread(target=restart_database).start()
    )
    assert refused, "the database was down for 4 s: some writes must have been refused"
    assert _stored(cluster.store_url, acknowledged) == set(acknowledged)
    recovered = [c for c in acknowledged if int(c.rsplit("-", 1)[1]) > 0]
    assert recovered and all(r.process.poll() is None for r in cluster.replicas)  # no replica restarted
    _converged(cluster, debtags_slice("test", 1)[0]["text"])
