"""WebSocket consumers: authorise, join the group, send a snapshot, then forward events.

Origin and session are checked by the ASGI stack (AllowedHostsOriginValidator, AuthMiddleware).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from workflows.models import Run
from workflows.snapshots import run_snapshot

from .events import RUNS_GROUP, run_group

UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


class _Authorised(AsyncJsonWebsocketConsumer):
    permission = "workflows.view_run"

    async def _refuse(self) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return True
        if not await database_sync_to_async(user.has_perm)(self.permission):
            await self.close(code=FORBIDDEN)
            return True
        return False

    async def run_events(self, message: dict) -> None:
        await self.send_json({"type": "events", "run": message["run"], "events": message["events"]})


class RunConsumer(_Authorised):
    async def connect(self) -> None:
        if await self._refuse():
            return
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        if not await database_sync_to_async(Run.objects.filter(pk=self.run_id).exists)():
            await self.close(code=NOT_FOUND)
            return
        # Join before reading the snapshot: nothing committed after the read can be missed.
        self.group = run_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(run_snapshot)(self.run_id))

    async def receive_json(self, content: dict, **kwargs) -> None:
        if content.get("action") == "resync":
            await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)


class RunListConsumer(_Authorised):
    """Run status changes for the run list and the overview; the page renders rows itself."""

    async def connect(self) -> None:
        if await self._refuse():
            return
        self.group = RUNS_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "snapshot"})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
