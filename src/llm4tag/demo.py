"""The quick-start job: build a sample project from debtags and tag a few unseen documents."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from llm4tag.corpus.loaders import iter_corpus
from llm4tag.errors import InputError
from llm4tag.project import Project


def run_demo(
    data: Path, project_dir: Path, *, train_limit: int = 5000, documents: int = 5, top: int = 8, use_llm: bool = True
) -> None:
    for name in ("tags.jsonl", "train.jsonl", "test.jsonl"):
        if not (data / name).exists():
            raise InputError(f"expected the debtags data set here ({name} is missing)", path=data)
    started = time.perf_counter()
    exists = (project_dir / "llm4tag.toml").exists()
    with Project.open(project_dir) if exists else Project.init(project_dir) as project:
        # the paper's pipeline: the LLM picks tags, then judges its own picks (Yes/No, P(Yes)); calibrating
        # the judge needs LLM runs over dev (``llm4tag calibrate``), so the confidence shown is the
        # calibrated recall-stage confidence and the judge's raw P(Yes) is printed beside it
        project.config.confidence.judge = "generated"
        project.config.save(project.directory)
        project.add_tags(data / "tags.jsonl")
        library = project.library
        train = iter_corpus(data / "train.jsonl", library=library, on_unknown="skip")
        if train_limit:
            train = itertools.islice(train, train_limit)
        project.add_contents(list(train))
        print(f"project {project_dir}: {len(library)} tags, {project.store.count_contents()} annotated contents")
        print(project.index())
        dev = list(itertools.islice(iter_corpus(data / "dev.jsonl", library=library, on_unknown="skip"), 500))
        report = project.calibrate(dev, overrides={"judge": "none"})["recall"]
        print(
            f"confidence calibrated on {len(dev)} dev documents: ECE {report['raw_fused_score']['ece']:.3f} (raw score)"
            f" -> {report['calibrated_in_sample']['ece']:.3f}"
        )
        docs = list(itertools.islice(iter_corpus(data / "test.jsonl", library=library, on_unknown="skip"), documents))
        if use_llm:
            print(
                f"tagging {len(docs)} test documents with {project.config.llm.options.get('model')} "
                f"({project.config.llm.backend}; about 20 s each on one core: selection, then a Yes/No judgement"
                " of each pick) ..."
            )
            tagged = project.tag(docs, progress=True)
        else:
            tagged = project.tag(docs, llm=False)
        for doc, tagging in zip(docs, tagged):
            candidates, confidence = tagging.recall.candidates, tagging.scored.candidate_conf
            gold = set(doc.tags)
            print(f"\n== {doc.id}: {doc.text.splitlines()[0][:100]}")
            print("    confidence  recall score  tag                                      paths")
            ranked = sorted(zip(candidates, confidence), key=lambda pair: -pair[1])[:top]
            for c, p in ranked:
                mark = "*" if c.tag_id in gold else " "
                paths = ",".join(sorted(c.paths))
                print(f"  {mark} {p:10.2f}  {c.score:12.3f}  {c.tag_id:<40} [{paths}]")
            missed = gold - {c.tag_id for c, _ in ranked}
            if missed:
                print(f"    gold not in top {top}: {', '.join(sorted(missed))}")
            if use_llm:
                chosen = ", ".join(
                    f"{'*' if t.tag_id in gold else ''}{t.tag_id} ({t.score:.2f}"
                    + (f", P(yes) {t.p_yes:.2f})" if t.p_yes is not None else ")")
                    for t in tagging.tags
                )
                print(f"  LLM chose (confidence, judge's P(yes)): {chosen or '(nothing)'}")
        print(f"\n(* = in the human annotation) done in {time.perf_counter() - started:.0f} s")
