"""Several service processes on one port: ``llm4tag serve --workers N``.

One process serves recall-only tagging with its pipeline batches on one lane, and that lane, the HTTP
event loop and the recall stage's threads share one GIL: on two cores a debtags service keeps a third of a
core idle. A second process on the same port uses it (1.04-1.26x the requests per second of one on this
machine's two cores; docs/experiments/service.md). Each worker is started afresh (spawned, not forked) and opens the
project itself; one that dies is started again.

The workers stay one service:

* **Writes**: the store (SQLite, WAL) is the only source of truth. A worker's recall follows what any other
  worker committed before its next batch (``Store.changed_elsewhere``), so feedback and learned contents
  are used by all of them at once; the tag library follows the same way.
* **Metrics**: counters and histograms are summed over the workers (prometheus_client's multiprocess mode,
  in a directory the parent makes and removes).
* **Connections are spread over the workers.** Workers that share one listening socket (uvicorn's own
  ``--workers``) compete for each connection, and a burst of keep-alive connections often lands on one of
  them: the other idles for as long as the connections live. On Linux each worker here listens on a socket
  of its own bound to the same port (``SO_REUSEPORT``), and the kernel hands out connections evenly; a worker
  joins only once its project is loaded. Elsewhere uvicorn's supervisor and shared socket serve.

Each worker holds its own copy of the models (memory) and, when it tags with the embedded LLM, its own LLM;
with the LLM in the loop, prefer one worker and an OpenAI-compatible server that batches.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from llm4tag.errors import Llm4tagError
from llm4tag.service.metrics import METRICS_VARIABLE

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

APP = "llm4tag.service.processes:app_from_environment"
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start: restarting it would fail the same way
SPEC_VARIABLE = "LLM4TAG_SERVE_SPEC"


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


def serve(project: str | Path, host: str, port: int, workers: int, overrides: dict, options: dict) -> None:
    """Serve the project with ``workers`` processes on ``host``:``port`` until SIGINT or SIGTERM; ``options``:
    uvicorn's (log level, graceful shutdown)."""
    if port == 0:  # one port for all of them, picked now
        with _bound(host, 0) as probe:
            port = probe.getsockname()[1]
    with worker_environment(project, host, port, overrides):
        if not (sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")):
            import uvicorn

            uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, **options)
            return
        # a clear error now if something else holds the port: the workers' sockets would otherwise share it
        # silently with another server that set SO_REUSEPORT too
        try:
            _bound(host, port).close()
        except OSError as exc:
            raise Llm4tagError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        _supervise(host, port, workers, options)


def _bound(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound as a server binds it (``SO_REUSEADDR``: closed connections do not hold the port),
    not yet listening."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _supervise(host: str, port: int, workers: int, options: dict) -> None:
    """Start the workers, restart one that dies, and stop them all on SIGINT or SIGTERM."""
    context = multiprocessing.get_context("spawn")  # the environment above is what a worker inherits

    def start() -> multiprocessing.Process:
        process = context.Process(
            target=_serve_one, args=(host, port, options, os.getpid()), name="llm4tag-worker", daemon=False
        )
        process.start()
        return process

    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    log.warning("llm4tag serving on http://%s:%d with %d workers", host, port, workers)
    try:
        while not stopping.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("a worker could not start (see above); stopping")
                    stopping.set()
                    break
                log.warning("worker %d exited with code %s; starting another", process.pid, process.exitcode)
                processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # each finishes its requests (shutdown_seconds)
        for process in processes:
            process.join(options.get("timeout_graceful_shutdown", 5) + 10)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if any(p.exitcode == STARTUP_FAILURE for p in processes):
        raise Llm4tagError("the service could not start; the workers' errors are above")


def _serve_one(host: str, port: int, options: dict, supervisor: int) -> None:
    """One worker: its own socket on the shared port (bound now, listening once the project is loaded)."""
    import uvicorn

    metrics_dir = Path(os.environ[METRICS_VARIABLE])
    presence = _hold_presence(metrics_dir)
    server = uvicorn.Server(uvicorn.Config(APP, factory=True, **options))
    orphaned = threading.Event()
    threading.Thread(
        target=_stop_when_orphaned, args=(supervisor, server, orphaned), name="llm4tag-orphan", daemon=True
    ).start()
    server.run(sockets=[_bound(host, port, reuse_port=True)])
    # reached by an orphan only: after SIGTERM, uvicorn ends the process with that signal once it has shut down
    if orphaned.is_set():  # no supervisor is left to remove the metrics directory: the last worker out does
        _leave_metrics(metrics_dir, presence)


def _stop_when_orphaned(
    supervisor: int, server: uvicorn.Server, orphaned: threading.Event, every_seconds: float = 1.0
) -> None:
    """Stop this worker (as SIGTERM does: it finishes its requests) once its supervisor is gone. A supervisor
    killed outright (SIGKILL, the OOM killer) cannot stop its workers, and they would otherwise keep the port
    and serve on, unsupervised, from a project no one restarts."""
    while os.getppid() == supervisor:
        time.sleep(every_seconds)
    log.warning("the supervisor (pid %d) is gone; worker %d stops", supervisor, os.getpid())
    orphaned.set()
    server.should_exit = True


def _hold_presence(metrics_dir: Path) -> int:
    """A file in the metrics directory locked for as long as this worker lives: the kernel lets go of the lock
    however the process ends, so a lock that can be taken is a worker that is gone (prometheus_client reads
    only the ``.db`` files there)."""
    import fcntl

    fd = os.open(metrics_dir / f"worker_{os.getpid()}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _leave_metrics(metrics_dir: Path, presence: int) -> None:
    """An orphaned worker on its way out: the last one removes the metrics directory, so a killed supervisor
    leaves nothing in the temporary directory. Each first withdraws its own lock file and only then looks for
    the others', so of two leaving at once the later one to look sees none and removes it."""
    import fcntl

    (metrics_dir / f"worker_{os.getpid()}.lock").unlink(missing_ok=True)
    os.close(presence)
    for lock in metrics_dir.glob("worker_*.lock"):
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # withdrawn meanwhile: that worker is leaving too
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a worker still serving: it removes the directory when it leaves
            return
        finally:
            os.close(fd)
    shutil.rmtree(metrics_dir, ignore_errors=True)
