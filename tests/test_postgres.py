"""A project whose store of record is a real PostgreSQL server: it is made, tags, learns and is calibrated as on
SQLite; ``store copy`` moves a project there and back without changing one tag or score; an interrupted copy
finishes when run again; an unreachable server or a database without tables is one clear line."""

from __future__ import annotations

import json
import shutil
import socket
import time

import pytest
from tests.conftest import DEBTAGS_TAGS, debtags_project, debtags_slice, run_cli, write_jsonl

from llm4tag.config import ProjectConfig
from llm4tag.corpus import Document
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.errors import ProjectError, StoreUnavailable
from llm4tag.library.loaders import load_tag_library
from llm4tag.project import Project
from llm4tag.store.copying import copy_store
from llm4tag.store.postgres import PostgresStore, migrate
from llm4tag.store.sqlite import SQLiteStore

TAGS = list(load_tag_library(DEBTAGS_TAGS))
RECOVERY_SECONDS = 30  # the bound on a replica's recovery after its database returns (docs/reliability.md)


def _tagged(directory, texts):
    with Project.open(directory) as project:
        return [[(t.tag_id, round(t.score, 9)) for t in r.ranked] for r in project.tag(texts)]


def _point_at(directory, url) -> None:
    config = ProjectConfig.load(directory)
    config.store.url = url
    config.save(directory)


def _recall_only_config(name: str, url: str) -> ProjectConfig:
    """A recall-only project (the test embedder, no LLM) whose store is the server at ``url``."""
    config = ProjectConfig(name=name)
    config.store.url = url
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.generation.enabled, config.pipeline.judge = False, "none"
    return config


def test_a_project_on_postgresql_is_made_tags_learns_and_calibrates(tmp_path, postgres_url):
    config = _recall_only_config("on-postgres", postgres_url)
    rows = debtags_slice("train", 260)
    with Project.init(tmp_path / "p", config) as project:
        assert project.store.journal_mode == "postgresql"
        project.add_tags(DEBTAGS_TAGS)
        project.add_contents([Document(r["id"], r["text"], r["tags"]) for r in rows])
        project.index()
        dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 40)]
        project.calibrate(dev)
        project.optimize(dev)
        [result] = project.tag([dev[0].text])
        assert result.ranked
        project.learn(
            [KnowledgeItem("example", content_id="new-1", text="a kernel module loader", tags=["admin::kernel"])]
        )
        expected = [(t.tag_id, round(t.score, 6)) for t in project.tag([dev[0].text])[0].ranked]  # learned too
    assert not (tmp_path / "p" / "store.sqlite").exists()  # every row is on the server
    with PostgresStore(postgres_url) as store:
        assert store.count_contents() == 261 and store.count_tags() == len(TAGS)
        assert store.get_contents(["new-1"])[0].tags == ["admin::kernel"]
    with Project.open(tmp_path / "p") as project:  # opened again, as another replica would
        again = [(t.tag_id, t.score) for t in project.tag([dev[0].text])[0].ranked]
        # the same tags in the same order; the scores to 1e-5: omikuji's trees, saved and loaded back, shift a
        # score by up to 6e-8, which can flip the sixth decimal of a rounded score
        assert [t for t, _ in again] == [t for t, _ in expected]
        assert [s for _, s in again] == pytest.approx([s for _, s in expected], abs=1e-5)


def test_synthetic_contents_are_marked_and_forgotten_on_postgresql(tmp_path, postgres_url):
    config = _recall_only_config("synthetic-on-postgres", postgres_url)
    rows = debtags_slice("train", 60)
    with Project.init(tmp_path / "p", config) as project:
        project.add_tags(DEBTAGS_TAGS)
        project.add_contents([Document(r["id"], r["text"], r["tags"]) for r in rows])
        written = [
            KnowledgeItem(
                "example",
                f"synthetic:admin::kernel:{n}",
                text,
                ["admin::kernel"],
                synthetic={"for_tag": "admin::kernel", "model": "fake"},
            )  # fmt: skip
            for n, text in enumerate(["a kernel module loader", "kernel crash dump tools"], 1)
        ]
        project.learn(written)
        assert {c for c, _ in project.store.synthetic_contents()} == {w.content_id for w in written}
        assert {c for c in project.recall_index.graph.content_ids if c.startswith("synthetic:")} == {
            w.content_id for w in written
        }
        assert not any(d.id.startswith("synthetic:") for d in project.recall_index.held_out_contents(share=1.0))
        assert project.forget([w.content_id for w in written]) == 2
        assert project.store.synthetic_contents() == [] and project.store.count_contents() == 60
        assert not any(c.startswith("synthetic:") for c in project.recall_index.graph.content_ids)


