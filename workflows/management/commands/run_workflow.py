"""Run a workflow file: register (or update) it, queue a run, and optionally follow it live."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows import cli, extensions, recovery, runner, saving


class Command(BaseCommand):
    help = "Run a workflow file. With --wait, show progress live; exit 1 if the run failed, 2 if cancelled."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A workflow file (YAML or JSON).")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="A run parameter.")
        parser.add_argument("--wait", action="store_true", help="Follow the run to its end; exit 1 if it failed.")

    def handle(self, *args, file: str, param: list[str], wait: bool, **options):
        source, fmt, spec = cli.read_workflow_file(file)
        params = cli.parse_params(param)
        try:
            runner.resolve_params(spec, params)  # before saving: a mistyped --param stores nothing
        except runner.ParamError as exc:
            raise CommandError(str(exc)) from None
        workflow = saving.save_workflow(source, fmt=fmt, spec=spec, base_dir=str(Path(file).resolve().parent))
        run = runner.create_run(workflow, params=params, trigger="cli", enqueue=False)
        final = run_and_follow(self, run, wait)
        if final is not None and final.status != "success":
            raise SystemExit(cli.exit_code(final))


def run_and_follow(command: BaseCommand, run, wait: bool):
    """Hand the run to a live consumer, or (with --wait and none running) execute it here."""
    url = f"{runner.site_url()}{run.get_absolute_url()}"
    if recovery.consumer_alive():
        runner.enqueue_run(run.pk)
        command.stdout.write(f"queued run #{run.number} of {run.workflow.name}: {url}")
        if not wait:
            return None
        return _follow(command, run.pk)
    if not wait:
        runner.enqueue_run(run.pk)
        command.stdout.write(
            f"queued run #{run.number} of {run.workflow.name}: {url}\n"
            "no worker is running: it starts when the server (make run) or a worker (manage.py run_huey) does; "
            "use --wait to run it here now"
        )
        return None
    command.stdout.write(f"running #{run.number} of {run.workflow.name} here (no worker is running)")
    extensions.warm_up()  # as a worker does when it starts: the loading is not the run's time
    worker = runner.execute_in_thread(run.pk)
    try:
        final = _follow(command, run.pk)
    finally:
        worker.join()
    return final


def _follow(command: BaseCommand, run_id: int):
    try:
        final = cli.follow(run_id, command.stdout)
    except KeyboardInterrupt:
        from workflows.models import Run

        run = Run.objects.get(pk=run_id)
        runner.request_cancel(run)
        command.stderr.write("cancelling...")
        final = cli.follow(run_id, command.stdout)
    command.stdout.write(cli.describe(final))
    return final
