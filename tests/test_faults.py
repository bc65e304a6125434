"""Fault injection: a misbehaving LLM endpoint, a hung backend, a stopped server, damaged store and derived files.

Every case must end in a clear error or a labelled fallback, never a traceback or a silent wrong answer.
The endpoint is a scripted OpenAI-compatible server (tests/fake_openai_server.py); the embedder is the
hashing fake, because these tests are about faults, not about embeddings. docs/reliability.md lists each case.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project, start_server
from tests.fake_openai_server import FakeServer
from tests.fakes import FakeLLM

from llm4tag.cli import main
from llm4tag.config import ProjectConfig, ServiceConfig
from llm4tag.errors import BackendError, ConfigError, ProjectError
from llm4tag.llm import ChatRequest, create_llm
from llm4tag.llm.base import parse_openai_logprobs
from llm4tag.project import Project
from llm4tag.service import create_app

ROOT = Path(__file__).resolve().parents[1]
TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."
JUDGE_REQUEST = ChatRequest(messages=[{"role": "user", "content": "yes or no?"}], max_tokens=1, top_logprobs=5)


@pytest.fixture(scope="module")
def endpoint():
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A recall-only debtags project, built once; tests that damage it work on a copy."""
    return debtags_project(tmp_path_factory.mktemp("faults") / "p", train=200)


@pytest.fixture
def project_copy(built, tmp_path):
    return Path(shutil.copytree(built, tmp_path / "copy"))


def llm_for(endpoint, model: str, **options):
    return create_llm("openai", model=model, base_url=endpoint.base_url, api_key="k", backoff_seconds=0.01, **options)


def with_llm(directory: Path, endpoint, model: str, **options) -> None:
    """Point a project at the scripted endpoint, judging candidates (so tagging calls the LLM)."""
    config = ProjectConfig.load(directory)
    config.llm.backend = "openai"
    config.llm.options = {"model": model, "base_url": endpoint.base_url, "api_key": "k", **options}
    config.pipeline.judge = "candidates"
    config.pipeline.use_llm = "always"  # these tests are about the LLM: it runs without a measured decision
    config.save(directory)


# -- the LLM endpoint ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["null-logprobs", "missing-logprob", "no-logprobs"])
def test_missing_or_null_logprobs_are_a_clear_error_or_a_labelled_fallback(endpoint, project_copy, model):
    result = llm_for(endpoint, model).chat(JUDGE_REQUEST)
    assert result.logprobs == []  # never a TypeError on a null
    with_llm(project_copy, endpoint, model)
    with Project.open(project_copy) as project, pytest.raises(BackendError, match="no usable log-probabilities"):
        project.tag([TEXT])
    config = ProjectConfig.load(project_copy)
    config.confidence.allow_fallback = True
    config.save(project_copy)
    with Project.open(project_copy) as project:
        [tagged] = project.tag([TEXT])
    judged = tagged.scored.p_yes[~np.isnan(tagged.scored.p_yes)]
    assert len(judged) and set(judged) <= {0.9, 0.1}  # read from the answer text, and labelled as such


def test_logprob_parser_drops_what_it_cannot_read():
    parsed = parse_openai_logprobs(
        [
            {"token": "Yes", "logprob": None, "top_logprobs": [{"token": "No", "logprob": -1.0}, {"token": "Yes"}]},
            {"token": None, "logprob": -0.5},
            "junk",
        ]
    )
    assert len(parsed) == 1 and parsed[0].top == {"No": -1.0}


