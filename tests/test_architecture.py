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
    heavy = (
        "numpy", "scipy", "sklearn", "faiss", "torch", "omikuji", "fastapi", "sqlite3",
        "llm4tag.store.base", "llm4tag.store.sqlite", "llm4tag.recall.recaller", "llm4tag.pipeline.stages",
    )  # fmt: skip
    probe = f"import sys, llm4tag.config; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    config = subprocess.run([sys.executable, "-c", "from llm4tag.recall import RecallConfig, RecallIndex; "
                             "from llm4tag.calibration import fitting, CalibrationArtifacts; print('ok')"],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert config.stdout.strip() == "ok", config.stderr  # the lazy packages still give every name


def _import_graph():
    grimp = pytest.importorskip("grimp")  # import-linter's own graph builder (extra [dev])
    return grimp.build_graph("llm4tag", exclude_type_checking_imports=True)


def test_no_module_imports_itself_back_through_another():
    """No import cycle anywhere, between packages or between modules of one package."""
    graph = _import_graph()
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    order, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))
    for module in sorted(edges):
        if module not in order:
            visit(module)
    assert not cycles, cycles


def test_every_package_and_module_stands_in_a_layer():
    """The layers contract names every top-level package and module, so none escapes it."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers" and "containers" not in c)["layers"]
    named = {part.strip() for layer in layers for part in layer.split("|")}
    graph = _import_graph()
    top_level = {".".join(m.split(".")[:2]) for m in graph.modules if m != "llm4tag"}
    assert top_level - named == set()
    service = next(c for c in contracts if c.get("containers") == ["llm4tag.service"])["layers"]
    in_service = {part.strip() for layer in service for part in layer.split("|")}
    modules = {m.split(".")[2] for m in graph.modules if m.startswith("llm4tag.service.")}
    assert modules - in_service == set()
