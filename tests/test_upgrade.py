"""A project written by an earlier llm4tag opens, tags and is re-calibrated without edits by hand.

``tests/data/project-3e8f366.tar.gz`` was made by the code at that commit (``tests/data/make_old_project.py``):
settings under their old names (``[confidence] judge``, ``[recall] supervised_min_contents``,
``thin_slots``), learned paths pickled whole, calibration files of that version."""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path

import pytest
from tests.conftest import debtags_slice

from llm4tag.config import CONFIG_NAME
from llm4tag.corpus import Document
from llm4tag.project import Project

OLD = Path(__file__).parent / "data" / "project-3e8f366.tar.gz"


@pytest.fixture
def old_project(tmp_path) -> Path:
    with tarfile.open(OLD) as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "project-3e8f366"


def test_an_old_project_opens_with_one_warning_that_names_each_renamed_setting(old_project, caplog):
    written = (old_project / CONFIG_NAME).read_text()
    assert "supervised_min_contents" in written and "thin_slots" in written  # what the test is about
    with caplog.at_level(logging.WARNING, logger="llm4tag"), Project.open(old_project) as project:
        config = project.config
        assert config.recall.learned_min_contents == 100 and config.recall.few_example_slots == 2
        assert config.pipeline.judge == "none" and config.pipeline.use_llm == "auto"
    renamed = [r.getMessage() for r in caplog.records if "renamed" in r.getMessage()]
    assert len(renamed) == 1, caplog.text
    for old, new in [
        ("[confidence] judge", "[pipeline] judge"),
        ("[recall] supervised_min_contents", "[recall] learned_min_contents"),
        ("[recall] thin_slots", "[recall] few_example_slots"),
        ("[recall] thin_examples", "[recall] few_examples"),
    ]:
        assert f"{old} -> {new}" in renamed[0]


def test_an_old_project_tags_with_its_fitted_paths_and_recalibrates(old_project):
    graph = old_project / "graph"
    assert (graph / "supervised.pkl").exists() and (graph / "tree.pkl").exists()
    texts = [r["text"] for r in debtags_slice("test", 20)]
    with Project.open(old_project) as project:
        results = project.tag(texts)
        assert all(r.tags for r in results)
        learned = project.recall_index.learned.fitted()
        assert sorted(learned) == ["supervised", "tree"]
        for name, (path, stamp) in learned.items():  # read from the old pickles, not refitted
            assert path.n_contents_ == 150 and stamp.contents == 150, name
            assert (graph / "learned" / name / "path.json").exists() and not (graph / f"{name}.pkl").exists()
        dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 60)]
        project.calibrate(dev)
        report = project.optimize(dev)
        assert report["pruning"]["f1"] > 0 and Path(report["saved_to"]).is_file()
        again = project.tag(texts)
    assert [r.tags[0].tag_id for r in again] == [r.tags[0].tag_id for r in results]  # same recall, same paths
    with Project.open(old_project) as project:  # the paths in today's format load as they were saved
        assert project.tag(texts[:3])[0].tags[0].tag_id == results[0].tags[0].tag_id
