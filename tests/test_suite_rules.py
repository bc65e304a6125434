"""The suite's own rule: under ``CI=true`` nothing skips except tests that need a GPU (a CI run that skips has
not tested what it claims); elsewhere a missing tool still skips, saying why."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"
TESTS = """
import pytest

def test_needs_a_tool():
    pytest.skip("the tool is not installed")

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no GPU here")
"""


def test_under_ci_a_skip_fails_unless_the_test_needs_a_gpu(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(TESTS)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true, which allows no skip: *the tool is not installed*"])


def test_a_module_skipped_at_import_fails_under_ci(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        'import pytest\nno_such = pytest.importorskip("no_such_module_here")\ndef test_x():\n    pass\n'
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped under CI=true*no_such_module_here*"])


def test_outside_ci_a_missing_tool_skips(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(TESTS)
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)
