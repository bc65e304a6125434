"""A full disk and a read-only cache, on real file systems (small tmpfs mounts, so the test runs as root, as CI
does): every command answers one line naming the path, keeps what it had written, and resumes once space is
back (docs/reliability.md, "Store and derived files")."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project, debtags_slice, write_jsonl

from llm4tag.cli import main
from llm4tag.project import Project
from llm4tag.service import create_app


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("disk") / "p", train=150)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs mounted for the test; ``fill()`` takes every free byte, ``free()`` gives them back."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    filler = mount / ".filler"

    class Disk:
        path = mount

        @staticmethod
        def fill() -> None:
            try:
                with filler.open("ab", buffering=0) as handle:
                    while True:
                        handle.write(b"\0" * 4096)
            except OSError:  # ENOSPC: full
                pass

        @staticmethod
        def free() -> None:
            filler.unlink(missing_ok=True)

    yield Disk
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _one_line(err: str) -> str:
    lines = [line for line in re.split(r"[\r\n]", err) if "llm4tag: error:" in line]  # after a progress bar
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_index_and_recall_on_a_full_disk_are_one_line_naming_the_graph_file(built, small_disk, capsys):
    project = Path(shutil.copytree(built, small_disk.path / "p"))
    shutil.rmtree(project / "graph")
    small_disk.fill()
    for command in (["index", "-p", str(project)], ["recall", "-p", str(project), "--text", "network tool"]):
        assert main(command) == 2
        line = _one_line(capsys.readouterr().err)
        assert str(project) in line and "full" in line
    small_disk.free()
    assert main(["index", "-p", str(project)]) == 0


def test_tag_output_on_a_full_disk_keeps_what_it_wrote_and_resumes_exactly_once(built, small_disk, tmp_path, capsys):
    rows = [{"id": r["id"], "text": r["text"]} for r in debtags_slice("test", 300)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    output = small_disk.path / "out.jsonl"
    small_disk.fill()
    assert main(["tag", "-p", str(built), "--input", str(source), "-o", str(output)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(output) in line and "resume" in line
    small_disk.free()
    assert main(["tag", "-p", str(built), "--input", str(source), "-o", str(output)]) == 0
    ids = [json.loads(line)["id"] for line in output.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(r["id"] for r in rows)


def test_a_read_only_cache_is_one_line_naming_it(tmp_path, small_disk, capsys, monkeypatch):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk.path)], check=True)
    monkeypatch.setenv("LLM4TAG_CACHE", str(small_disk.path / "cache"))
    tags = write_jsonl(tmp_path / "tags.jsonl", [{"id": "a", "label": "Alpha"}, {"id": "b", "label": "Beta"}])
    assert main(["init", str(tmp_path / "p"), "--embedding", "model2vec", "--tags", str(tags)]) == 0
    assert main(["index", "-p", str(tmp_path / "p")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(small_disk.path / "cache") in line and "read-only" in line


def test_the_service_on_a_full_disk_is_not_ready_and_says_why(built, small_disk):
    project = Path(shutil.copytree(built, small_disk.path / "p"))
    shutil.rmtree(project / "graph")
    with Project.open(project) as opened:
        small_disk.fill()
        with TestClient(create_app(opened), base_url=LOOPBACK) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "cannot write" in ready.json()["reason"] and "full" in ready.json()["reason"]
