"""`manage.py import_sarif FILE --root PATH`: another tool's SARIF results become findings of PATH."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from security.ingest import record_report, start_scan, target_for
from security.scanners import sarif
from security.scanners.results import ScanReport


class Command(BaseCommand):
    help = "Import a SARIF 2.1.0 log as findings of the folder it describes."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--root", required=True, help="the folder the results' paths are relative to")

    def handle(self, *args, **options):
        root = Path(options["root"])
        if not root.is_dir():
            raise CommandError(f"{root}: not a folder", returncode=2)
        try:
            document = json.loads(Path(options["file"]).read_text())
            findings = sarif.import_log(document, root)
        except OSError as exc:
            raise CommandError(f"{options['file']}: {exc.strerror}", returncode=2) from None
        except ValueError as exc:
            raise CommandError(f"{options['file']}: {exc}", returncode=2) from None
        scan = start_scan(target_for(root), source="sarif", tools=sorted({f.tool for f in findings}) or ["sarif"])
        record_report(scan, ScanReport(root=str(root.resolve()), findings=findings,
                                       files=sorted({f.path for f in findings})))  # fmt: skip
        self.stdout.write(f"scan #{scan.pk}: {len(findings)} results, {scan.new_count} new findings")
