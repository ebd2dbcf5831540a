"""Run one script as a one-node workflow and print what it used (the seed's main job)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from workflows import cli, runner, saving
from workflows.engine.spec import WorkflowInvalid, parse_workflow
from workflows.management.commands.run_workflow import run_and_follow


class Command(BaseCommand):
    help = "Run a script (Python or executable) with a timeout and retries; print its resource usage."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Plain parse_args stops filling ARGS at the first option (`s.py --timeout 5 -- -x` is an
        # error); intermixed parsing takes the script's arguments wherever they stand.
        parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser):
        parser.add_argument("script")
        parser.add_argument(
            "script_args",
            nargs="*",
            metavar="ARGS",
            help="Arguments for the script (put them after -- if they start with -).",
        )
        parser.add_argument("--timeout", type=float, default=None, help="Seconds before the script is killed.")
        parser.add_argument("--retries", type=int, default=0, help="Extra attempts after a failure.")

    def handle(self, *a, script: str, script_args: list[str], timeout: float | None, retries: int, **options):
        path = Path(script)
        if not path.is_file():
            raise CommandError(f"{script}: no such file")
        if retries < 0:
            raise CommandError("--retries must be 0 or more")
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout must be more than 0 seconds")
        absolute = str(path.resolve())
        if absolute.endswith(".py"):
            argv = ["python", absolute, *script_args]
        elif os.access(absolute, os.X_OK):
            argv = [absolute, *script_args]
        else:
            argv = ["/bin/sh", absolute, *script_args]
        task: dict = {"run": argv, "retry": {"max_attempts": retries + 1, "initial_delay": 1}}
        if timeout:
            task["timeout"] = timeout
        source = yaml.safe_dump({"name": f"run_script {path.name}", "tasks": {"script": task}}, sort_keys=False)
        try:
            spec = parse_workflow(source, "script.yaml")
        except WorkflowInvalid as exc:
            raise CommandError(str(exc.errors[0])) from None
        workflow = saving.save_workflow(source, fmt="yaml", spec=spec, base_dir=os.getcwd())
        run = runner.create_run(workflow, trigger="cli", enqueue=False)
        final = run_and_follow(self, run, wait=True)
        self._report(final)
        if final.status != "success":
            raise SystemExit(cli.exit_code(final))

    def _report(self, run) -> None:
        task = run.tasks.get()
        self.stdout.write("resources:")
        for attempt in task.attempt_set.order_by("number"):
            ended = f"exit code {attempt.exit_code}" if attempt.exit_code is not None else "killed"
            if attempt.exit_code is None and attempt.signal:
                ended = f"killed by signal {attempt.signal}"
            self.stdout.write(
                f"  attempt {attempt.number}: {attempt.status}, {ended}, "
                f"wall {attempt.wall_s or 0:.3f}s, cpu {attempt.cpu_user_s or 0:.3f}s user + "
                f"{attempt.cpu_sys_s or 0:.3f}s sys, peak memory {_memory(attempt.peak_rss_bytes)}"
            )
        self.stdout.write(
            f"  total: {task.attempts} attempt(s), wall {task.wall_s or 0:.3f}s, cpu {task.cpu_s or 0:.3f}s, "
            f"peak memory {_memory(task.peak_rss_bytes)}"
        )


def _memory(n: int | None) -> str:
    # Memory is sampled while the script runs: one that ends within the first sample has no figure.
    return cli.human_bytes(n) if n else "not measured (too short)"
