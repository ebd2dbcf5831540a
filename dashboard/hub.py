"""Per-process fan-out of run events to this server's WebSockets.

Channels' usual pattern gives every socket its own channel in the group, so one event costs a
channel-layer delivery and a consumer dispatch per watcher. Here each server process joins a
group once, with one channel, and hands each frame to its local sockets itself. Events that
arrive while the loop is busy are merged into one frame per group, so a burst (a wide DAG
finishing hundreds of tasks) costs a few frames, not hundreds, and never builds a backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from channels.layers import get_channel_layer

log = logging.getLogger("runner.events")


class Subscriber(Protocol):
    async def send_frame(self, text: str) -> None: ...


class LocalHub:
    def __init__(self) -> None:
        self.members: dict[str, set[Subscriber]] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.channel: str | None = None
        self._pump: asyncio.Task | None = None
        self._flushing: asyncio.Task | None = None
        self._lock: asyncio.Lock | None = None

    async def join(self, group: str, subscriber: Subscriber) -> None:
        await self._start()
        members = self.members.setdefault(group, set())
        if not members:
            await get_channel_layer().group_add(group, self.channel)
        members.add(subscriber)

    async def leave(self, group: str, subscriber: Subscriber) -> None:
        members = self.members.get(group)
        if members is None:
            return
        members.discard(subscriber)
        if not members:
            del self.members[group]
            if self.channel is not None:
                await get_channel_layer().group_discard(group, self.channel)

    async def _start(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._pump is None or self._pump.done():
                self.channel = await get_channel_layer().new_channel("hub.")
                self._pump = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        layer = get_channel_layer()
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a lost Redis connection: try again rather than go deaf
                log.exception("event hub could not receive")
                await asyncio.sleep(0.5)
                continue
            group = message.get("group")
            if group not in self.members:
                continue
            self.pending.setdefault(group, []).extend(message.get("events", []))
            if self._flushing is None:
                self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        # Runs after the receiver has taken every message already waiting: they go out together.
        await asyncio.sleep(0)
        pending, self.pending = self.pending, {}
        self._flushing = None
        for group, events in pending.items():
            run = next((e.get("run") for e in events if e.get("run") is not None), None)
            text = json.dumps({"type": "events", "run": run, "events": events}, separators=(",", ":"))
            for subscriber in list(self.members.get(group, ())):
                try:
                    await subscriber.send_frame(text)
                except Exception:  # a socket that just went away; its disconnect will leave()
                    log.debug("could not send to a subscriber of %s", group, exc_info=True)


hub = LocalHub()
