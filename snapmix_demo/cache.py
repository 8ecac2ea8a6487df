"""The one bounded, thread-safe cache: least recently used entries go first, a missing entry is built once.

Both caches of the project are this type: built models (`weights.cached_backbone`) and per-image
analyses (`pipeline`). A web server shares them between concurrent requests, so every access takes
the lock, and concurrent first requests for one key wait for a single build instead of each building.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """LRU mapping of at most `maxsize` entries, safe across threads.

    Example:
        >>> cache = BoundedCache(2)
        >>> cache.put("a", 1); cache.put("b", 2); cache.get("a"); cache.put("c", 3)
        1
        >>> cache.keys(), cache.get("b")  # "b" was the least recently used
        (['a', 'c'], None)
        >>> cache.get_or_build("d", lambda: 4), cache.builds
        (4, 1)
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.builds = 0  # values built by `get_or_build` so far
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> V | None:
        """The value of `key`, now the most recently used, or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store `value` under `key`, evicting the least recently used entries beyond `maxsize`."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of `key`; on a miss `build()` runs once however many threads ask, and a failure stores nothing."""
        if (found := self.get(key)) is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                if (found := self.get(key)) is not None:
                    return found
                value = build()
                with self._lock:
                    self.builds += 1
                self.put(key, value)
                return value
        finally:
            with self._lock:  # released on every path, failures included: no lock per bad key is kept
                if not key_lock.locked():
                    self._key_locks.pop(key, None)

    def keys(self) -> list[Hashable]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    @property
    def pending_builds(self) -> int:
        """Keys with a build under way (or waiting for one): 0 when the cache is idle."""
        with self._lock:
            return len(self._key_locks)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()
