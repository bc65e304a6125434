"""The command line: user mistakes are one clear line and exit code 2; the happy path with real embeddings."""

import json
import subprocess
import sys

import pytest
from tests.conftest import run_cli


def test_bad_tag_file_is_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "tags.jsonl"
    bad.write_text('{"id": "a", "label": "A"}\n{"id": "a", "label": "B"}\n', encoding="utf-8")
    code, _, err = run_cli(["init", str(tmp_path / "p"), "--tags", str(bad)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "line 2" in err and "duplicate tag id" in err
    assert "Traceback" not in err


def test_commands_outside_a_project_say_so(tmp_path, capsys):
    code, _, err = run_cli(["index", "-p", str(tmp_path)], capsys)
    assert code == 2 and "not an llm4tag project" in err


@pytest.mark.parametrize("module", ["llm4tag", "llm4tag.cli"])
def test_module_entry_points_exit_2_on_user_error(tmp_path, module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "recall", "-p", str(tmp_path), "--text", "x"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_init_index_recall_eval_with_the_default_embedder(tmp_path, tiny_files, capsys):
    tags, contents = tiny_files
    project = str(tmp_path / "p")
    assert run_cli(["init", project, "--tags", str(tags), "--corpus", str(contents)], capsys)[0] == 0
    code, out, _ = run_cli(["index", "-p", project], capsys)
    assert code == 0 and "+6 annotated contents" in out
    output = tmp_path / "recall.jsonl"
    code, _, _ = run_cli(["recall", "-p", project, "--text", "checkmate in three moves", "-o", str(output)], capsys)
    assert code == 0
    [record] = [json.loads(line) for line in output.read_text().splitlines()]
    assert record["candidates"][0]["tag_id"] == "chess"
    assert {"paths", "score", "neighbours", "via", "label"} <= set(record["candidates"][0])
    code, out, _ = run_cli(["eval", "-p", project, str(contents), "--stage", "recall", "--json", "--ns", "1,3"], capsys)
    result = json.loads(out)
    assert code == 0 and result["documents"] == 6
    # six annotated contents: too few for the learned paths, which are therefore not reported
    assert set(result["candidate_recall"]) == {"c2t", "c2c2t", "c2t2t", "lexical", "fused"}
    assert 0 < result["ranking"]["precision@1"] <= 1 and result["tag_sets"]["documents"] == 6


@pytest.mark.slow
def test_a_project_with_the_static_embedder_recalls_by_meaning(tmp_path, tiny_files, static_cache, capsys, monkeypatch):
    monkeypatch.setenv("LLM4TAG_CACHE", str(static_cache))
    tags, contents = tiny_files
    project = str(tmp_path / "p")
    args = ["init", project, "--tags", str(tags), "--corpus", str(contents), "--embedding", "model2vec"]
    assert run_cli(args, capsys)[0] == 0
    assert 'backend = "model2vec"' in (tmp_path / "p" / "llm4tag.toml").read_text()
    assert run_cli(["index", "-p", project], capsys)[0] == 0
    output = tmp_path / "recall.jsonl"
    code, _, _ = run_cli(["recall", "-p", project, "--text", "checkmate in three moves", "-o", str(output)], capsys)
    assert code == 0
    [record] = [json.loads(line) for line in output.read_text().splitlines()]
    assert {c["tag_id"] for c in record["candidates"][:2]} == {"chess", "game"}  # the chess contents' two tags
    assert (static_cache / "model2vec" / "all-MiniLM-L6-v2-pca256" / "config.json").exists()


@pytest.mark.slow
def test_tag_and_learn_from_the_command_line(tmp_path, tiny_files, capsys):
    tags, contents = tiny_files
    project = str(tmp_path / "p")
    code, _, _ = run_cli(
        ["init", project, "--tags", str(tags), "--corpus", str(contents), "--llm-model", "qwen2.5-coder-0.5b"], capsys
    )
    assert code == 0
    learn = tmp_path / "learn.jsonl"
    learn.write_text(
        json.dumps({"kind": "note", "tag": "chess", "note": "includes chess variants"})
        + "\n"
        + json.dumps({"text": "shogi board game engine", "tags": ["game", "chess"]})
        + "\n"
    )
    code, out, _ = run_cli(["learn", "-p", project, str(learn)], capsys)
    assert code == 0 and "1 example(s)" in out and "1 note(s)" in out
    code, _, err = run_cli(["serve", "-p", project, "--workers", "0"], capsys)  # refused before anything starts
    assert code == 2 and "--workers ([service] workers) must be at least 1" in err
    if sys.platform.startswith("linux"):  # workers with sockets of their own would share a port held elsewhere
        import socket

        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = str(held.getsockname()[1])
            code, _, err = run_cli(["serve", "-p", project, "--port", port, "--workers", "2"], capsys)
        assert code == 2 and f"cannot serve on 127.0.0.1:{port}" in err
    output = tmp_path / "tags.jsonl"
    code, _, _ = run_cli(
        ["tag", "-p", project, "--text", "a shogi engine", "-q", "--candidates", "--generation", "-o", str(output)],
        capsys,
    )
    assert code == 0
    [record] = [json.loads(line) for line in output.read_text().splitlines()]
    candidate_ids = {c["tag_id"] for c in record["candidates"]}
    assert record["tags"] and all(t["tag_id"] in candidate_ids for t in record["tags"])
    assert "chess" in [t["tag_id"] for t in record["tags"]]  # found through the example learned a moment ago
    assert "includes chess variants" in " ".join(record["llm"].get("notes", []))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "tags": ["nope"]}) + "\n")
    code, _, err = run_cli(["learn", "-p", project, str(bad)], capsys)
    assert code == 2 and "line 1" in err and "nope" in err


def test_finetune_install_of_something_that_is_no_adapter_is_one_clear_line(tmp_path, tiny_files, capsys):
    tags, _ = tiny_files
    assert run_cli(["init", str(tmp_path / "p"), "--tags", str(tags)], capsys)[0] == 0
    stray = tmp_path / "notes.txt"
    stray.write_text("not an adapter")
    code, _, err = run_cli(["finetune", "install", str(stray), "-p", str(tmp_path / "p")], capsys)
    assert code == 2 and "peft adapter folder or a LoRA .gguf" in err and str(stray) in err
    empty = tmp_path / "empty-adapter"
    empty.mkdir()
    code, _, err = run_cli(["finetune", "install", str(empty), "-p", str(tmp_path / "p")], capsys)
    assert code == 2 and "adapter_config.json is missing" in err and "Traceback" not in err
    assert "adapter" not in (tmp_path / "p" / "llm4tag.toml").read_text().split("[llm]")[1].split("[")[0]
