"""The one bounded cache type: least recently used out first, one build per key under concurrency, no lock kept."""

import threading

import pytest

from snapmix_demo.cache import BoundedCache


def test_least_recently_used_entries_go_first():
    cache = BoundedCache(3)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("d", "D")
    assert cache.keys() == ["c", "a", "d"] and cache.get("b") is None and len(cache) == 3
    cache.clear()
    assert len(cache) == 0 and cache.keys() == []


def test_concurrent_misses_build_once_and_share_the_value():
    cache, barrier, release = BoundedCache(2), threading.Barrier(7), threading.Event()
    built, got = [], []

    def build() -> object:
        release.wait(5)  # the others ask while the one build runs
        built.append(object())
        return built[-1]

    def ask() -> None:
        barrier.wait()
        got.append(cache.get_or_build("k", build))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    barrier.wait()  # every thread is about to ask
    release.set()
    for t in threads:
        t.join()
    assert len(built) == 1 and cache.builds == 1 and all(v is built[0] for v in got)
    assert cache.pending_builds == 0


def test_a_failed_build_stores_nothing_keeps_no_lock_and_is_retried():
    cache = BoundedCache(2)

    def fail() -> object:
        raise ValueError("no such weights")

    for _ in range(3):
        with pytest.raises(ValueError, match="no such weights"):
            cache.get_or_build("k", fail)
    assert cache.pending_builds == 0 and len(cache) == 0 and cache.builds == 0
    assert cache.get_or_build("k", lambda: 7) == 7 and cache.builds == 1
