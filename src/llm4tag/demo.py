"""The quick-start job: build a sample project from debtags and tag a few unseen documents.

The sample it reads by default ships inside the package (``llm4tag/data/debtags-sample``, its source and
licence in the README beside it); ``--data`` points it at the full data set, with the same file names,
compressed (``.jsonl.gz``) or not.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from llm4tag.config import ProjectConfig
from llm4tag.corpus.loaders import iter_corpus
from llm4tag.embedding.settings import EmbeddingConfig
from llm4tag.errors import InputError
from llm4tag.project import Project

#: the debtags sample shipped with the package: the full tag library, 5,000 train, 500 dev, 500 test contents
SAMPLE_DATA = Path(__file__).resolve().parent / "data" / "debtags-sample"


def data_file(data: Path, split: str) -> Path:
    """``data/<split>.jsonl``, or its gzip-compressed ``.jsonl.gz``; an :class:`InputError` when neither is there."""
    for name in (f"{split}.jsonl", f"{split}.jsonl.gz"):
        if (data / name).is_file():
            return data / name
    raise InputError(f"expected the debtags data set here ({split}.jsonl or {split}.jsonl.gz is missing)", path=data)


def run_demo(
    data: Path | None,
    project_dir: Path,
    *,
    train_limit: int = 5000,
    documents: int = 5,
    top: int = 8,
    use_llm: bool = True,
    embedding: str | None = None,
) -> None:
    """Build (or reuse) the sample project and tag ``documents`` test contents; ``embedding`` picks the
    embedder of a new sample project (``model2vec``: seconds instead of about a minute of MiniLM encoding)."""
    data = SAMPLE_DATA if data is None else data
    tags, train_file, dev_file, test_file = (data_file(data, split) for split in ("tags", "train", "dev", "test"))
    started = time.perf_counter()
    exists = (project_dir / "llm4tag.toml").exists()
    config = ProjectConfig(name=project_dir.name)
    if embedding:
        config.embedding = EmbeddingConfig(backend=embedding, options={"model": "default"})
    else:  # MiniLM on the first 64 tokens: 1.6x the encoding speed of 128, and as good on debtags (benchmarks)
        config.embedding.options["max_seq_length"] = 64
    with Project.open(project_dir) if exists else Project.init(project_dir, config) as project:
        project.add_tags(tags)
        library = project.library
        train = iter_corpus(train_file, library=library, on_unknown="skip")
        if train_limit:
            train = itertools.islice(train, train_limit)
        project.add_contents(list(train))
        print(f"project {project_dir}: {len(library)} tags, {project.store.count_contents()} annotated contents")
        print(project.index())
        dev = list(itertools.islice(iter_corpus(dev_file, library=library, on_unknown="skip"), 500))
        report = project.calibrate(dev, overrides={"judge": "none"})["recall"]
        print(
            f"confidence calibrated on {len(dev)} dev documents: ECE {report['raw_fused_score']['ece']:.3f} (raw score)"
            f" -> {report['calibrated_in_sample']['ece']:.3f}"
        )
        docs = list(itertools.islice(iter_corpus(test_file, library=library, on_unknown="skip"), documents))
        tagged = project.tag(docs)  # the default pipeline: calibrated recall, pruned (no LLM until it pays)
        judged = {}
        if use_llm:  # what the LLM judge thinks of the same candidates: its P(Yes) beside the confidence
            print(
                f"asking {project.config.llm.options.get('model')} ({project.config.llm.backend}) to judge the top"
                f" {project.config.pipeline.judge_top_n} candidates of each of {len(docs)} test documents"
                " (about 1 s per tag on a laptop core) ..."
            )
            for result in project.tag(docs, judge="candidates", generation=False, route=False, progress=True):
                judged[result.id] = {t.tag_id: t.p_yes for t in result.ranked if t.p_yes is not None}
        for doc, tagging in zip(docs, tagged):
            candidates, confidence = tagging.recall.candidates, tagging.scored.candidate_conf
            gold = set(doc.tags)
            p_yes = judged.get(doc.id, {})
            print(f"\n== {doc.id}: {doc.text.splitlines()[0][:100]}")
            print(f"    confidence  recall score  {'LLM P(yes)  ' if use_llm else ''}tag{' ' * 38}paths")
            ranked = sorted(zip(candidates, confidence), key=lambda pair: -pair[1])[:top]
            for c, p in ranked:
                mark = "*" if c.tag_id in gold else " "
                paths = ",".join(sorted(c.paths))
                judge = (f"{p_yes[c.tag_id]:10.2f}  " if c.tag_id in p_yes else " " * 12) if use_llm else ""
                print(f"  {mark} {p:10.2f}  {c.score:12.3f}  {judge}{c.tag_id:<40} [{paths}]")
            missed = gold - {c.tag_id for c, _ in ranked}
            if missed:
                print(f"    gold not in top {top}: {', '.join(sorted(missed))}")
            chosen = ", ".join(f"{'*' if t.tag_id in gold else ''}{t.tag_id} ({t.score:.2f})" for t in tagging.tags)
            print(f"  tags (confidence): {chosen or '(nothing above the threshold)'}")
        print(f"\n(* = in the human annotation) done in {time.perf_counter() - started:.0f} s")
