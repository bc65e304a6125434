"""llm4tag as a package, not only as a checkout: the wheel and the sdist build, every package-data file of the
source tree is in the wheel, and the demo runs from the installed wheel in a directory outside the checkout,
on the sample the wheel carries."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "llm4tag"


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # no isolation: the build uses the setuptools installed here (no download), as an offline machine must
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, cwd=tmp_path_factory.mktemp("build-cwd"),
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return out


def _package_data() -> set[str]:
    tracked = subprocess.run(["git", "ls-files", "src/llm4tag"], capture_output=True, text=True, cwd=ROOT)
    assert tracked.returncode == 0, tracked.stderr
    return {
        str(Path(name).relative_to("src"))
        for name in tracked.stdout.split()
        if not name.endswith(".py") and "__pycache__" not in name
    }


def test_the_wheel_carries_every_package_data_file(dist):
    [wheel] = dist.glob("llm4tag-*.whl")
    [sdist] = dist.glob("llm4tag-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = _package_data()
    assert {"llm4tag/data/debtags-sample/train.jsonl.gz", "llm4tag/service/static/app.js"} <= wanted
    assert not wanted - names, f"missing from the wheel: {sorted(wanted - names)}"
    assert sdist.stat().st_size > 0


def test_the_demo_runs_from_the_installed_wheel_outside_the_checkout(dist, tmp_path):
    [wheel] = dist.glob("llm4tag-*.whl")
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the wheel's package first on the path: this process's dependencies, but not the checkout's llm4tag
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    version = subprocess.run([sys.executable, "-m", "llm4tag.cli", "--version"], capture_output=True, text=True,
                             cwd=elsewhere, env=env)  # fmt: skip
    assert version.returncode == 0 and version.stdout.startswith("llm4tag 0."), version.stdout + version.stderr
    where = subprocess.run([sys.executable, "-c", "import llm4tag; print(llm4tag.__file__)"], capture_output=True,
                           text=True, cwd=elsewhere, env=env)  # fmt: skip
    assert where.stdout.strip().startswith(str(target)), where.stdout
    demo = subprocess.run(
        [sys.executable, "-m", "llm4tag.cli", "demo", "--no-llm", "--documents", "2", "--train-limit", "600"],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=900,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    assert demo.stdout.count("\n== ") == 2 and "tags (confidence):" in demo.stdout
    assert (elsewhere / "sample-project" / "llm4tag.toml").exists()
