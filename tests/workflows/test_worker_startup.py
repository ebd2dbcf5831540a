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
        assert gc.get_freeze_count() > 50_000  # Django and the apps, at least
        # The other worker threads freeze nothing more. (Not told by the count: a frozen object
        # that another thread frees leaves the permanent generation, and the count falls by one.)
        again: list[int] = []
        monkeypatch.setattr(gc, "freeze", lambda: again.append(1))
        monkeypatch.setattr(gc, "collect", lambda *args: again.append(2) or 0)
        tasks.freeze_startup_objects()
        assert again == []
    finally:
        monkeypatch.undo()
        gc.unfreeze()
