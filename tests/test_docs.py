"""The reference docs keep up with the code: every configuration key is in docs/configuration.md, every route of
the service in docs/service.md; the README and the results page stay short and free of work diary words."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project

from llm4tag.config import ProjectConfig
from llm4tag.project import Project
from llm4tag.service import create_app

ROOT = Path(__file__).resolve().parents[1]
DIARY = re.compile(r"\b(issue|session|sessions) \d+|\bwork item\b", re.IGNORECASE)


def test_every_configuration_key_is_in_the_configuration_reference():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    config = ProjectConfig(name="x")
    missing = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            if f"## `[{field.name}]`" not in text:
                missing.append(f"[{field.name}]")
            section = text.split(f"## `[{field.name}]`", 1)[-1].split("\n## ", 1)[0]
            missing += [
                f"[{field.name}] {f.name}" for f in dataclasses.fields(value) if f"| `{f.name}` |" not in section
            ]
        elif f"| `{field.name}` |" not in text:
            missing.append(field.name)
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_every_route_of_the_service_is_in_the_service_reference(tmp_path):
    text = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    directory = debtags_project(tmp_path / "p", train=50)
    with Project.open(directory) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        paths = {(method.upper(), path) for path, ops in client.get("/openapi.json").json()["paths"].items()
                 for method in ops}  # fmt: skip
    paths |= {("GET", "/"), ("GET", "/static/app.js")}  # the web UI, outside the API document
    missing = sorted(f"{m} {p}" for m, p in paths if f"`{m} {p}`" not in text and f"{m} {p}`" not in text)
    assert not missing, f"not in docs/service.md: {missing}"


@pytest.mark.parametrize(("path", "most_lines"), [("README.md", 160), ("docs/benchmarks.md", 350)])
def test_the_readme_and_the_results_page_stay_short_and_say_no_diary_words(path, most_lines):
    text = (ROOT / path).read_text(encoding="utf-8")
    assert len(text.splitlines()) <= most_lines
    assert not DIARY.findall(text), DIARY.findall(text)


def test_reference_docs_and_docstrings_say_no_diary_words():
    found = []
    sources = [*(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if DIARY.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)
