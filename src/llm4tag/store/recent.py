"""What a service keeps in memory instead of the store: the most recently used items, a bounded number."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentItems(Generic[K, V]):
    """A thread-safe map that keeps its ``limit`` most recently used items (the service's two lanes share it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The items held for ``keys``, each now the most recently used."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
        return found

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        """Hold ``items``; the least recently used leave beyond ``limit``."""
        with self._lock:
            self._items.update(items)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
