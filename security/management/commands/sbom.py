"""`manage.py sbom (REQUIREMENTS | --env PYTHON) -o FILE`: a CycloneDX SBOM, validated before it is written."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from security.scanners import sbom
from security.scanners.manifests import ManifestError, environment_pins, read_manifest


class Command(BaseCommand):
    help = "Write a CycloneDX SBOM (JSON) of a requirements file or of an interpreter's installed packages."

    def add_arguments(self, parser):
        parser.add_argument("requirements", nargs="?", help="requirements.txt, pyproject.toml or poetry.lock")
        parser.add_argument("--env", metavar="PYTHON", help="the interpreter whose environment to describe")
        parser.add_argument("-o", "--output", required=True, metavar="FILE")

    def handle(self, *args, **options):
        if bool(options["requirements"]) == bool(options["env"]):
            raise CommandError("give a requirements file or --env PYTHON (one of them)", returncode=2)
        try:
            if options["env"]:
                pins, python = environment_pins(options["env"])
                subject, source = f"python {python} at {options['env']}", f"python:{options['env']}"
            else:
                path = Path(options["requirements"])
                pins, warnings = read_manifest(path, path.name)
                for warning in warnings:
                    self.stderr.write(f"warning: {warning}")
                subject, source = path.resolve().parent.name or path.name, str(path)
            document = sbom.build(pins, subject=subject, source=source)
        except (ManifestError, sbom.SbomInvalid) as exc:
            raise CommandError(str(exc), returncode=2) from None
        Path(options["output"]).write_text(document)
        self.stdout.write(
            f"{options['output']}: CycloneDX {sbom.SPEC_VERSION}, {len(sbom.components(pins))} components"
        )
