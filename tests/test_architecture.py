"""Layers only go down: import-linter's contracts (pyproject.toml, [tool.importlinter]) hold, and they catch a cycle."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(*, pythonpath: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.skip("lint-imports is not installed (extra [dev])")
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
    )


def test_the_package_keeps_its_layers():
    result = lint(pythonpath=ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_an_import_back_up_a_layer_is_caught(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "llm4tag", copy / "llm4tag", ignore=shutil.ignore_patterns("__pycache__"))
    stage = copy / "llm4tag" / "recall" / "graph.py"  # a stage module reaching up to the project: a cycle
    stage.write_text(stage.read_text(encoding="utf-8") + "\nimport llm4tag.project  # noqa\n", encoding="utf-8")
    result = lint(pythonpath=copy)
    assert result.returncode != 0
    assert "llm4tag.recall.graph -> llm4tag.project" in result.stdout


def test_reading_the_configuration_loads_none_of_the_heavy_libraries():
    """``import llm4tag.config`` reads a TOML file: the settings live in leaf modules and the packages import
    their algorithms lazily, so it loads no numeric or model library and not the store."""
    heavy = ("numpy", "scipy", "sklearn", "faiss", "torch", "omikuji", "llm4tag.store", "llm4tag.recall.recaller")
    probe = f"import sys, llm4tag.config; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    config = subprocess.run([sys.executable, "-c", "from llm4tag.recall import RecallConfig, RecallIndex; "
                             "from llm4tag.calibration import fitting, CalibrationArtifacts; print('ok')"],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert config.stdout.strip() == "ok", config.stderr  # the lazy packages still give every name