def test_store_copy_to_postgresql_and_back_changes_no_tag_and_no_score(tmp_path, postgres_url, capsys):
    built = debtags_project(tmp_path / "sqlite", train=300)
    texts = [r["text"] for r in debtags_slice("test", 25)]
    before = _tagged(built, texts)
    code, out, err = run_cli(["store", "copy", "--from", str(built), "--to", postgres_url, "-q"], capsys)
    assert code == 0, err
    assert "contents 300" in out and "embeddings" in out
    on_server = shutil.copytree(built, tmp_path / "server", ignore=shutil.ignore_patterns("store.sqlite*"))
    _point_at(on_server, postgres_url)
    assert _tagged(on_server, texts) == before  # the graph files and fitted paths hold: same sequence numbers
    back = shutil.copytree(built, tmp_path / "back", ignore=shutil.ignore_patterns("store.sqlite*"))
    code, _, err = run_cli(["store", "copy", "--from", postgres_url, "--to", str(back), "-q"], capsys)
    assert code == 0, err
    assert _tagged(back, texts) == before
    test = write_jsonl(tmp_path / "test.jsonl", debtags_slice("test", 60))
    reports = []
    for directory in (built, back):  # the whole evaluation, not only the tags above
        output = tmp_path / f"eval-{directory.name}.json"
        assert run_cli(["eval", "-p", str(directory), str(test), "--json", "-q", "-o", str(output)], capsys)[0] == 0
        report = json.loads(output.read_text())
        report.pop("seconds_per_document")
        reports.append(report)
    assert reports[0] == reports[1]
    with PostgresStore(postgres_url) as store:  # a row added after the copy takes the next sequence number
        store.upsert_contents([Document("after-copy", "a text added later", [])])
        assert store.content_rows()[-1].seq == 301


def test_an_interrupted_copy_finishes_when_run_again_without_duplicates(tmp_path, postgres_url, monkeypatch):
    with SQLiteStore(tmp_path / "store.sqlite") as source:
        source.upsert_tags(TAGS)
        source.upsert_contents([Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("train", 250)])
    migrate(postgres_url)
    calls = {"n": 0}
    original = PostgresStore.transaction

    def failing(self):
        calls["n"] += 1
        if calls["n"] == 3:  # the third batch: the connection is lost mid-copy
            raise StoreUnavailable("the store was lost during a write")
        return original(self)

    with SQLiteStore(tmp_path / "store.sqlite") as source, PostgresStore(postgres_url) as target:
        monkeypatch.setattr(PostgresStore, "transaction", failing)
        with pytest.raises(StoreUnavailable):
            copy_store(source, target, batch=100)
        monkeypatch.setattr(PostgresStore, "transaction", original)
        assert 0 < target.count_contents() < 250 or target.count_tags() < len(TAGS)
        counts = copy_store(source, target, batch=100)
        assert counts["contents"] == target.count_contents() == 250
        assert counts["annotations"] == target._query("SELECT COUNT(*) FROM annotations")[0][0]


def test_copying_into_a_store_that_holds_other_rows_is_refused(tmp_path, postgres_url):
    with SQLiteStore(tmp_path / "store.sqlite") as source:
        source.upsert_tags(TAGS[:5])
    migrate(postgres_url)
    with PostgresStore(postgres_url) as target:
        target.upsert_tags([TAGS[10]])
        with (
            SQLiteStore(tmp_path / "store.sqlite") as source,
            pytest.raises(ProjectError, match=r"already holds rows \(1 tags, 0 contents"),
        ):
            copy_store(source, target)


def test_an_unreachable_server_or_a_database_without_tables_is_one_clear_line(tmp_path, postgres_url, capsys):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    url = f"postgresql://someone:secret@127.0.0.1:{closed}/nowhere"
    with pytest.raises(
        StoreUnavailable, match=rf"cannot reach the store at postgresql://someone:\*\*\*@127.0.0.1:{closed}"
    ):
        migrate(url)
    code, _, err = run_cli(["store", "migrate", "--url", url], capsys)
    assert code == 2 and "secret" not in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ProjectError, match="no llm4tag tables yet: run 'llm4tag store migrate' first"):
        PostgresStore(postgres_url)
    code, out, _ = run_cli(["store", "migrate", "--url", postgres_url], capsys)
    assert code == 0 and "-> 1" in out
    code, out, _ = run_cli(["store", "migrate", "--url", postgres_url], capsys)
    assert code == 0 and "up to date" in out


