"""Supervised fine-tuning data from the annotated corpus (long-term knowledge).

Two tasks, in chat format (``{"messages": [...]}`` per line, what trl's SFTTrainer and most SFT
tools read):

* selection: the real selection prompt (content, candidates from the real recall stage with the content
  itself left out of its own neighbours, retrieved examples) -> the gold tags among the candidates;
* judgement: the judgement prompt for (content, tag) -> "Yes" for gold tags, "No" for the highest-ranked
  wrong candidates (hard negatives), for the calibration module's judge.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from llm4tag.corpus.documents import Document
from llm4tag.fileio import atomic_write
from llm4tag.generation.generator import Example, TagGenerator, trim
from llm4tag.generation.prompts import load_prompt
from llm4tag.pipeline.stages import SelectStage


@dataclass
class ExportReport:
    selection: int
    judgement: int
    gold_outside_candidates: int

    def __str__(self) -> str:
        return (
            f"{self.selection} selection and {self.judgement} judgement examples; "
            f"{self.gold_outside_candidates} gold tag(s) were not recalled and are left out of the targets"
        )


def export_sft(
    project,
    docs: list[Document],
    out_dir: str | Path,
    *,
    negatives_per_document: int = 2,
    seed: int = 0,
    batch_size: int = 256,
) -> ExportReport:
    """Write ``selection.jsonl`` and ``judgement.jsonl`` into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    components = project.components
    cfg = components.config.generation
    library = project.library
    names = library.display_names()
    # prompts as the pipeline builds them (no model is started: only the messages are exported)
    generator = TagGenerator(None, load_prompt("select", components.prompt_dir), names, cfg)
    examples_for = SelectStage(
        components.llm, generator.template, cfg, components.store, components.embedder
    ).examples_for
    judge = load_prompt("judge", components.prompt_dir)
    selection_rows, judgement_rows = [], []
    missed = 0
    for start in range(0, len(docs), batch_size):
        batch = [d for d in docs[start : start + batch_size] if d.tags]
        recalls = project.recall([d.text for d in batch], exclude=[d.id for d in batch])
        for doc, recall in zip(batch, recalls):
            candidate_ids = [c.tag_id for c in recall.candidates][: cfg.candidates]
            examples: list[Example] = examples_for(doc, recall)
            request, name_to_id = generator.build_request(doc.text, candidate_ids, examples, [])
            gold = [t for t in candidate_ids if t in doc.tags]
            missed += len(set(doc.tags) - set(gold))
            answer = json.dumps({"tags": [names[t] for t in gold]}, ensure_ascii=False)
            selection_rows.append({"messages": [*request.messages, {"role": "assistant", "content": answer}]})
            negatives = [t for t in candidate_ids if t not in doc.tags][: negatives_per_document * 2]
            rng.shuffle(negatives)
            content = trim(doc.text, cfg.max_content_chars)
            for tag_id, label in [(t, "Yes") for t in doc.tags if t in library] + [
                (t, "No") for t in negatives[:negatives_per_document]
            ]:
                tag = {"name": names[tag_id], "description": trim(library[tag_id].description, 160)}
                messages = judge.messages(content=content, tag=tag)
                judgement_rows.append({"messages": [*messages, {"role": "assistant", "content": label}]})
    for name, rows in (("selection.jsonl", selection_rows), ("judgement.jsonl", judgement_rows)):
        with atomic_write(out_dir / name) as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return ExportReport(len(selection_rows), len(judgement_rows), missed)
