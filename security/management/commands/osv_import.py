"""`manage.py osv_import ZIP|DIR`: load OSV advisories (an export zip, or a folder of JSON/YAML) locally."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from security.advisories import import_advisories
from security.scanners.osv import AdvisoryError


class Command(BaseCommand):
    help = "Import OSV advisories (OSV's per-ecosystem export zip, or a folder of .json/.yaml records)."

    def add_arguments(self, parser):
        parser.add_argument("source", help="a zip (e.g. PyPI/all.zip) or a folder")

    def handle(self, *args, **options):
        path = Path(options["source"])
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder", returncode=2)
        try:
            result = import_advisories(path)
        except (AdvisoryError, OSError) as exc:
            raise CommandError(f"{path}: {exc}", returncode=2) from None
        self.stdout.write(f"{result.created} new, {result.updated} updated, {result.unchanged} unchanged advisories "
                          f"({result.withdrawn} withdrawn, not matched)")  # fmt: skip
