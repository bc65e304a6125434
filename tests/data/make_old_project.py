"""Makes ``tests/data/project-<commit>.tar.gz``: a small project as an earlier llm4tag wrote it (old setting
names, learned paths pickled whole, calibrated and optimised), for the test that such a project opens, tags
and is re-calibrated after an upgrade. Run it with the earlier code on the path, from a checkout of it:

    git worktree add /tmp/old <commit> && cd /tmp/old
    PYTHONPATH=src:. python /path/to/llm4tag/tests/data/make_old_project.py <commit> /path/to/llm4tag/tests/data
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.conftest import DEBTAGS_TAGS, debtags_slice

from llm4tag.config import ProjectConfig
from llm4tag.corpus import Document
from llm4tag.project import Project

commit, out = sys.argv[1], Path(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    directory = Path(tmp) / f"project-{commit}"
    config = ProjectConfig(name="old-project")
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.generation.enabled, config.confidence.judge = False, "none"
    config.recall.supervised_min_contents, config.recall.thin_slots = 100, 2  # names as they were then
    config.recall.weights["mlp"] = 0.0  # its weights are the largest file; the other two paths stand for it
    with Project.init(directory, config) as project:
        project.add_tags(DEBTAGS_TAGS)
        project.add_contents([Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("train", 150)])
        project.index()
        project.recall_index.warm()
        dev = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 60)]
        project.calibrate(dev)
        project.optimize(dev)
    shutil.rmtree(directory / "cache", ignore_errors=True)
    with tarfile.open(out / f"project-{commit}.tar.gz", "w:gz") as archive:
        archive.add(directory, arcname=directory.name)
print(out / f"project-{commit}.tar.gz")
