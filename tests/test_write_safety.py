"""Every way in writes only what the library can read back, feedback follows one rule, and a retried write
converges: the store-level defects of the second fault probe (docs/reliability.md, "Writes")."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project, debtags_slice, write_jsonl

from llm4tag.cli import main
from llm4tag.corpus.documents import Document
from llm4tag.project import Project
from llm4tag.service import create_app

ROOT = Path(__file__).resolve().parents[1]
TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("writes") / "p", train=200)


@pytest.fixture
def project_copy(built, tmp_path):
    return Path(shutil.copytree(built, tmp_path / "copy"))


# -- tags: one check for every writer ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "tag",
    [
        {"id": "   ", "label": "\t"},
        {"id": "ok::id", "label": "   "},
        {"id": "ok::id", "label": "nul\x00inside"},
        {"id": "ok::id", "label": "bell\x07"},
        {"id": "ok::id", "label": "x" * 1001},
        {"id": "x" * 1001, "label": "long id"},
        {"id": "ok::id", "label": "fine", "aliases": ["a\x00"]},
        {"id": "ok::id", "label": "fine", "description": "nul\x00"},
    ],
)
def test_a_tag_the_loaders_refuse_is_refused_by_the_api_and_the_service_keeps_working(project_copy, tag):
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        refused = client.post("/v1/tags", json=tag)
        assert refused.status_code == 422, refused.text
        assert client.get("/v1/tags").status_code == 200
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
        assert client.post("/v1/projects/debtags-test/suggest", data={"text": TEXT}).status_code == 200
        assert client.post("/v1/feedback", json={"text": TEXT, "add": ["use::monitor"]}).status_code == 200
    assert main(["recall", "-p", str(project_copy), "--text", TEXT]) == 0


def test_a_stored_tag_row_that_fails_the_check_is_named_and_can_be_fixed_or_deprecated(project_copy, capsys):
    with sqlite3.connect(project_copy / "store.sqlite") as conn:  # as an older version or a hand edit left it
        for tag_id, label in (("bad::blank-label", "\t"), ("bad::nul", "a\x00b")):
            conn.execute("INSERT INTO tags(id, label, updated_at) VALUES (?, ?, 0)", (tag_id, label))
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'tags_version'")
    assert main(["recall", "-p", str(project_copy), "--text", TEXT]) == 0  # opens, warns, recalls
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        assert "bad::blank-label" not in project.library
        assert {tag_id for tag_id, _ in project.store.invalid_tags()} == {"bad::blank-label", "bad::nul"}
        assert client.get("/v1/tags").status_code == 200
        assert client.post("/v1/tag", json={"text": TEXT}).status_code == 200
        fixed = client.post("/v1/tags", json={"id": "bad::blank-label", "label": "Blank no more"})
        assert fixed.status_code == 201 and fixed.json()["updated"] == 1
        assert client.get("/v1/tags/bad::blank-label").json()["label"] == "Blank no more"
        assert client.post("/v1/tags/bad::nul/deprecate").status_code == 200
        assert project.store.invalid_tags() == [("bad::nul", project.store.invalid_tags()[0][1])]
        assert client.post("/v1/tags/bad::nul/deprecate").status_code == 200  # again: no change, no error


def test_the_store_refuses_a_bad_tag_from_any_writer(project_copy):
    from llm4tag.errors import InputError
    from llm4tag.library.tags import Tag

    with Project.open(project_copy) as project:
        with pytest.raises(InputError, match="label must not be blank"):
            project.store.upsert_tags([Tag("x::y", "  ")])
        assert "x::y" not in project.library


# -- feedback: accept adds, reject removes, the stored text stays -----------------------------------------
CASES = [
    # (feedback fields beside text and content_id, the tags the content has after it)
    ({"accept": ["use::gameplaying"]}, {"game::strategy", "use::gameplaying"}),
    ({"add": ["interface::x11"]}, {"game::strategy", "use::gameplaying", "interface::x11"}),
    ({"reject": ["use::gameplaying"]}, {"game::strategy"}),
    ({"accept": ["game::strategy"], "reject": ["use::gameplaying"]}, {"game::strategy"}),
    ({"accept": ["interface::x11"], "reject": ["game::strategy"]}, {"use::gameplaying", "interface::x11"}),
    ({"add": ["interface::x11"], "reject": ["game::strategy", "use::gameplaying"]}, {"interface::x11"}),
]


@pytest.mark.parametrize(("fields", "expected"), CASES)
def test_feedback_adds_what_it_accepts_removes_what_it_rejects_and_keeps_the_stored_text(
    project_copy, fields, expected
):
    stored_text = "A turn-based strategy game of empires, with a map editor and network play."
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        project.add_contents([Document("pkg-1", stored_text, ["game::strategy", "use::gameplaying"])])
        body = {"text": "a shorter text the reviewer saw", "content_id": "pkg-1", **fields}
        assert client.post("/v1/feedback", json=body).status_code == 200
        [content] = project.store.get_contents(["pkg-1"])
        assert set(content.tags) == expected
        assert content.text == stored_text


def test_two_accepts_one_request_each_keep_both_tags(project_copy):
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        for tag in ("game::strategy", "use::gameplaying"):
            body = {"text": "a strategy game", "content_id": "doc-9", "accept": [tag]}
            assert client.post("/v1/feedback", json=body).status_code == 200
        [content] = project.store.get_contents(["doc-9"])
        assert set(content.tags) == {"game::strategy", "use::gameplaying"}


def test_feedback_replaces_the_stored_text_only_when_asked(project_copy):
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        project.add_contents([Document("pkg-2", "the old text", ["game::strategy"])])
        body = {"text": "the new text", "content_id": "pkg-2", "accept": ["game::strategy"], "replace_text": True}
        assert client.post("/v1/feedback", json=body).status_code == 200
        [content] = project.store.get_contents(["pkg-2"])
        assert content.text == "the new text" and content.tags == ["game::strategy"]


def test_reject_only_feedback_on_an_unknown_content_stores_a_correction_and_no_content(project_copy):
    with Project.open(project_copy) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        body = {"text": "never seen", "content_id": "new-1", "reject": ["game::strategy"]}
        assert client.post("/v1/feedback", json=body).status_code == 200
        assert project.store.get_contents(["new-1"]) == []
        assert [k.rejected for k in project.store.knowledge(["correction"]) if k.content_id == "new-1"] == [
            ["game::strategy"]
        ]


# -- learn: one transaction per file, and a re-run converges -------------------------------------------
def _learn_file(path: Path, n: int) -> Path:
    rows = [{"kind": "example", "id": f"ex-{i}", "text": f"strategy game number {i} with maps",
             "tags": ["game::strategy"]} for i in range(n)]  # fmt: skip
    rows.append({"kind": "note", "tag": "game::strategy", "note": "covers turn-based games too"})
    return write_jsonl(path, rows)


def test_learn_run_twice_stores_each_item_once(project_copy, tmp_path):
    learn = _learn_file(tmp_path / "learn.jsonl", 50)
    assert main(["learn", "-p", str(project_copy), str(learn)]) == 0
    assert main(["learn", "-p", str(project_copy), str(learn)]) == 0
    with Project.open(project_copy) as project:
        examples = [k for k in project.store.knowledge(["example"]) if k.content_id.startswith("ex-")]
        assert len(examples) == 50
        assert len(project.store.knowledge(["note"])) == 1


def test_learn_killed_midway_leaves_nothing_half_written_and_the_rerun_converges(project_copy, tmp_path):
    learn = _learn_file(tmp_path / "learn.jsonl", 4000)
    process = subprocess.Popen(
        [sys.executable, "-m", "llm4tag.cli", "learn", "-p", str(project_copy), str(learn)], cwd=ROOT
    )
    store = project_copy / "store.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:  # kill it as soon as any of its rows is visible
        with sqlite3.connect(store, timeout=30) as conn:
            if conn.execute("SELECT COUNT(*) FROM knowledge WHERE content_id LIKE 'ex-%'").fetchone()[0]:
                break
        time.sleep(0.002)
    process.kill()
    process.wait()
    with sqlite3.connect(store) as conn:
        knowledge = conn.execute("SELECT COUNT(*) FROM knowledge WHERE content_id LIKE 'ex-%'").fetchone()[0]
        contents = conn.execute("SELECT COUNT(*) FROM contents WHERE id LIKE 'ex-%'").fetchone()[0]
    assert (knowledge, contents) in ((0, 0), (4000, 4000))  # all of the file or none of it
    assert main(["learn", "-p", str(project_copy), str(learn)]) == 0
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM knowledge WHERE content_id LIKE 'ex-%'").fetchone()[0] == 4000
        assert conn.execute("SELECT COUNT(*) FROM contents WHERE id LIKE 'ex-%'").fetchone()[0] == 4000
        assert conn.execute("SELECT COUNT(*) FROM knowledge WHERE kind = 'note'").fetchone()[0] == 1


def test_learn_that_fails_between_its_writes_stores_nothing(project_copy, tmp_path, monkeypatch):
    from llm4tag.store.sqlite import SQLiteStore

    def disk_full(self, docs, **options):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SQLiteStore, "upsert_contents", disk_full)  # the second write fails, as on a full disk
    with Project.open(project_copy) as project:
        before = len(project.store.knowledge())
        with pytest.raises(sqlite3.OperationalError):
            project.learn(_learn_file(tmp_path / "learn.jsonl", 10))
        assert len(project.store.knowledge()) == before


def test_learn_file_items_about_one_content_apply_in_order(project_copy, tmp_path):
    rows = [
        {"kind": "example", "id": "doc-1", "text": "a chess engine", "tags": ["game::board"]},
        {"kind": "correction", "id": "doc-1", "text": "a chess engine", "tags": ["use::gameplaying"],
         "rejected": ["game::board"]},
    ]  # fmt: skip
    assert main(["learn", "-p", str(project_copy), str(write_jsonl(tmp_path / "l.jsonl", rows))]) == 0
    with Project.open(project_copy) as project:
        [content] = project.store.get_contents(["doc-1"])
        assert content.tags == ["use::gameplaying"]


# -- calibrate / optimize: a set is used whole or not at all ---------------------------------------------
def test_a_calibration_set_left_half_written_is_refused_and_a_rerun_repairs_it(project_copy, monkeypatch):
    from llm4tag.calibration.calibrator import Calibrator
    from llm4tag.errors import ProjectError

    dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 80)]
    with Project.open(project_copy) as project:
        project.calibrate(dev)
        project.optimize(dev)
        whole = [[(t.tag_id, round(t.score, 6)) for t in r.tags] for r in project.tag([TEXT])]
    real_save = Calibrator.save

    def killed_after_writing(self, path):  # the first new file lands, then the process dies
        real_save(self, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(Calibrator, "save", killed_after_writing)
    with Project.open(project_copy) as project, pytest.raises(KeyboardInterrupt):
        project.calibrate(dev[:60])
    monkeypatch.setattr(Calibrator, "save", real_save)
    with (
        Project.open(project_copy) as project,
        pytest.raises(ProjectError, match="recall.pkl differ .* did not finish"),
    ):
        project.tag([TEXT])
    assert main(["tag", "-p", str(project_copy), "--text", TEXT]) == 2  # one line, no traceback
    with Project.open(project_copy) as project:
        project.calibrate(dev)
        project.optimize(dev)
        assert [[(t.tag_id, round(t.score, 6)) for t in r.tags] for r in project.tag([TEXT])] == whole


# -- init --force keeps the configuration ------------------------------------------------------------------
def test_init_force_keeps_the_configuration_and_reset_config_sets_the_old_calibration_aside(project_copy, tmp_path):
    from llm4tag.config import ProjectConfig

    config = ProjectConfig.load(project_copy)
    config.service.api_keys = ["a-long-secret-key"]
    config.recall.few_example_slots = 5
    config.save(project_copy)
    dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 60)]
    with Project.open(project_copy) as project:
        project.calibrate(dev)
    tags = write_jsonl(tmp_path / "more-tags.jsonl", [{"id": "team::zephyr", "label": "Zephyr"}])

    assert main(["init", str(project_copy), "--force", "--tags", str(tags)]) == 0
    kept = ProjectConfig.load(project_copy)
    assert kept == config and kept.service.api_keys == ["a-long-secret-key"] and kept.name == config.name
    assert (project_copy / "calibration" / "recall.pkl").exists()
    with Project.open(project_copy) as project:
        assert "team::zephyr" in project.library

    assert main(["init", str(project_copy), "--force", "--llm", "openai"]) == 2  # would change it: refused
    assert ProjectConfig.load(project_copy) == config

    assert main(["init", str(project_copy), "--force", "--reset-config"]) == 0
    reset = ProjectConfig.load(project_copy)
    assert reset.service.api_keys == [] and reset.recall.few_example_slots != 5
    assert not (project_copy / "calibration" / "recall.pkl").exists()
    [aside] = project_copy.glob("calibration.replaced-*")
    assert (aside / "recall.pkl").exists()
