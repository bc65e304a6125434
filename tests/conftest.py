"""Shared fixtures. ``HashingEmbedder`` is a fake for tests about something other than embeddings."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from llm4tag.demo import SAMPLE_DATA, data_file
from llm4tag.embedding.base import Embedder, normalize_rows

#: the debtags sample shipped in the package (the full tag library and slices of each split)
DEBTAGS = SAMPLE_DATA
DEBTAGS_TAGS = DEBTAGS / "tags.jsonl.gz"
TEST_DATA = Path(__file__).resolve().parent / "data"
#: the base URL in-process test clients use: the service answers loopback names only unless told otherwise
LOOPBACK = "http://127.0.0.1"


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a GPU; the only tests that may skip under CI=true")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true`` a skipped test fails, saying why it would have skipped, unless it is marked ``gpu``:
    a CI run that skips has not tested what it claims."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped under CI=true, which allows no skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped at collection (``importorskip`` at its top) fails the same way under ``CI=true``."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped under CI=true, which allows no skip: {reason}"


class HashingEmbedder(Embedder):
    """Deterministic bag-of-words vectors: texts sharing words are similar. Counts its calls."""

    name = "test:hashing"
    dim = 64
    encoded_total = 0  # over every instance (projects make their own)

    def __init__(self) -> None:
        self.encoded_texts = 0

    def encode(self, texts, *, is_query=False, show_progress=False):
        self.encoded_texts += len(texts)
        HashingEmbedder.encoded_total += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return normalize_rows(out + 1e-6)


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


TINY_TAGS = [
    {"id": "net", "label": "Networking", "description": "network tools, packets and protocols"},
    {"id": "game", "label": "Games", "description": "games to play"},
    {"id": "chess", "label": "Chess", "aliases": ["checkmate"], "description": "the board game of chess"},
    {"id": "audio", "label": "Audio", "description": "sound and music"},
    {"id": "daemon", "label": "Daemon", "description": "a background service"},
]
TINY_CONTENTS = [
    {"id": "c1", "text": "packet sniffer that captures network traffic", "tags": ["net"]},
    {"id": "c2", "text": "network monitoring daemon for servers", "tags": ["net", "daemon"]},
    {"id": "c3", "text": "strategy board game against the computer with chess pieces", "tags": ["game", "chess"]},
    {"id": "c4", "text": "arcade shooter game with sound effects", "tags": ["game", "audio"]},
    {"id": "c5", "text": "music player for audio files", "tags": ["audio"]},
    {"id": "c6", "text": "chess tournament manager", "tags": ["chess", "game"]},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_files(tmp_path):
    return write_jsonl(tmp_path / "tags.jsonl", TINY_TAGS), write_jsonl(tmp_path / "contents.jsonl", TINY_CONTENTS)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``llm4tag ARGV`` in this process: its exit code, and what it wrote to stdout and stderr."""
    from llm4tag.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_project(tmp_path, tiny_files, hashing_embedder):
    """A project of the tiny tag library and contents with the test embedder, and a fake LLM no test here
    expects to be asked (``tests/fakes.py``: it fails if it is)."""
    from tests.fakes import FakeLLM

    from llm4tag.project import Project

    tags, contents = tiny_files
    project = Project.init(tmp_path / "proj", embedder=hashing_embedder, llm=FakeLLM(fail="never asked"))
    project.add_tags(tags)
    project.add_contents(contents)
    yield project
    project.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (``tests/pg.py``)."""
    from tests.pg import PostgresServer

    server = PostgresServer.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def static_cache(tmp_path_factory):
    """One llm4tag cache folder for the session: the static embedder is distilled into it once (about 10 s)."""
    return tmp_path_factory.mktemp("llm4tag-cache")


def debtags_slice(split: str, n: int) -> list[dict]:
    rows = []
    with gzip.open(data_file(DEBTAGS, split), "rt", encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


def recall_only_project(directory: Path, tags, contents, *, name: str, **service) -> Path:
    """A recall-only project (the test embedder, no LLM) of ``tags`` (a file or Tags) and annotated
    ``contents``, indexed, its learned paths fitted (copies of it recall alike); ``service``: [service] keys."""
    from llm4tag.config import ProjectConfig
    from llm4tag.project import Project

    config = ProjectConfig(name=name)
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.generation.enabled, config.pipeline.judge = False, "none"
    for key, value in service.items():
        setattr(config.service, key, value)
    with Project.init(directory, config) as project:
        project.add_tags(tags)
        project.add_contents(contents)
        project.index()
        project.recall_index.warm()
    return directory


def debtags_project(directory: Path, *, train: int = 300, name: str = "debtags-test", **service) -> Path:
    """A recall-only project (test embedder, no LLM) on the debtags tags and a train slice, indexed."""
    from llm4tag.corpus import Document

    contents = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("train", train)]
    return recall_only_project(directory, DEBTAGS_TAGS, contents, name=name, **service)


@pytest.fixture(scope="session")
def small_llm():
    """The real embedded 0.5B model through llama.cpp (shared by every test that needs it)."""
    from llm4tag.llm import create_llm

    llm = create_llm("llamacpp", model="qwen2.5-coder-0.5b", threads=2, context=4096)
    yield llm
    llm.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(directory: Path, *options: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``llm4tag serve`` on a free loopback port, once it is ready; returns the process and its URL. ``env``:
    variables set for the server beside this process's own."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llm4tag.cli", "serve", "-p", str(directory), "--port", str(port), "-q", *options],
        cwd=Path(__file__).resolve().parents[1],  # so that the test embedder (tests.conftest:HashingEmbedder) imports
        env={**os.environ, **env} if env else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not become ready")
