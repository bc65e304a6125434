"""The HTTP service: own API, Annif-compatible API, keys and limits, feedback durability, batching.

The recall stage and the store are real; the embedder is the test's hashing fake and the LLM is off
(or a fake that fails, for the 503 path), because these tests are about the service.
"""

import asyncio
import gc
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project, start_server
from tests.fakes import FakeLLM
from threadpoolctl import threadpool_info, threadpool_limits

from llm4tag.config import ServiceConfig
from llm4tag.corpus.documents import Document, text_hash
from llm4tag.errors import ConfigError
from llm4tag.project import Project
from llm4tag.service import create_app
from llm4tag.service.lanes import PipelineLanes
from llm4tag.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("svc") / "p")


@pytest.fixture
def client(project_dir):
    with Project.open(project_dir) as project, TestClient(create_app(project), base_url=LOOPBACK) as test_client:
        test_client.project = project
        yield test_client


TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."


def test_tag_one_and_a_batch(client):
    response = client.post("/v1/tag", json={"text": TEXT, "id": "doc-1", "candidates": True})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "doc-1" and body["tags"]
    library = client.project.library
    for tag in body["tags"]:
        assert tag["tag_id"] in library and 0.0 <= tag["score"] <= 1.0 and tag["source"] == "recall"
    assert [t["score"] for t in body["tags"]] == sorted((t["score"] for t in body["tags"]), reverse=True)
    candidate = body["candidates"][0]
    assert {"tag_id", "label", "paths", "neighbours", "confidence"} <= set(candidate)
    batch = client.post("/v1/tag-batch", json={"documents": [{"text": TEXT, "id": "a"}, {"text": "chess game"}]})
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["id"] for r in results][0] == "a" and len(results) == 2


def test_bad_input_gets_clear_4xx(project_dir):
    config = ServiceConfig(max_request_bytes=2000, max_batch=4, max_text_chars=500)
    with Project.open(project_dir) as project, TestClient(create_app(project, config), base_url=LOOPBACK) as client:
        assert client.post("/v1/tag", json={"text": ""}).status_code == 422
        assert (
            client.post("/v1/tag", content=b"{not json", headers={"content-type": "application/json"}).status_code
            == 422
        )
        too_many = client.post("/v1/tag-batch", json={"documents": [{"text": "x y"}] * 5})
        assert too_many.status_code == 413 and "at most 4" in too_many.json()["detail"]
        long_text = client.post("/v1/tag", json={"text": "word " * 150})
        assert long_text.status_code == 413 and "500 characters" in long_text.json()["detail"]
        huge = client.post("/v1/tag", json={"text": "x" * 5000})
        assert huge.status_code == 413 and "too large" in huge.json()["detail"]
        unknown = client.post("/v1/feedback", json={"text": TEXT, "accept": ["no::such-tag"]})
        assert unknown.status_code == 422 and "no::such-tag" in unknown.json()["detail"]
        assert client.get("/v1/tags", params={"offset": -5}).status_code == 422  # not a slice from the end


