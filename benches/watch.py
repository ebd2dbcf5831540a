"""How the benchmarks learn that a run has ended: the way the runs page does.

A subscriber joins the run list's event group in this process's hub, on an event loop that
stands in for Daphne's, so each run's final status arrives as the event a browser would get
(stored, published, fanned out). The benchmark's thread sleeps until then: polling the database
every few milliseconds would itself load the two cores the run is measured on.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading


class RunListWatcher:
    def __init__(self) -> None:
        from workflows.models import Run

        self.final_statuses = Run.FINAL
        self.ended: dict[int, str] = {}
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="bench-server-loop", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._join(), self.loop).result(timeout=30)

    async def _join(self) -> None:
        from dashboard import events
        from dashboard.hub import hub

        events.use_server_loop(asyncio.get_running_loop())
        await hub.join(events.RUNS_GROUP, self)

    async def send_frame(self, text: str) -> None:
        ended = {
            event["id"]: event["status"]
            for event in json.loads(text).get("events", ())
            if event.get("kind") == "run" and event.get("status") in self.final_statuses
        }
        if ended:
            with self.changed:
                self.ended.update(ended)
                self.changed.notify_all()

    def wait(self, run_id: int, timeout: float = 600.0) -> str:
        """The run's final status, as its event said; raises TimeoutError if none came."""
        with self.changed:
            if not self.changed.wait_for(lambda: run_id in self.ended, timeout):
                raise TimeoutError(f"run {run_id} sent no final status within {timeout:.0f} s")
            return self.ended.pop(run_id)


@functools.cache
def watcher() -> RunListWatcher:
    """This process's one watcher (call after django.setup())."""
    return RunListWatcher()
