"""Where the recall stage runs its GIL-free work (matrix products, the trees' predictions) beside its Python."""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

_pool: tuple[int, ThreadPoolExecutor] | None = None


class Inline:
    """Runs a submitted call at once, in this thread (the executor interface, for work too small to hand off)."""

    @staticmethod
    def submit(func, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # noqa: BLE001 - raised again by result(), as from a pool
            future.set_exception(exc)
        return future


INLINE = Inline()


def background() -> ThreadPoolExecutor:
    """The threads beside the recall stage's Python; a forked child (whose copy has no threads) makes its own."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(3, thread_name_prefix="llm4tag-recall"))
    return _pool[1]
