"""A worker's start leaves what it loaded out of the garbage collector's full passes."""

from __future__ import annotations

import gc

from huey.contrib.djhuey import HUEY

from workflows import tasks


def test_worker_startup_freezes_what_it_loaded(monkeypatch) -> None:
    assert tasks.start_worker_heartbeat in HUEY._startup.values()  # every consumer thread runs it
    monkeypatch.setitem(tasks._frozen, "pid", 0)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        tasks.freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 50_000  # Django and the apps, at least
        garbage = [[] for _ in range(10)]
        tasks.freeze_startup_objects()  # the other worker threads: nothing more
        assert gc.get_freeze_count() == frozen and garbage
    finally:
        gc.unfreeze()
