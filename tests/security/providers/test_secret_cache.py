"""The per-run cache: a document is read once per TTL, concurrent readers share one read, failures are not kept."""

from __future__ import annotations

import threading

import pytest

from security.providers.base import NotFoundError, SecretDocument
from security.providers.resolve import SecretCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_document_is_read_once_until_the_ttl_passes():
    clock, reads = Clock(), []
    cache = SecretCache(ttl=30, clock=clock)

    def load() -> SecretDocument:
        reads.append(1)
        return SecretDocument({"k": f"v{len(reads)}"}, str(len(reads)))

    assert cache.get(("p", "a", ""), load) == (SecretDocument({"k": "v1"}, "1"), False)
    clock.now = 29.9
    assert cache.get(("p", "a", ""), load)[1] is True
    clock.now = 30.0
    assert cache.get(("p", "a", ""), load) == (SecretDocument({"k": "v2"}, "2"), False)
    assert len(reads) == 2


def test_different_versions_are_different_entries():
    cache = SecretCache(ttl=30, clock=Clock())
    cache.get(("p", "a", "1"), lambda: SecretDocument({"k": "old"}, "1"))
    assert cache.get(("p", "a", ""), lambda: SecretDocument({"k": "new"}, "2"))[0].data == {"k": "new"}


def test_a_failed_read_is_not_cached():
    cache = SecretCache(ttl=30, clock=Clock())

    def fail() -> SecretDocument:
        raise NotFoundError("p", "p:a", "no secret")

    with pytest.raises(NotFoundError):
        cache.get(("p", "a", ""), fail)
    assert cache.get(("p", "a", ""), lambda: SecretDocument({"k": "v"}))[1] is False


def test_threads_asking_at_once_share_one_read():
    cache = SecretCache(ttl=30)
    started, release, reads = threading.Event(), threading.Event(), []

    def slow_load() -> SecretDocument:
        reads.append(1)
        started.set()
        release.wait(10)
        return SecretDocument({"k": "v"})

    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(cache.get(("p", "a", ""), slow_load)[1]))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: results.append(cache.get(("p", "a", ""), slow_load)[1]))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert len(reads) == 1 and sorted(results) == [False, True]


def test_clear_forgets_everything():
    cache = SecretCache(ttl=30, clock=Clock())
    cache.get(("p", "a", ""), lambda: SecretDocument({"k": "v"}))
    cache.clear()
    assert len(cache) == 0
