"""A worker's start loads what every run needs, then leaves what it loaded out of the garbage
collector's full passes."""

from __future__ import annotations

import gc

import pytest
from django import urls
from huey.contrib.djhuey import HUEY

from workflows import extensions, tasks
from workflows.extensions import RunExtension


def test_worker_startup_freezes_what_it_loaded(monkeypatch) -> None:
    assert tasks.start_worker_heartbeat in HUEY._startup.values()  # every consumer thread runs it
    monkeypatch.setitem(tasks._frozen, "pid", 0)
    monkeypatch.setattr(extensions, "warm_up", lambda: None)  # tested below, with a database
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


@pytest.mark.django_db
def test_worker_startup_loads_what_every_run_needs(monkeypatch) -> None:
    """Before its first run, a worker has its extensions' data (the price catalogue, ~0.6 s to
    build) and the URL configuration: its first run's trace shows no loading gap."""
    from costs import catalogues
    from costs.pricing import catalogue as cat

    catalogues._load.cache_clear()
    cat._build_cached.cache_clear()
    urls.clear_url_caches()
    monkeypatch.setitem(tasks._frozen, "pid", 0)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    tasks.freeze_startup_objects()
    assert catalogues._load.cache_info().currsize == 1
    assert cat._build_cached.cache_info().currsize == 1
    assert "url_patterns" in urls.get_resolver().__dict__  # loaded (a cached property)
    catalogue, _versions = catalogues.current()
    assert catalogues._load.cache_info().hits >= 1  # the first run finds it ready
    row = catalogue.row("aws", "instance", "t3.micro", "us-east-1")
    assert row is not None and row.price > 0 and row.unit  # a whole row, not a shell
    assert row.layer == _versions[-1].pk  # copied into its catalogue version's layer


def test_a_failing_warm_up_is_logged_and_the_worker_starts(monkeypatch, caplog) -> None:
    class Broken(RunExtension):
        name = "broken"

        @classmethod
        def warm_up(cls) -> None:
            raise RuntimeError("no prices today")

    class Fine(RunExtension):
        warmed: list[int] = []

        @classmethod
        def warm_up(cls) -> None:
            cls.warmed.append(1)

    monkeypatch.setattr(extensions, "extension_classes", lambda: (Broken, Fine))
    extensions.warm_up()
    assert Fine.warmed == [1]  # the next extension still warms up
    assert "warm-up of the broken extension failed" in caplog.text
    assert "no prices today" in caplog.text