def test_annif_compatible_endpoints_follow_annifs_shapes(client):
    projects = client.get("/v1/projects").json()
    [project] = projects["projects"]
    assert {"project_id", "name", "language", "backend"} <= set(project)  # required in Annif's Project schema
    assert project["backend"]["backend_id"] and project["project_id"] == "debtags-test"
    assert client.get("/v1/projects/debtags-test").json()["project_id"] == "debtags-test"

    # suggest: form-encoded text, limit, threshold (Annif's request body)
    response = client.post("/v1/projects/debtags-test/suggest", data={"text": TEXT, "limit": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert 0 < len(results) <= 3
    for result in results:
        assert {"uri", "label", "score"} <= set(result) and "notation" in result  # SuggestionResult
        assert result["uri"] in client.project.library
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    cut = results[0]["score"]
    strict = client.post("/v1/projects/debtags-test/suggest", data={"text": TEXT, "threshold": cut}).json()
    assert all(r["score"] >= cut for r in strict["results"])

    # suggest-batch: JSON documents, limit/threshold in the query; a list of results with document_id
    batch = client.post(
        "/v1/projects/debtags-test/suggest-batch?limit=2",
        json={"documents": [{"text": TEXT, "document_id": "d1"}, {"text": "music player", "document_id": "d2"}]},
    )
    assert batch.status_code == 200
    items = batch.json()
    assert [i["document_id"] for i in items] == ["d1", "d2"]
    assert all(len(i["results"]) <= 2 for i in items)

    missing = client.post("/v1/projects/nope/suggest", data={"text": TEXT})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["status"] == 404
    too_many = client.post("/v1/projects/debtags-test/suggest-batch", json={"documents": [{"text": "x"}] * 33})
    assert too_many.status_code in (413, 422)

    # learn: IndexedDocument list -> 204; the document joins the project's annotated contents
    tag = results[0]["uri"]
    learned = client.post(
        "/v1/projects/debtags-test/learn", json=[{"text": "a learned text", "subjects": [{"uri": tag}]}]
    )
    assert learned.status_code == 204
    stored = [d for d in client.project.store.get_contents([r[1] for r in client.project.store.content_rows()])]
    assert any(d.text == "a learned text" and d.tags == [tag] for d in stored)


def test_write_endpoints_need_an_api_key(project_dir):
    config = ServiceConfig(api_keys=["s3cret"])
    with Project.open(project_dir) as project, TestClient(create_app(project, config), base_url=LOOPBACK) as client:
        feedback = {"text": TEXT, "add": ["use::monitor"]}
        assert client.post("/v1/feedback", json=feedback).status_code == 401
        assert client.post("/v1/feedback", json=feedback, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.post("/v1/feedback", json=feedback, headers={"X-API-Key": "s3cret"}).status_code == 200
        ok = client.post("/v1/feedback", json=feedback, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200  # reading needs no key
        assert client.post("/v1/tags", json={"id": "x::y", "label": "Y"}).status_code == 401
    with Project.open(project_dir) as project, pytest.raises(ConfigError, match="API keys"):
        create_app(project, ServiceConfig(host="0.0.0.0"))


def test_feedback_review_queue_and_tag_library(project_dir, tmp_path):
    directory = debtags_project(tmp_path / "p2", review_below=1.01)  # every served tag goes to review
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        served = client.post("/v1/tag", json={"text": TEXT, "id": "doc-7"}).json()
        queue = client.get("/v1/review").json()["items"]
        assert {i["tag_id"] for i in queue} == {t["tag_id"] for t in served["tags"]}
        wrong = served["tags"][0]["tag_id"]
        saved = client.post("/v1/feedback", json={"text": TEXT, "content_id": "doc-7", "reject": [wrong]})
        assert saved.status_code == 200 and saved.json()["kind"] == "correction"
        [item] = [k for k in project.store.knowledge(["correction"]) if k.content_id == "doc-7"]
        assert item.rejected == [wrong]
        remaining = client.get("/v1/review").json()["items"]
        assert wrong not in {i["tag_id"] for i in remaining} and len(remaining) == len(queue) - 1

        added = client.post("/v1/tags", json={"id": "team::zephyr", "label": "Zephyr", "description": "the team"})
        assert added.status_code == 201
        assert client.get("/v1/tags/team::zephyr").json()["label"] == "Zephyr"
        assert client.get("/v1/tags", params={"q": "zephyr"}).json()["total"] == 1
        assert client.post("/v1/tags/team::zephyr/deprecate").status_code == 200
        assert client.get("/v1/tags/team::zephyr").json()["deprecated"] is True
        assert client.post("/v1/tags/none::such/deprecate").status_code == 404


def test_tagging_traffic_grows_neither_the_store_nor_the_review_queue(tmp_path):
    directory = debtags_project(tmp_path / "p", review_below=1.01, review_limit=5)  # every served tag: review
    texts = [f"{TEXT} Variant {i}: it also rotates log file number {i}." for i in range(8)]
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        store, embedder = project.store, project.embedder

        def vectors() -> int:
            with sqlite3.connect(directory / "store.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]

        before = vectors()
        served = []  # (content, tag) in the order they were queued
        for text in texts:
            body = client.post("/v1/tag", json={"text": text}).json()
            served += [(body["id"], t["tag_id"]) for t in body["tags"]]
        assert vectors() == before  # a tagged text's vector is not stored...
        encoded = embedder.embedder.encoded_texts
        assert client.post("/v1/tag", json={"text": texts[-1]}).status_code == 200
        assert embedder.embedder.encoded_texts == encoded  # ...but kept in memory: not encoded twice
        queue = client.get("/v1/review", params={"limit": 500}).json()["items"]
        # the newest 5 pending items, whatever the traffic; the text tagged twice is queued once
        assert len(served) > 5 and [(i["content_id"], i["tag_id"]) for i in queue] == served[::-1][:5]

        judge_llm = FakeLLM(p_yes=0.8, name="counting-yes")
        with Project.open(directory, llm=judge_llm) as judged:  # the LLM's judgements: in memory too
            judged.config.pipeline.judge, judged.config.pipeline.use_llm = "candidates", "always"
            with TestClient(create_app(judged), base_url=LOOPBACK) as llm_client:
                assert llm_client.post("/v1/tag", json={"text": texts[1]}).status_code == 200
                calls = judge_llm.calls
                assert calls > 0 and llm_client.post("/v1/tag", json={"text": texts[1]}).status_code == 200
                assert judge_llm.calls == calls  # the second time, every judgement came from memory
            with sqlite3.connect(directory / "store.sqlite") as db:
                assert db.execute("SELECT COUNT(*) FROM judgements").fetchone()[0] == 0

        learned = client.post("/v1/feedback", json={"text": texts[0], "add": ["use::monitor"]})
        assert learned.status_code == 200
        client.post("/v1/tag", json={"text": TEXT})  # the graph takes the learned content in
        assert store.cached_vectors(embedder.embedder.name, [text_hash(texts[0])])  # a learned content's is stored


def test_llm_backend_down_gives_503_with_retry_after(project_dir):
    with Project.open(
        project_dir, llm=FakeLLM(fail="timeout", name="down", max_retries=1, backoff_seconds=0.0)
    ) as project:
        project.config.pipeline.judge = "candidates"
        project.config.pipeline.use_llm = "always"
        with TestClient(create_app(project), base_url=LOOPBACK) as client:
            response = client.post("/v1/tag", json={"text": TEXT})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "30" and "LLM backend" in response.json()["detail"]
            annif = client.post("/v1/projects/debtags-test/suggest", data={"text": TEXT})
            assert annif.status_code == 503 and annif.json()["title"] == "Service Unavailable"
            metrics = client.get("/metrics").text
            assert 'llm4tag_errors_total{kind="llm_backend"} 2.0' in metrics
            assert client.get("/healthz").json()["status"] == "ok"


def test_the_loaded_project_is_left_out_of_full_garbage_collections(project_dir):
    # a full collection walking the loaded project stalls every request in flight; the service freezes what
    # it loaded once it is ready, and lets it go again when it stops
    assert gc.get_freeze_count() == 0
    with Project.open(project_dir) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        assert client.get("/readyz").status_code == 200
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
    assert gc.get_freeze_count() == 0


def test_metrics_and_readiness(client):
    assert client.get("/readyz").json() == {"status": "ready"}
    client.post("/v1/tag", json={"text": TEXT})
    metrics = client.get("/metrics").text
    assert 'llm4tag_requests_total{endpoint="/v1/tag",status="200"}' in metrics
    assert "llm4tag_request_latency_seconds_bucket" in metrics and "llm4tag_contents_tagged_total" in metrics
    assert (
        client.get("/docs").status_code == 200
        and "/v1/projects/{project_id}/suggest" in client.get("/openapi.json").text
    )


def test_killed_server_loses_no_acknowledged_feedback(tmp_path):
    directory = debtags_project(tmp_path / "p")
    process, url = start_server(directory)
    acknowledged = []
    try:
        for i in range(15):
            response = httpx.post(
                f"{url}/v1/feedback", json={"text": f"{TEXT} {i}", "content_id": f"fb-{i}", "add": ["use::monitor"]}
            )
            assert response.status_code == 200
            acknowledged.append(f"fb-{i}")
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no shutdown, no flush
        process.wait()
    store = SQLiteStore(directory / "store.sqlite")
    stored = {k.content_id for k in store.knowledge(["example"])}
    assert set(acknowledged) <= stored
    assert {d.id for d in store.get_contents(acknowledged)} == set(acknowledged)
    store.close()


def test_concurrent_requests_share_pipeline_batches(tmp_path):
    directory = debtags_project(tmp_path / "p", batch_window_ms=50.0)
    process, url = start_server(directory)

    async def load() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as http:
            responses = await asyncio.gather(
                *(http.post(f"{url}/v1/tag", json={"text": f"{TEXT} request {i}"}) for i in range(16))
            )
            return [r.status_code for r in responses]

    try:
        assert asyncio.run(load()) == [200] * 16
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        process.terminate()
        process.wait()
    batches = next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("llm4tag_pipeline_batches_total")
    )
    assert 1 <= batches < 16


def test_the_service_fsyncs_every_acknowledged_write(project_dir):
    with Project.open(project_dir) as project:
        assert not project.store.durable  # the CLI and the Python API: a killed process loses nothing already
        with TestClient(create_app(project), base_url=LOOPBACK) as client:
            assert project.store.durable  # the service: not even a power cut loses acknowledged feedback
            saved = client.post("/v1/feedback", json={"text": TEXT, "add": ["use::monitor"]})
            assert saved.status_code == 200


class _RecordingPipeline:
    """Stands in for the pipeline: records the native thread pools' sizes inside the batch it runs."""

    def __init__(self) -> None:
        self.pools: list[dict[str, int]] = []

    def run(self, docs, batch_size):
        self.pools.append({info["filepath"]: info["num_threads"] for info in threadpool_info()})
        return [None] * len(docs)


@pytest.mark.parametrize("compute_threads", [1, 0])
def test_service_batches_run_with_capped_native_thread_pools(compute_threads):
    """Also after a small search ran in this thread first (a recall before the service started does): OpenBLAS
    then ignores a count set from any other thread, so the cap must be set from this one too."""
    import numpy as np

    from llm4tag.index.dense import one_blas_thread

    with one_blas_thread:
        np.ones((4, 4)) @ np.ones((4, 4))
    pipeline = _RecordingPipeline()
    before = {info["filepath"]: info["num_threads"] for info in threadpool_info()}
    if max(before.values(), default=1) == 1:
        pytest.skip("one core: every pool already has one thread, so a cap cannot be told apart")
    worker = PipelineLanes(lambda llm: pipeline, llm=None, compute_threads=compute_threads)

    async def tag_twice() -> None:
        await worker.start()
        try:
            for llm in (False, True):
                await worker.tag([Document("d", TEXT)], llm=llm)
        finally:
            await worker.stop()

    try:
        asyncio.run(tag_twice())
    finally:
        threadpool_limits(limits=max(before.values()))  # BLAS limits are process-wide: leave them as found
    assert len(pipeline.pools) == 2 and all(pools.keys() == before.keys() for pools in pipeline.pools)
    for pools in pipeline.pools:  # both lanes, recall-only and LLM
        assert pools == ({path: 1 for path in before} if compute_threads else before)


class _TimedPipeline:
    """Stands in for the pipeline: records when each batch ran and how many contents it had."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches: list[tuple[float, float, int]] = []

    def run(self, docs, batch_size):
        started = time.monotonic()
        time.sleep(self.seconds)
        self.batches.append((started, time.monotonic(), len(docs)))
        return [None] * len(docs)


def test_requests_queued_behind_a_busy_batch_start_without_the_gathering_window():
    pipeline = _TimedPipeline(seconds=0.2)
    window = 1.2  # long beside the batches: a lane that waited it cannot be mistaken for one that did not
    worker = PipelineLanes(lambda llm: pipeline, llm=None, max_batch=4, window_seconds=window)
    docs = [[Document(str(i), TEXT)] for i in range(8)]

    async def load() -> None:
        await worker.start()
        try:
            first = [asyncio.create_task(worker.tag(d, llm=False)) for d in docs[:4]]  # a full batch: runs at once
            await asyncio.sleep(0.05)
            queued = [asyncio.create_task(worker.tag(d, llm=False)) for d in docs[4:6]]  # wait behind it
            await asyncio.gather(*first, *queued)
            # an idle lane still waits the window for companions: two requests 50 ms apart share a batch
            alone = asyncio.create_task(worker.tag(docs[6], llm=False))
            await asyncio.sleep(0.05)
            await asyncio.gather(alone, worker.tag(docs[7], llm=False))
        finally:
            await worker.stop()

    asyncio.run(load())
    assert [size for _, _, size in pipeline.batches] == [4, 2, 2]
    (_, first_end, _), (second_start, _, _) = pipeline.batches[:2]
    assert second_start - first_end < window / 3


def test_several_workers_serve_one_port_and_see_each_others_writes(tmp_path):
    """``serve --workers 2``: two processes answer on the port; feedback stored through one is used by both
    from the next request, and /metrics counts the requests of both."""
    directory = debtags_project(tmp_path / "p")
    process, url = start_server(directory, "--workers", "2")

    def fresh(method: str, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(timeout=60) as http:  # a new connection each time: the kernel picks the worker
            return http.request(method, f"{url}{path}", **kwargs)

    try:
        workers, deadline = set(), time.time() + 120
        while len(workers) < 2 and time.time() < deadline:
            workers.add(fresh("GET", "/healthz").json()["pid"])
        assert len(workers) == 2 and process.pid not in workers

        async def burst() -> list[int]:  # 16 keep-alive connections opened at once, as a client pool does
            clients = [httpx.AsyncClient(timeout=60) for _ in range(16)]
            try:
                answers = await asyncio.gather(*(c.get(f"{url}/healthz") for c in clients))
                return [a.json()["pid"] for a in answers]
            finally:
                for c in clients:
                    await c.aclose()

        assert set(asyncio.run(burst())) == workers  # spread over both, not all taken by the first to accept
        text = "zither tuning lessons, zither strings and zither sheet music"
        before = fresh("POST", "/v1/tag", json={"text": text}).json()
        assert "use::learning" not in {t["tag_id"] for t in before["tags"]}
        stored = fresh("POST", "/v1/feedback", json={"text": text, "content_id": "zither-1", "add": ["use::learning"]})
        assert stored.status_code == 200
        served = [fresh("POST", "/v1/tag", json={"text": text, "candidates": True}).json() for _ in range(30)]
        assert all("use::learning" in {c["tag_id"] for c in s["candidates"]} for s in served)
        metrics = fresh("GET", "/metrics").text
    finally:
        process.terminate()
        process.wait(60)
    tag_requests = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("llm4tag_requests_total") and 'endpoint="/v1/tag"' in line
    )
    assert tag_requests == 31


def test_workers_stop_when_their_supervisor_is_killed_outright(tmp_path):
    """SIGKILL leaves the supervisor no chance to stop its workers: each notices it is orphaned and stops, and
    the last one out removes the metrics directory the supervisor made in the temporary directory."""
    directory = debtags_project(tmp_path / "p")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process, url = start_server(directory, "--workers", "2", env={"TMPDIR": str(temporary)})
    assert [p.name[:16] for p in temporary.iterdir()] == ["llm4tag-metrics-"]
    seen, deadline = set(), time.time() + 120
    try:
        while len(seen) < 2 and time.time() < deadline:
            try:
                with httpx.Client(timeout=10) as http:  # a new connection each time: the kernel picks the worker
                    seen.add(http.get(f"{url}/healthz").json()["pid"])
            except httpx.HTTPError:
                time.sleep(0.1)
        assert len(seen) == 2
    finally:
        process.kill()
        process.wait(30)
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in seen):
        time.sleep(0.2)
    alive = [pid for pid in seen if _alive(pid)]
    for pid in alive:  # leave nothing behind, then fail
        os.kill(pid, signal.SIGKILL)
    assert not alive, "workers outlived their killed supervisor"
    assert list(temporary.iterdir()) == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a stopped worker not yet reaped by its new parent is a zombie: gone for this purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def test_a_worker_that_dies_is_replaced_and_stopping_the_service_stops_every_worker(tmp_path):
    directory = debtags_project(tmp_path / "p")
    process, url = start_server(directory, "--workers", "2")

    def pids(until: int, deadline_seconds: float = 120) -> set[int]:
        seen, deadline = set(), time.time() + deadline_seconds
        while len(seen) < until and time.time() < deadline:
            try:
                with httpx.Client(timeout=10) as http:  # a new connection each time: the kernel picks the worker
                    seen.add(http.get(f"{url}/healthz").json()["pid"])
            except httpx.HTTPError:
                time.sleep(0.1)
        return seen

    try:
        first = pids(2)
        assert len(first) == 2
        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        now = pids(2)  # the survivor answers at once; the replacement once its project is loaded
        assert len(now) == 2 and killed not in now and (first - {killed}) < now
        assert httpx.post(f"{url}/v1/tag", json={"text": TEXT}, timeout=60).status_code == 200
    finally:
        process.terminate()
        process.wait(60)
    for pid in now:
        with pytest.raises(ProcessLookupError):  # no worker outlives the service
            deadline = time.time() + 30
            while time.time() < deadline:
                os.kill(pid, 0)
                time.sleep(0.2)


def test_an_edit_refits_the_learned_paths_in_the_background_while_tagging_goes_on(tmp_path):
    from tests.conftest import debtags_slice

    directory = debtags_project(tmp_path / "p", train=2500)
    stored = debtags_slice("train", 1)[0]
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
        fitted = {name: stamp for name, (_, stamp) in project.recall_index.learned.fitted().items()}
        assert fitted, "the project has learned paths to refit"
        reject = {"text": stored["text"], "content_id": stored["id"], "reject": stored["tags"][:1]}
        assert client.post("/v1/feedback", json=reject).status_code == 200  # an edit: the store's revision moves
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200  # answered with the fitted paths
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["refitting"], "the request waited for the refit"
        gauge = [line for line in client.get("/metrics").text.splitlines() if line.startswith("llm4tag_refits_in")]
        assert gauge and float(gauge[0].split()[-1]) >= 1
        deadline = time.time() + 300
        while project.recall_index.refitting() and time.time() < deadline:
            assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
            time.sleep(0.5)
        assert not project.recall_index.refitting() and project.recall_index.refits_done >= len(fitted)
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
        revision = project.store.revision
        assert all(stamp.revision == revision for _, stamp in project.recall_index.learned.fitted().values())
        assert "refitting" not in client.get("/readyz").json()