def test_cli_tag_with_null_logprobs_is_one_line(endpoint, project_copy, capsys):
    with_llm(project_copy, endpoint, "null-logprobs")
    config = ProjectConfig.load(project_copy)
    config.generation.enabled = False
    config.save(project_copy)
    assert main(["tag", "-p", str(project_copy), "--text", TEXT, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm4tag: error:") and "log-probabilities" in err and "Traceback" not in err


def test_hung_endpoint_costs_one_call_its_deadline_not_minutes(endpoint):
    llm = llm_for(endpoint, "hang", timeout=30.0, max_retries=3, deadline_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(BackendError, match="deadline|failed after"):
        llm.chat(JUDGE_REQUEST)
    assert time.monotonic() - started < 5


def test_500s_and_malformed_json_end_in_one_clear_error(endpoint):
    for model in ("always-500", "malformed"):
        with pytest.raises(BackendError) as caught:
            llm_for(endpoint, model, max_retries=2).chat(JUDGE_REQUEST)
        assert "after 3 attempt(s)" in str(caught.value)


# -- the service while the LLM hangs -----------------------------------------------------------------------
def test_service_answers_503_while_the_llm_hangs_and_keeps_serving_the_rest(endpoint, project_copy):
    llm = llm_for(endpoint, "hang", timeout=60.0, deadline_seconds=60.0)
    config = ServiceConfig(llm_deadline_seconds=1.0, retry_after_seconds=7)
    with Project.open(project_copy, llm=llm) as project:
        project.config.pipeline.judge = "candidates"
        project.config.pipeline.use_llm = "always"
        project.config.generation.enabled = False
        with TestClient(create_app(project, config), base_url=LOOPBACK) as client:
            assert client.get("/readyz").status_code == 200
            started = time.monotonic()
            hung = client.post("/v1/tag", json={"text": TEXT})
            assert hung.status_code == 503 and hung.headers["retry-after"] == "7"
            assert time.monotonic() - started < 5 and "deadline" in hung.json()["detail"]
            # meanwhile: feedback is stored, recall-only tagging answers, readiness says why not
            saved = client.post("/v1/feedback", json={"text": TEXT, "content_id": "fb", "add": ["use::monitor"]})
            assert saved.status_code == 200 and project.store.get_contents(["fb"])[0].tags == ["use::monitor"]
            quick = client.post("/v1/tag", json={"text": TEXT, "llm": False})
            assert quick.status_code == 200 and quick.json()["tags"]
            assert all(t["source"] == "recall" for t in quick.json()["tags"])
            time.sleep(1.1)
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "LLM backend" in ready.json()["reason"]
            started = time.monotonic()
            again = client.post("/v1/projects/debtags-test/suggest", data={"text": TEXT})
            assert again.status_code == 503 and time.monotonic() - started < 0.5  # refused at once, not queued
            assert again.headers["content-type"].startswith("application/problem+json")


def test_a_slow_llm_that_makes_progress_is_not_cut_off(project_copy):
    config = ServiceConfig(llm_deadline_seconds=1.0)
    with Project.open(project_copy, llm=FakeLLM(p_yes=0.9, delay=0.3, name="slow-but-working")) as project:
        project.config.pipeline.judge = "candidates"
        project.config.pipeline.use_llm = "always"
        project.config.confidence.cache = False
        project.config.generation.enabled = False
        with TestClient(create_app(project, config), base_url=LOOPBACK) as client:
            started = time.monotonic()
            response = client.post("/v1/tag", json={"text": TEXT})
            assert response.status_code == 200 and time.monotonic() - started > 2.0  # 8 judgements, 0.3 s each
            assert any(t["source"] == "judge" for t in response.json()["tags"]) or response.json()["tags"] == []
            assert client.get("/readyz").status_code == 200


def test_sigterm_stops_the_server_within_seconds_while_the_llm_hangs(endpoint, project_copy):
    with_llm(project_copy, endpoint, "hang", timeout=120.0, deadline_seconds=600.0)
    config = ProjectConfig.load(project_copy)
    config.generation.enabled = False
    config.service.llm_deadline_seconds = 300.0
    config.save(project_copy)
    process, url = start_server(project_copy)
    try:
        stuck = threading.Thread(target=lambda: httpx.post(f"{url}/v1/tag", json={"text": TEXT}, timeout=30))
        stuck.daemon = True
        stuck.start()
        time.sleep(1.0)  # the request is now inside the hung backend
        assert httpx.post(f"{url}/v1/tag", json={"text": TEXT, "llm": False}, timeout=10).status_code == 200
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        assert time.monotonic() - started < 12
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- keys and limits -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_an_empty_api_key_is_refused_not_a_key_that_opens_writes(built, host):
    with Project.open(built) as project:
        for keys in ([""], ["  "], ["good", ""]):
            with pytest.raises(ConfigError, match="empty"):
                create_app(project, ServiceConfig(host=host, api_keys=keys))


def test_review_queue_needs_the_key_and_anonymous_tagging_writes_nothing(project_copy):
    config = ServiceConfig(api_keys=["s3cret"], review_below=1.01)
    key = {"X-API-Key": "s3cret"}
    with Project.open(project_copy) as project, TestClient(create_app(project, config), base_url=LOOPBACK) as client:
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
        assert project.store.pending_reviews() == []
        assert client.get("/v1/review").status_code == 401
        assert client.post("/v1/tag", json={"text": TEXT, "id": "mine"}, headers=key).status_code == 200
        items = client.get("/v1/review", headers=key).json()["items"]
        assert items and {i["content_id"] for i in items} == {"mine"}


def test_chunked_body_over_the_limit_is_413_and_feedback_has_tagging_limits(project_copy):
    config = ServiceConfig(max_request_bytes=2000, max_text_chars=300)
    with Project.open(project_copy) as project, TestClient(create_app(project, config), base_url=LOOPBACK) as client:

        def chunks():
            yield b'{"text": "'
            for _ in range(50):
                yield b"x" * 100
            yield b'"}'

        response = client.post("/v1/tag", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413 and "too large" in response.json()["detail"]
        blank = client.post("/v1/feedback", json={"text": "   ", "add": ["use::monitor"]})
        assert blank.status_code == 400 and "empty" in blank.json()["detail"]
        long = client.post("/v1/feedback", json={"text": "word " * 100, "add": ["use::monitor"]})
        assert long.status_code == 413 and "300 characters" in long.json()["detail"]
        assert project.store.knowledge(["example"]) == []


# -- store and derived files -------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["delete", "empty"])
def test_a_missing_or_emptied_store_is_an_error_and_the_graph_is_left_alone(project_copy, damage, capsys):
    store = project_copy / "store.sqlite"
    graph_files = {p.name: p.read_bytes() for p in (project_copy / "graph").rglob("*") if p.is_file()}
    for extra in project_copy.glob("store.sqlite-*"):
        extra.unlink()
    if damage == "delete":
        store.unlink()
    else:
        store.write_bytes(b"")
    assert main(["recall", "-p", str(project_copy), "--text", TEXT]) == 2
    err = capsys.readouterr().err
    assert "store.sqlite" in err and ("missing" in err or "empty" in err) and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (project_copy / "graph").rglob("*") if p.is_file()} == graph_files
    assert not store.exists() or store.stat().st_size == 0  # not silently recreated


def _checkpoint(directory: Path) -> None:
    connection = sqlite3.connect(directory / "store.sqlite")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def test_a_store_that_is_not_sqlite_is_one_clear_line(project_copy, capsys):
    _checkpoint(project_copy)
    (project_copy / "store.sqlite").write_bytes(os.urandom(8192))
    assert main(["recall", "-p", str(project_copy), "--text", TEXT]) == 2
    err = capsys.readouterr().err
    assert "damaged or not an llm4tag store" in err and "Traceback" not in err


def test_corruption_in_the_middle_of_the_store_is_found_on_open(project_copy, capsys):
    _checkpoint(project_copy)
    path = project_copy / "store.sqlite"
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle + 8 : middle + page] = os.urandom(page - 8)  # keep the page header's type byte region noisy too
    data[middle] = 0x0D  # a leaf table page with garbage cells
    path.write_bytes(bytes(data))
    assert main(["tag", "-p", str(project_copy), "--text", TEXT, "-q"]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "Traceback" not in err


def _recall_ids(directory: Path) -> list[str]:
    with Project.open(directory) as project:
        return [c.tag_id for c in project.recall([TEXT])[0].candidates]


@pytest.mark.parametrize("damage", ["truncate", "shuffle", "shuffle-and-restamp", "wrong-shape", "delete"])
def test_damaged_graph_files_are_rebuilt_from_the_store(built, project_copy, damage, caplog):
    expected = _recall_ids(built)
    vectors = project_copy / "graph" / "content_vectors.npy"
    state_path = project_copy / "graph" / "state.json"
    if damage == "truncate":
        vectors.write_bytes(vectors.read_bytes()[:1000])
    elif damage == "delete":
        vectors.unlink()
    else:
        array = np.load(vectors)
        shuffled = np.random.default_rng(0).permutation(len(array))
        array = array[:, :10] if damage == "wrong-shape" else array[shuffled]
        np.save(vectors, array)
        if damage == "shuffle-and-restamp":  # even with a state.json that vouches for the shuffled file
            from llm4tag.fileio import sha256_of

            state = json.loads(state_path.read_text())
            state["sha256"]["content_vectors.npy"] = sha256_of(vectors)
            state_path.write_text(json.dumps(state))
    with caplog.at_level("WARNING"):
        assert _recall_ids(project_copy) == expected
    assert "rebuilding them from the store" in caplog.text
    state = json.loads(state_path.read_text())
    from llm4tag.fileio import sha256_of

    assert state["sha256"]["content_vectors.npy"] == sha256_of(vectors)  # rewritten, consistent again


def test_a_corrupt_calibrator_is_a_clear_error(project_copy, capsys):
    dev = project_copy.parent / "dev.jsonl"
    from tests.conftest import debtags_slice, write_jsonl

    write_jsonl(dev, debtags_slice("dev", 60))
    assert main(["calibrate", "-p", str(project_copy), str(dev), "-q"]) == 0
    capsys.readouterr()
    (project_copy / "calibration" / "recall.pkl").write_bytes(b"\x80\x04garbage")
    assert main(["recall", "-p", str(project_copy), "--text", TEXT]) == 0  # recall does not need it
    assert main(["tag", "-p", str(project_copy), "--text", TEXT, "-q"]) == 2
    err = capsys.readouterr().err
    assert "recall.pkl" in err and "calibrate" in err and "Traceback" not in err


def test_schema_from_a_newer_llm4tag_is_refused(project_copy):
    connection = sqlite3.connect(project_copy / "store.sqlite")
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    with pytest.raises(ProjectError, match="schema version '99'"):
        Project.open(project_copy)


def test_store_damage_while_serving_is_a_clear_500_not_a_traceback(project_copy):
    with (
        Project.open(project_copy) as project,
        TestClient(create_app(project, ServiceConfig()), base_url=LOOPBACK) as client,
    ):
        other = sqlite3.connect(project_copy / "store.sqlite")
        other.execute("DROP TABLE knowledge")  # the store changes under the running service
        other.commit()
        other.close()
        response = client.post("/v1/feedback", json={"text": TEXT, "add": ["use::monitor"]})
        assert response.status_code == 500 and "damaged or not an llm4tag store" in response.json()["detail"]
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200  # reads still work


def test_healthy_graph_files_are_loaded_not_rebuilt(project_copy, caplog):
    before = {p.name: p.stat().st_mtime_ns for p in (project_copy / "graph").iterdir()}
    with caplog.at_level("WARNING"):
        _recall_ids(project_copy)
    assert "rebuilding" not in caplog.text
    after = {p.name: p.stat().st_mtime_ns for p in (project_copy / "graph").iterdir()}
    assert {name: after[name] for name in before} == before  # nothing rewritten (a lazily fitted model may join)


def test_worker_processes_of_a_killed_fit_end_with_it(tmp_path):
    """A learned path's fit in joblib's worker processes, its parent killed outright: the workers end too."""
    script = (
        "from tests.conftest import debtags_slice\n"
        "from llm4tag.recall.learned.supervised import SupervisedPath\n"
        "rows = debtags_slice('train', 3000)\n"
        "SupervisedPath(n_jobs=2).fit([r['text'] for r in rows] * 3, [r['tags'] for r in rows] * 3)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)

    def children() -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]

    deadline = time.time() + 120
    while time.time() < deadline and len(children()) < 2 and parent.poll() is None:
        time.sleep(0.1)
    workers = children()
    assert parent.poll() is None and workers, "the fit never started its worker processes"
    parent.kill()
    parent.wait()

    def running(pid: int) -> bool:  # a zombie has ended; reaping it is init's work, not ours
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.time() + 30
    while time.time() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.2)
    alive = [pid for pid in workers if running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"worker processes {alive} outlived their killed parent"
