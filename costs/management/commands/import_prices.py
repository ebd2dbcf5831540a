"""Import an admin's own prices (CSV or JSON, the catalogue's schema); they take precedence."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from costs.catalogues import import_prices
from costs.pricing.price_file import IMPORT_COLUMNS, PriceFileError


class Command(BaseCommand):
    help = f"Import prices from a CSV (columns: {', '.join(IMPORT_COLUMNS)}) or JSON file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A .csv or .json file of price rows.")
        parser.add_argument("--label", default="", help="A name for this catalogue version.")

    def handle(self, *args, file: str, label: str, **options):
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read it: {exc}") from None
        try:
            version = import_prices(text, filename=path.name, label=label)
        except PriceFileError as exc:
            raise CommandError(f"{file}: {exc}") from None
        rows = sum(version.counts.values())
        self.stdout.write(f"imported {rows} price rows as catalogue version #{version.pk}; they take precedence")
