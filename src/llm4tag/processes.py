"""Helpers for the worker processes llm4tag starts (joblib's, for the learned paths' fits).

A light module on purpose: a worker imports it to run its initializer, and nothing here pulls in the heavy
libraries the parent has loaded.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int, poll_seconds: float = 1.0) -> None:
    """A worker process's initializer: end the worker once ``parent`` (the pid of the process that started it,
    passed in: a worker that starts after its parent died must not take its new parent for it) is gone. joblib
    keeps its workers for reuse, and a parent killed outright (``kill -9``, the OOM killer) left them running
    for hours, half a gigabyte each; a daemon thread that sees the parent change ends them within a second."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="llm4tag-exit-with-parent", daemon=True).start()
