"""The same pipeline as a Ray Data job: ``llm4tag tag --engine ray`` (extra ``[scale]``).

Each actor opens the project and runs its pipeline (with the same overrides as a local run) over batches; Ray streams
the input and balances batches over actors (one per core or GPU share); results stream back to the
driver, which appends them to the same resumable JSONL/Parquet output as a single-process run.
The project directory must be readable at the same path on every node (shared storage). With a vLLM
or other OpenAI-compatible backend the actors only send requests, so CPU nodes suffice for them while
the LLM runs on GPU nodes (docs/scale.md).

The input is read on the driver by llm4tag's own loaders, with the checks a local run makes (a missing id
or text, a duplicate id, a text over the limit: one line naming the file, line and field, before anything
is tagged), and ids are strings either way (``7`` and ``"7"`` are one content). What scales is the tagging.

Resume: ids already in the output are filtered out before the job starts, so a rerun after an
interruption tags only what is missing, exactly once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from llm4tag.errors import ConfigError
from llm4tag.scale.batch import BatchReport, ResultWriter


class TaggingActor:
    """A Ray Data callable class: one open project per actor, reused for every batch."""

    def __init__(self, project_dir: str, with_candidates: bool = False, overrides: dict | None = None) -> None:
        from llm4tag.project import Project

        self.project = Project.open(project_dir)
        self.pipeline = self.project.pipeline(**(overrides or {}))
        self.with_candidates = with_candidates

    def __call__(self, batch: dict) -> dict:
        from llm4tag.corpus.documents import Document

        docs = [Document(str(i), str(t)) for i, t in zip(batch["id"], batch["text"])]
        results = self.pipeline.run(docs, batch_size=max(len(docs), 1))
        # one JSON string per content: the driver writes it as it is (nested results stay out of Arrow schemas)
        return {"record": [json.dumps(r.to_dict(with_candidates=self.with_candidates)) for r in results]}


def tag_with_ray(
    project_dir: str | Path,
    input_path: str | Path,
    output: str | Path,
    *,
    fmt: str | None = None,
    actors: int = 2,
    batch_size: int = 32,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float = 0.0,
    address: str | None = None,
    with_candidates: bool = False,
    overrides: dict | None = None,
) -> BatchReport:
    """Tag every content of ``input_path`` into ``output`` (JSONL, or Parquet by its suffix), resumable."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray engine needs its extra: pip install 'llm4tag[scale]'") from None
    from llm4tag.config import ProjectConfig
    from llm4tag.corpus.loaders import iter_corpus

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    writer = ResultWriter(output)
    done = writer.done_ids()
    limit = ProjectConfig.load(Path(project_dir)).index.max_text_chars
    # validated whole before Ray starts: a bad line is one clear error, not a job that half ran
    todo = [
        {"id": doc.id, "text": doc.text}
        for doc in iter_corpus(input_path, fmt, max_text_chars=limit)
        if doc.id not in done
    ]
    report = BatchReport(skipped_done=len(done), output=str(output))
    if not todo:
        writer.finish()
        return report
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    dataset = ray.data.from_items(todo)
    # Ray Data reserves part of a small cluster for each operator; a fixed pool that needs every core
    # would then wait forever for its last actor. Let the pool grow from one actor to ``actors``.
    ray.data.DataContext.get_current().op_resource_reservation_enabled = False
    tagged = dataset.map_batches(
        TaggingActor,
        fn_constructor_kwargs={
            "project_dir": str(Path(project_dir).resolve()),
            "with_candidates": with_candidates,
            "overrides": overrides,
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        num_cpus=cpus_per_actor,
        num_gpus=gpus_per_actor or None,
    )
    for batch in tagged.iter_batches(batch_size=None, batch_format="numpy"):
        records = [json.loads(r) for r in batch["record"]]
        writer.append(records)  # on the driver, as results stream in: same file format and resume as one process
        report.tagged += len(records)
    writer.finish()
    return report
