"""A SQLite error is reported by its real cause (docs/reliability.md, "Store and derived files"): a full disk, a
lock another process holds, a read-only file, or damage that SQLite's own check confirms, never one message for
all, and "nothing was changed" only where it is true."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import debtags_project, write_jsonl

from llm4tag.cli import main
from llm4tag.store.diagnosis import store_error_message
from llm4tag.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("store-errors") / "p", train=100)


@pytest.fixture
def project_copy(built, tmp_path):
    return Path(shutil.copytree(built, tmp_path / "copy"))


def _learn_file(path: Path) -> Path:
    rows = [{"id": f"ex-{i}", "text": f"strategy game {i} " * 200, "tags": ["game::strategy"]} for i in range(200)]
    return write_jsonl(path, rows)


def _count(store: Path, sql: str) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute(sql).fetchone()[0]


def test_a_full_disk_is_named_as_such_and_nothing_half_learned(project_copy, tmp_path, monkeypatch, capsys):
    opened = SQLiteStore._open

    def on_a_full_disk(self, durable, *, check):  # the file may not grow by a page: SQLite's own SQLITE_FULL
        opened(self, durable, check=check)
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        self._conn.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(SQLiteStore, "_open", on_a_full_disk)
    before = _count(project_copy / "store.sqlite", "SELECT COUNT(*) FROM knowledge")
    assert main(["learn", "-p", str(project_copy), str(_learn_file(tmp_path / "learn.jsonl"))]) == 2
    err = capsys.readouterr().err
    assert "is full" in err and "damaged" not in err and "Traceback" not in err
    assert "Nothing was changed" not in err  # not said where the command may have written
    assert _count(project_copy / "store.sqlite", "SELECT COUNT(*) FROM knowledge") == before


def test_a_lock_held_by_another_process_names_it(project_copy, tmp_path, capsys):
    store = project_copy / "store.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(store)!r}, isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\n"
         "print('held', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["learn", "-p", str(project_copy), str(_learn_file(tmp_path / "learn.jsonl"))])
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert "locked by another process" in err and f"pid {holder.pid}" in err and "damaged" not in err


def test_a_read_only_store_is_named_read_only(project_copy):
    store = project_copy / "store.sqlite"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn, pytest.raises(sqlite3.Error) as caught:
        conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
    message = store_error_message(store, caught.value)
    assert "read-only" in message and "damaged" not in message


def test_real_damage_is_still_called_damage(project_copy):
    store = project_copy / "store.sqlite"
    store.write_bytes(b"this is not a database" * 1000)
    error = sqlite3.connect(store).execute
    with pytest.raises(sqlite3.DatabaseError) as caught:
        error("SELECT * FROM meta")
    assert "damaged or not an llm4tag store" in store_error_message(store, caught.value)
