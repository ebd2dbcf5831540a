"""Check a workflow file: print every error with its line and field, or "valid"."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.engine.spec import WorkflowInvalid, parse_workflow


class Command(BaseCommand):
    help = "Validate a workflow file; exit 1 and list the errors if it is invalid."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            parse_workflow(path.read_text(encoding="utf-8"), path.name)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file}: not UTF-8 text ({exc.reason})") from None
        except WorkflowInvalid as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}: {error}")
            sys.exit(1)
        self.stdout.write("valid")
