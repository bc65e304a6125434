"""``[prune] hierarchy`` on a data set with a hierarchy: debtags with its facets as parent tags.

debtags has no ``parent``, but every tag belongs to a facet (``devel::lang:python`` to ``devel``, "Software
Development"). This benchmark makes the facets tags of their own, the parents of their tags, and builds two
projects from the same train split:

* ``leaf``: annotated as debtags is (the curators' most specific tags only);
* ``closed``: every content also carries its tags' facets (annotated at both levels, as many libraries are).

Each is calibrated and optimized on dev (annotated the same way), then tags test with each hierarchy option.
Document F1 against both golds: as annotated (leaves), and closed upward (leaves and their facets: what a
hierarchical reader counts as right).

    python -m bench.quality.hierarchy --data ../shared/data/debtags --work /tmp/hier --out hier.json
    python -m bench.quality.hierarchy --data /work/check-sets/debtags-short --work /tmp/hier-short
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from bench.common import machine
from llm4tag.calibration.settings import HIERARCHY_MODES
from llm4tag.config import ProjectConfig
from llm4tag.corpus import Document
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def library_with_facets(tags: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The tags with their facet as parent, the facets as tags; and each tag's facet."""
    facets = {t["facet"]: t.get("facet_label") or t["facet"] for t in tags if t.get("facet")}
    assert not set(facets) & {t["id"] for t in tags}, "a facet name is also a tag id"
    parents = [{"id": f, "label": label, "description": f"{label} (a debtags facet)"} for f, label in facets.items()]
    children = [{**t, "parent": t["facet"]} if t.get("facet") else t for t in tags]
    return parents + children, {t["id"]: t["facet"] for t in tags if t.get("facet")}


def documents(rows: list[dict], facet_of: dict[str, str], closed: bool) -> list[Document]:
    out = []
    for row in rows:
        tags = [t for t in row.get("tags", []) if t in facet_of]
        if closed:
            tags += sorted({facet_of[t] for t in tags} - set(tags))
        if tags:
            out.append(Document(row["id"], row["text"], tags))
    return out


def build(directory: Path, tags: list[dict], train: list[Document], dev: list[Document]) -> None:
    """A recall-only project (the hierarchy options act on the final tag set, whatever made it)."""
    if (directory / "done").exists():
        return
    if not (directory / "indexed").exists():
        config = ProjectConfig(name=directory.name)
        config.pipeline.use_llm = "never"
        with Project.init(directory, config, exist_ok=True) as project:
            project.add_tags(_write(directory.parent / f"{directory.name}-tags.jsonl", tags))
            project.add_contents(train)
            project.index()
        (directory / "indexed").write_text("")
    with Project.open(directory) as project:
        project.config.pipeline.use_llm = "never"
        project.config.save(project.directory)
    with Project.open(directory) as project:
        project.calibrate(dev, progress=True)
        project.optimize(dev, progress=True)
    (directory / "done").write_text("")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--work", required=True)
    parser.add_argument("--out")
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tags, facet_of = library_with_facets(read_jsonl(data / "tags.jsonl"))
    rows = {split: read_jsonl(data / f"{split}.jsonl") for split in ("train", "dev", "test")}
    leaf_gold = [set(d.tags) for d in documents(rows["test"], facet_of, closed=False)]
    test = documents(rows["test"], facet_of, closed=True)
    closed_gold = [set(d.tags) for d in test]
    report: dict = {
        "data": str(data),
        "machine": machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "facets": len(set(facet_of.values())),
        "test_contents": len(test),
    }
    for annotation in ("leaf", "closed"):
        directory = work / annotation
        closed = annotation == "closed"
        start = time.perf_counter()
        build(directory, tags, documents(rows["train"], facet_of, closed), documents(rows["dev"], facet_of, closed))
        report[f"{annotation}_build_seconds"] = round(time.perf_counter() - start, 1)
        with Project.open(directory) as project:
            for mode in HIERARCHY_MODES:
                results = project.tag([Document(d.id, d.text) for d in test], hierarchy=mode, progress=True)
                predicted = [[t.tag_id for t in r.tags] for r in results]
                report[f"{annotation}/{mode}"] = {
                    "doc_f1_vs_leaves": round(set_scores(leaf_gold, predicted).f1, 4),
                    "doc_f1_vs_closed": round(set_scores(closed_gold, predicted).f1, 4),
                    "tags_per_content": round(sum(map(len, predicted)) / len(predicted), 3),
                    "facets_per_content": round(
                        sum(t in facet_of.values() for p in predicted for t in p) / len(predicted), 3
                    ),
                }
                print(annotation, mode, report[f"{annotation}/{mode}"], flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
