"""`manage.py scan PATH [--requirements FILE] [--sarif OUT] [--fail-on SEVERITY]`: scan a folder for CI.

Exit status: 0 when nothing open or confirmed is at or above --fail-on, 1 when something is,
2 when the scan itself could not run (bad arguments, a scanner missing).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from security.export import sarif_for_scan
from security.models import Finding
from security.scanners import severity as sev
from security.scanners.pipeline import ALL_TOOLS
from security.scanning import scan_folder


class Command(BaseCommand):
    help = "Scan a folder (Bandit, Semgrep, detect-secrets, OSV) and store the findings; exit 1 on --fail-on."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--requirements", action="append", default=None, metavar="FILE",
                            help="requirements.txt, pyproject.toml or poetry.lock (repeatable; default: found in PATH)")  # fmt: skip
        parser.add_argument("--env", metavar="PYTHON", help="also check what this interpreter has installed")
        parser.add_argument("--sarif", metavar="OUT", help="write what the scan saw as SARIF 2.1.0")
        parser.add_argument("--fail-on", choices=sev.SEVERITIES, help="exit 1 if an untriaged finding is this severe")
        parser.add_argument("--tools", default=",".join(ALL_TOOLS), help=f"comma-separated, of {', '.join(ALL_TOOLS)}")
        parser.add_argument("--no-cache", action="store_true", help="scan every file again")

    def handle(self, *args, **options):
        root = Path(options["path"])
        if not root.is_dir():
            raise CommandError(f"{root}: not a folder", returncode=2)
        tools = [t.strip() for t in options["tools"].split(",") if t.strip()]
        unknown = [t for t in tools if t not in ALL_TOOLS]
        if unknown:
            raise CommandError(f"unknown scanner '{unknown[0]}' (expected: {', '.join(ALL_TOOLS)})", returncode=2)
        requirements = options["requirements"]
        for name in requirements or []:
            if not (root / name).is_file() and not Path(name).is_file():
                raise CommandError(f"{name}: no such requirements file", returncode=2)
        if requirements:  # relative to PATH first, else to the current folder
            requirements = [n if (root / n).is_file() else str(Path(n).resolve()) for n in requirements]
        try:
            scan = scan_folder(root, source="cli", tools=tools, manifests=requirements, environment=options["env"],
                               use_cache=not options["no_cache"])  # fmt: skip
        except Exception as exc:
            raise CommandError(f"the scan failed: {exc}", returncode=2) from None
        seen = Finding.objects.filter(occurrences__scan=scan).order_by("-severity_rank", "path", "line")
        for finding in seen:
            mark = "" if finding.is_blocking else f"  [{finding.get_state_display()}]"
            self.stdout.write(
                f"{finding.severity:<8} {finding.tool:<15} {finding.rule_id:<32} {finding.location}{mark}"
            )
            self.stdout.write(f"         {finding.message[:160]}")
        for error in scan.errors:
            where = f"{error['path']}: " if error.get("path") else ""
            self.stderr.write(f"{error.get('level', 'error')}: {error['tool']}: {where}{error['message']}")
        counts = ", ".join(f"{scan.counts[s]} {s}" for s in sev.SEVERITIES if scan.counts.get(s)) or "no findings"
        self.stdout.write(f"scan #{scan.pk} of {scan.target.root}: {len(scan.files)} files, {counts} "
                          f"({scan.new_count} new, {scan.fixed_count} fixed) in {scan.seconds:.1f}s")  # fmt: skip
        if options["sarif"]:
            Path(options["sarif"]).write_text(json.dumps(sarif_for_scan(scan), indent=2))
            self.stdout.write(f"SARIF written to {options['sarif']}")
        broken = [e for e in scan.errors if e.get("level", "error") == "error" and not e.get("path")]
        if broken:
            raise CommandError(f"{broken[0]['tool']} could not run: {broken[0]['message']}", returncode=2)
        if options["fail_on"]:
            failing = seen.blocking().at_least(options["fail_on"]).count()
            if failing:
                self.stderr.write(f"{failing} finding{'s' if failing != 1 else ''} at or above {options['fail_on']}")
                sys.exit(1)
