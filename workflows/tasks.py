"""Huey tasks: execute a run; each consumer process also keeps a heartbeat and recovers orphans."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from . import runner

log = logging.getLogger("runner")


@db_task(name="execute_run")
def execute_run(run_id: int) -> None:
    runner.execute(run_id)


@db_periodic_task(crontab(minute="*"), name="scheduled_runs")
def scheduled_runs() -> None:
    """Once a minute on every consumer; a conditional UPDATE lets only one of them fire each run."""
    runner.trigger_scheduled()


_started = threading.Lock()
_beating = False


@HUEY.on_startup()
def start_worker_heartbeat() -> None:
    """Once per consumer process: say we're alive (for the CLI) and resume runs a dead worker left.

    Checking every beat (not once a minute) matters: a worker on this host that died is seen
    at once by its pid, so its runs resume within seconds.
    """
    global _beating
    with _started:
        if _beating:
            return
        _beating = True
    mode = "embedded" if settings.EMBEDDED else "redis"

    def beat() -> None:
        stop = threading.Event()
        while True:
            try:
                close_old_connections()
                runner.beat_worker(mode)
                runner.reap_orphans()
            except Exception:  # the database may be briefly unreachable; try again next beat
                log.exception("worker heartbeat failed")
            finally:
                connection.close()
            stop.wait(settings.RUNNER_HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="worker-heartbeat", daemon=True).start()
