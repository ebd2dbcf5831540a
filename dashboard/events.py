"""The one way anything reaches a browser: `publish_events(run_id, events)` to the run's group.

Every run event carries the run's sequence number (allocated in the database in the same
transaction that stored what it describes); log lines carry their per-attempt line number.
Messages are handed to a single ordered sender on the server's event loop when this process
serves WebSockets (the in-memory layer is only safe on that loop), or to a private loop
thread elsewhere (workers, the CLI), so callers never block on delivery.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Iterable
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from .hub import hub

log = logging.getLogger("runner.events")

RUNS_GROUP = "runs"


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


class _Sender:
    """Sends channel-layer messages in order from any thread, on one event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._server_loop = False

    def use_server_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by the ASGI app from the server's loop; from then on messages go through it."""
        with self._lock:
            if self._server_loop and self._loop is loop:
                return
            self._loop, self._server_loop = loop, True
            self._queue = asyncio.Queue()
            loop.create_task(self._drain(self._queue))

    def _ensure_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._loop is not None and self._loop.is_running() and self._queue is not None:
                return self._loop, self._queue
            loop = asyncio.new_event_loop()
            started = threading.Event()
            holder: dict[str, asyncio.Queue] = {}

            def run() -> None:
                asyncio.set_event_loop(loop)

                async def main() -> None:
                    holder["queue"] = asyncio.Queue()
                    started.set()
                    await self._drain(holder["queue"])

                loop.run_until_complete(main())

            threading.Thread(target=run, name="event-sender", daemon=True).start()
            started.wait()
            self._loop, self._queue, self._server_loop = loop, holder["queue"], False
            return loop, holder["queue"]

    async def _drain(self, queue: asyncio.Queue) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # a full or unreachable layer must not stop later messages
                log.exception("could not publish to %s", group)

    def send(self, group: str, message: dict[str, Any]) -> None:
        loop, queue = self._ensure_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            queue.put_nowait((group, message))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, (group, message))


_sender = _Sender()


def use_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    _sender.use_server_loop(loop)


@functools.cache
def _in_process_layer() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def _watched(group: str) -> bool:
    """With the in-memory layer every watcher is a socket of this process's hub: when it has
    none for the group, nobody can receive, so nothing is sent (the pages' snapshots cover it:
    a page joins before it reads its snapshot)."""
    return not _in_process_layer() or bool(hub.members.get(group))


def publish_events(run_id: int, events: Iterable[dict[str, Any]], *, to_run_list: bool = False) -> None:
    """Send already-stored events (each with `seq`, or `lineno` for logs) to the run's page."""
    group = run_group(run_id)
    if not _watched(group) and not (to_run_list and _watched(RUNS_GROUP)):
        return
    batch = [{**event, "run": run_id} if "run" not in event else event for event in events]
    if not batch:
        return
    if _watched(group):
        _sender.send(group, message(group, batch))
    if to_run_list and _watched(RUNS_GROUP):
        runs = [e for e in batch if e.get("kind") == "run"]
        if runs:
            _sender.send(RUNS_GROUP, message(RUNS_GROUP, runs))


def message(group: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The channel-layer message every server process's hub (dashboard.hub) receives."""
    return {"type": "run.events", "group": group, "events": events}


def watched(run_id: int) -> bool:
    """Whether an event sent to the run's page could reach anyone now. False only with the
    in-memory layer and no socket of this process on that run: then its events need not even be
    built. Ask after the commit that stored what they would say (a page that joins later reads
    that in its snapshot)."""
    return _watched(run_group(run_id))
