"""Run the integration tests again in the scaled-out mode: PostgreSQL + Redis.

Settings are read once per process, so the second mode is a second pytest process. Missing
services skip this step, except with REQUIRE_SERVICES=1 (CI), where they fail it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable(port)]
    if missing:
        message = f"scaled-out mode: {' and '.join(missing)} not reachable on 127.0.0.1"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            print(f"FAILED {message} (REQUIRE_SERVICES=1)")
            return 1
        print(f"SKIPPED {message}")
        return 0
    env = dict(
        os.environ,
        DATABASE_URL=os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        HUEY_QUEUE=f"runner-test-{os.getpid()}",
        CHANNELS_PREFIX=f"runner-test-{os.getpid()}",
    )
    print("scaled-out mode: PostgreSQL + Redis", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", "-m", "integration", *sys.argv[1:]], env=env)


if __name__ == "__main__":
    sys.exit(main())
