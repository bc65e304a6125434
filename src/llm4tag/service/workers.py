"""Several service processes on one port: ``llm4tag serve --workers N``.

One process serves recall-only tagging with its pipeline batches on one lane, and that lane, the HTTP
event loop and the recall stage's threads share one GIL: on two cores a debtags service keeps a third of a
core idle. A second process on the same port uses it (1.19-1.26x the requests per second of one on this
machine's two cores; docs/benchmarks.md). Each worker opens the project itself; uvicorn's supervisor forks none of it,
it starts each worker afresh and restarts one that dies.

The workers stay one service:

* **Writes**: the store (SQLite, WAL) is the only source of truth. A worker's recall follows what any other
  worker committed before its next batch (``Store.changed_elsewhere``), so feedback and learned contents
  are used by all of them at once; the tag library follows the same way.
* **Metrics**: counters and histograms are summed over the workers (prometheus_client's multiprocess mode,
  in a directory the parent makes and removes).

Each worker holds its own copy of the models (memory) and, when it tags with the embedded LLM, its own LLM;
with the LLM in the loop, prefer one worker and an OpenAI-compatible server that batches.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

SPEC_VARIABLE = "LLM4TAG_SERVE_SPEC"
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name: it reads it when first imported


@contextmanager
def worker_environment(project: str | Path, host: str, port: int, overrides: dict) -> Iterator[None]:
    """What every worker process reads when it starts (they are spawned, not forked: no state is shared but
    this), and the directory of their summed metrics, removed when the service stops."""
    metrics_dir = tempfile.mkdtemp(prefix="llm4tag-metrics-")
    spec = {"project": str(Path(project).resolve()), "host": host, "port": port, "overrides": overrides}
    saved = {name: os.environ.get(name) for name in (SPEC_VARIABLE, METRICS_VARIABLE)}
    os.environ[SPEC_VARIABLE], os.environ[METRICS_VARIABLE] = json.dumps(spec), metrics_dir
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)


def app_from_environment() -> FastAPI:
    """The application of one worker process (uvicorn's factory): opens the project the parent named and
    closes it when the worker stops."""
    from tqdm import tqdm

    from llm4tag.project import Project
    from llm4tag.service.app import create_app

    # tqdm's default lock is a multiprocessing one, which a spawned worker never releases: the parent would warn
    # of "leaked semaphore objects" at every stop. A worker's bars are all off; a thread lock does.
    tqdm.set_lock(threading.RLock())
    spec = json.loads(os.environ[SPEC_VARIABLE])
    project = Project.open(spec["project"], durable=True)
    try:
        config = project.config.service
        config.host, config.port = spec["host"], spec["port"]
        return create_app(project, config, overrides=spec["overrides"], close_project=True)
    except BaseException:
        project.close()
        raise


def multiprocess_metrics() -> bytes | None:
    """The Prometheus exposition summed over every worker, or None when this process serves alone."""
    directory = os.environ.get(METRICS_VARIABLE)
    if not directory:
        return None
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)