def test_a_service_that_loses_its_database_answers_503_for_writes_tags_from_what_it_holds_and_recovers(
    tmp_path, postgres_server, postgres_url
):
    """The server stops under a running service: feedback is refused with 503 and Retry-After (nothing is
    acknowledged that was not committed), recall-only tagging goes on from what the replica holds, and once the
    server is back, writes succeed again without restarting the service."""
    from fastapi.testclient import TestClient
    from tests.conftest import LOOPBACK

    from llm4tag.service import create_app

    migrate(postgres_url)
    built = debtags_project(tmp_path / "sqlite", train=250)
    assert run_cli(["store", "copy", "--from", str(built), "--to", postgres_url, "-q"], _NoCapture())[0] == 0
    replica = shutil.copytree(built, tmp_path / "replica", ignore=shutil.ignore_patterns("store.sqlite*"))
    _point_at(replica, postgres_url)
    text = debtags_slice("test", 1)[0]["text"]
    feedback = {"text": "a kernel module loader", "content_id": "fb-1", "accept": ["admin::kernel"]}
    with Project.open(replica) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        before = client.post("/v1/tag", json={"text": text, "llm": False})
        assert before.status_code == 200 and before.json()["tags"]
        postgres_server.stop()
        try:
            refused = client.post("/v1/feedback", json=feedback)
            assert refused.status_code == 503 and refused.headers["retry-after"]
            assert "unreachable" in refused.json()["detail"]
            during = client.post("/v1/tag", json={"text": text, "llm": False})
            assert during.status_code == 200 and during.json()["tags"] == before.json()["tags"]
        finally:
            postgres_server.restart(first=True)
        deadline = time.monotonic() + RECOVERY_SECONDS  # the pool reconnects by itself, with its own backoff
        while (stored := client.post("/v1/feedback", json=feedback)).status_code == 503:
            assert time.monotonic() < deadline, "no recovery without a restart"
            time.sleep(0.5)
        assert stored.status_code == 200 and stored.json()["stored"]
    with PostgresStore(postgres_url) as store:
        assert store.get_contents(["fb-1"])[0].tags == ["admin::kernel"]


class _NoCapture:
    """``run_cli`` without pytest's capsys (its output is not read here)."""

    def readouterr(self):
        return "", ""


def test_a_replica_with_an_empty_directory_and_only_the_url_serves_what_the_fitting_machine_serves(
    tmp_path, postgres_url, monkeypatch, capsys
):
    """The configuration, the calibration files and the learned paths come from the store; the graph is
    rebuilt from the vectors cached there, encoding nothing; the tags and confidences are the same."""
    from tests.conftest import HashingEmbedder

    built = debtags_project(tmp_path / "fitted", train=300)
    with Project.open(built) as project:
        dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 40)]
        project.calibrate(dev)
        project.optimize(dev)
    texts = [r["text"] for r in debtags_slice("test", 25)]
    expected = _tagged(built, texts)
    assert run_cli(["store", "copy", "--from", str(built), "--to", postgres_url, "-q"], capsys)[0] == 0
    monkeypatch.setenv("LLM4TAG_STORE_URL", postgres_url)
    encoded_before = HashingEmbedder.encoded_total
    fresh = tmp_path / "fresh-machine"
    assert _tagged(fresh, texts) == expected
    assert (fresh / "llm4tag.toml").is_file() and (fresh / "calibration" / "manifest.json").is_file()
    assert sorted(p.name for p in (fresh / "graph" / "learned").iterdir()) == ["mlp", "supervised", "tree"]
    assert HashingEmbedder.encoded_total == encoded_before  # the graph (and these texts, tagged before) from the cache
    # a refit on one replica is saved to the store and picked up by another, which fits nothing itself
    with Project.open(fresh) as project:
        project.index(refit=True)
        refitted = {name: path.n_contents_ for name, (path, _) in project.recall_index.learned.fitted().items()}
    from llm4tag.recall import refits

    fits = []
    monkeypatch.setattr(refits, "fit_path", lambda *args: fits.append(args[0]))
    with Project.open(tmp_path / "second-machine") as project:
        assert project.tag(texts[:3])
        pulled = {name: path.n_contents_ for name, (path, _) in project.recall_index.learned.fitted().items()}
    assert pulled == refitted and not fits
