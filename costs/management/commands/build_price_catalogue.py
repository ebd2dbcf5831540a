"""Build a price catalogue version from the installed apache-libcloud's data (no network)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from costs.catalogues import build_version


class Command(BaseCommand):
    help = "Make a catalogue version from apache-libcloud's bundled pricing.json and record its sources."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="A new version even if the file did not change.")

    def handle(self, *args, force: bool, **options):
        version, created = build_version(force=force)
        verb = "built" if created else "unchanged: the installed file is already"
        self.stdout.write(f"{verb} catalogue version #{version.pk} ({version.label})")
        for source in version.sources:
            self.stdout.write(
                f"  {source['name']}: {source['package']} {source['version']} {source['file']} "
                f"sha256 {source['sha256'][:16]}… {source['licence']}, prices as of {source['as_of']}"
            )
        for key, count in sorted(version.counts.items()):
            self.stdout.write(f"  {key}: {count}")
