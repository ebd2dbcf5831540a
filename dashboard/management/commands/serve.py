"""Serve the dashboard with Daphne; in the embedded mode, run the Huey consumer in this process."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger("runner")


def start_embedded_consumer(workers: int):
    """Huey's consumer, in threads of this process, without its own signal handling (Daphne's)."""
    from huey.consumer import Consumer
    from huey.contrib.djhuey import HUEY

    import workflows.tasks  # noqa: F401  (registers the tasks and the startup hook)

    class EmbeddedConsumer(Consumer):
        def _set_signal_handlers(self) -> None:
            pass

    consumer = EmbeddedConsumer(HUEY, workers=workers, worker_type="thread", periodic=True, check_worker_health=False)
    consumer.start()
    return consumer


class Command(BaseCommand):
    help = "Serve the dashboard (Daphne, HTTP + WebSocket); embedded mode also runs the task queue."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.HUEY_WORKERS)
        parser.add_argument("--no-consumer", action="store_true", help="Do not run Huey workers in this process.")

    def handle(self, *args, host: str, port: int, workers: int, no_consumer: bool, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from dashboard.asgi import application

        consumer = None
        if settings.EMBEDDED and not no_consumer:
            consumer = start_embedded_consumer(workers)
        mode = "embedded (SQLite, in-process queue)" if settings.EMBEDDED else "scaled out (Redis)"
        self.stdout.write(f"Script Runner on http://{host}:{port}/ — {mode}")
        sys.stdout.flush()
        endpoints = build_endpoint_description_strings(host=host, port=port)
        try:
            Server(application=application, endpoints=endpoints, verbosity=0).run()
        finally:
            if consumer is not None:
                from workflows import runner

                runner.stop_active_runs("the server stopped")
                consumer.stop(graceful=False)
