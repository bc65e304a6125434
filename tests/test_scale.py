"""Batch tagging at scale: streaming, resume after interruption (torn last line included), Parquet,
and the Ray Data engine giving the same results as one process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import debtags_project, debtags_slice, write_jsonl

from llm4tag.cli import main
from llm4tag.corpus import Document
from llm4tag.project import Project
from llm4tag.scale import tag_stream

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("scale") / "p")


@pytest.fixture(scope="module")
def contents(tmp_path_factory):
    rows = [{"id": r["id"], "text": r["text"]} for r in debtags_slice("test", 50)]
    return write_jsonl(tmp_path_factory.mktemp("in") / "contents.jsonl", rows)


def read_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


class Interrupted(Exception):
    pass


def test_streaming_is_lazy_and_resumes_without_loss_or_repeats(project_dir, contents, tmp_path):
    output = tmp_path / "tags.jsonl"
    pulled = []

    def docs():
        for line in contents.read_text().splitlines():
            row = json.loads(line)
            pulled.append(row["id"])
            yield Document(row["id"], row["text"])

    with Project.open(project_dir) as project:
        pipeline = project.pipeline()
        calls = []

        def flaky(chunk):
            calls.append(len(chunk))
            assert len(pulled) <= 10 * len(calls)  # reads one chunk ahead at most: memory does not grow
            if len(calls) == 3:
                raise Interrupted
            return pipeline.run(chunk)

        with pytest.raises(Interrupted):
            tag_stream(flaky, docs(), output, chunk_size=10, progress=False)
        assert read_ids(output) == [json.loads(x)["id"] for x in contents.read_text().splitlines()[:20]]
        with output.open("a") as handle:
            handle.write('{"id": "torn-wri')  # killed in the middle of a line
        report = tag_stream(pipeline.run, docs(), output, chunk_size=10, progress=False)
        assert not project.llm.started  # generation and judge off: no model was started
    assert report.skipped_done == 20 and report.tagged == 30
    ids = read_ids(output)
    assert len(ids) == len(set(ids)) == 50
    record = json.loads(output.read_text().splitlines()[-1])
    assert record["tags"] and all({"tag_id", "score", "source"} <= set(t) for t in record["tags"])


def test_cli_tag_streams_to_parquet_and_resumes(project_dir, contents, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    jsonl, parquet = tmp_path / "out.jsonl", tmp_path / "out.parquet"
    args = ["tag", "-p", str(project_dir), "--input", str(contents), "-q", "--batch-size", "16"]
    assert main([*args, "-o", str(jsonl)]) == 0
    assert "tagged 50" in capsys.readouterr().err
    assert main([*args, "-o", str(jsonl)]) == 0
    assert "tagged 0 content(s), skipped 50" in capsys.readouterr().err
    assert main([*args, "-o", str(parquet)]) == 0
    table = pq.read_table(parquet).to_pylist()
    by_id = {json.loads(line)["id"]: json.loads(line) for line in jsonl.read_text().splitlines()}
    assert len(table) == 50 and not (tmp_path / "out.parquet.partial.jsonl").exists()
    for row in table:
        assert row["tag_ids"] == [t["tag_id"] for t in by_id[row["id"]]["tags"]]
        assert json.loads(row["record"]) == by_id[row["id"]]


@pytest.mark.slow
def test_ray_engine_matches_one_process_and_resumes(project_dir, contents, tmp_path):
    pytest.importorskip("ray")
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["tag", "-p", str(project_dir), "--input", str(contents), "-o", str(local), "-q"]) == 0
    partial = [json.loads(line) for line in local.read_text().splitlines()[:15]]
    distributed.write_text("".join(json.dumps(r) + "\n" for r in partial))  # an interrupted earlier run
    command = [sys.executable, "-m", "llm4tag.cli", "tag", "-p", str(project_dir), "--input", str(contents)]
    command += ["-o", str(distributed), "--engine", "ray", "--actors", "2", "--batch-size", "8", "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tagged 35 content(s)" in done.stderr and "skipped 15" in done.stderr
    expected = {json.loads(line)["id"]: json.loads(line)["tags"] for line in local.read_text().splitlines()}
    got = {}
    for line in distributed.read_text().splitlines():
        record = json.loads(line)
        assert record["id"] not in got  # nothing tagged twice
        got[record["id"]] = record["tags"]
    # the same tags in the same order; a score may differ in its last rounded digit: a Ray actor runs BLAS on one
    # thread (Ray's default), this process on several, and float32 sums in another order differ by ~1e-7
    assert {i: [t["tag_id"] for t in tags] for i, tags in got.items()} == {
        i: [t["tag_id"] for t in tags] for i, tags in expected.items()
    }
    assert all(
        abs(a["score"] - b["score"]) <= 1e-4 and a["paths"].keys() == b["paths"].keys()
        for i in expected
        for a, b in zip(got[i], expected[i])
    )


@pytest.mark.slow
def test_ray_engine_resumes_numeric_ids_exactly_once(project_dir, tmp_path):
    pytest.importorskip("ray")
    rows = [{"id": i, "text": r["text"]} for i, r in enumerate(debtags_slice("test", 40))]  # numbers, not strings
    source = write_jsonl(tmp_path / "numeric.jsonl", rows)
    output = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "llm4tag.cli", "tag", "-p", str(project_dir), "--input", str(source)]
    command += ["-o", str(output), "--engine", "ray", "--actors", "1", "--batch-size", "8", "-q"]
    assert main(["tag", "-p", str(project_dir), "--input", str(source), "-o", str(output), "--limit", "10", "-q"]) == 0
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tagged 30 content(s)" in done.stderr
    ids = [json.loads(line)["id"] for line in output.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(40)]  # each once, as the strings a local run writes


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "line 2, field 'id': duplicate document id 'a'"),
        ([{"id": "a", "text": "x"}, {"id": "b"}], "line 2, field 'text': missing required field"),
        ([{"text": "x"}], "line 1, field 'id': missing required field"),
        ([{"id": "a", "text": "   "}], "line 1, field 'text': must not be empty"),
    ],
)
def test_ray_engine_checks_its_input_as_a_local_run_does(project_dir, tmp_path, capsys, rows, expected):
    source = write_jsonl(tmp_path / "bad.jsonl", rows)
    output = tmp_path / "out.jsonl"
    for engine in ("local", "ray"):
        code = main(["tag", "-p", str(project_dir), "--input", str(source), "-o", str(output), "--engine", engine])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "Traceback" not in err, (engine, err)
        assert not output.exists() or output.read_text() == ""
