"""detect-secrets' scan of a file, looking only at the lines some plugin's pattern can match.

detect-secrets puts every line through its line filters and every plugin (each call by keyword
injection), about 0.1 ms a line: on a large tree that was most of a scan's time, spent on lines no
plugin can match. `LineGate` first finds, with the plugins' own compiled patterns, the lines that
could give a secret, and only those go through detect-secrets' own steps (its filters, each plugin's
`analyze_line`, the same context snippet from the whole file), so the results are exactly what
`detect_secrets.core.scan.scan_file` gives (a test compares the two on planted secrets and on a real
tree). A line can give a secret only when:

- regex plugins (detect-secrets' `RegexBasedDetector` lookup, or the JWT plugin, which filters it):
  one of the plugin's `denylist` patterns matches the line;
- high-entropy plugins: a quoted string of the plugin's charset is at least 2**limit - 1 characters
  long (a string of n characters has a Shannon entropy of at most log2 n; the plugin wants more than
  its limit; the 1 is a margin for floating point);
- the keyword plugin: the line holds one of its keywords (each of its patterns is built around the
  keyword alternation; checked when the gate is made) and a pattern for the file's type matches it.

Any other plugin (a custom one a baseline names) makes every line a candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import compress
from typing import Any

from detect_secrets.core import scan
from detect_secrets.core.log import log
from detect_secrets.plugins import keyword
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HexHighEntropyString, HighEntropyStringsPlugin
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.settings import get_plugins
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.filetype import determine_file_type

REGEX_LOOKUPS = (RegexBasedDetector.analyze_string, JwtTokenDetector.analyze_string)
# The hex plugin's entropy is the base one, lowered for all-digit strings: the bound still holds.
ENTROPIES = (HighEntropyStringsPlugin.calculate_shannon_entropy, HexHighEntropyString.calculate_shannon_entropy)


def _keyword_tables() -> list[dict[re.Pattern[str], int]]:
    return [keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, *keyword.REGEX_BY_FILETYPE.values()]


def _keywords_required() -> bool:
    """Every keyword pattern holds the keyword alternation, so a line without a keyword cannot match."""
    core = "|".join(keyword.DENYLIST)
    return all(core in regex.pattern for table in _keyword_tables() for regex in table)


class LineGate:
    @staticmethod
    def supported() -> bool:
        """Whether this detect-secrets has the per-line steps the gate calls (1.5 does); if not, the
        worker scans with `scan_file` itself."""
        return all(hasattr(scan, name) for name in ("_is_filtered_out", "_get_lines_from_file", "_scan_line"))

    def __init__(self, plugins: Any = None):
        plugins = get_plugins() if plugins is None else plugins
        self.patterns: list[re.Pattern[str]] = []  # a match anywhere in the line: a candidate
        self.entropy: list[tuple[re.Pattern[str], float]] = []  # quoted strings at least this long
        self.keywords: re.Pattern[str] | None = None
        self.every_line = False
        for plugin in plugins:
            kind = type(plugin)
            if (
                isinstance(plugin, RegexBasedDetector)
                and kind.analyze_line is BasePlugin.analyze_line
                and kind.analyze_string in REGEX_LOOKUPS
            ):
                self.patterns += plugin.denylist
            elif (
                isinstance(plugin, HighEntropyStringsPlugin)
                and kind.analyze_line is HighEntropyStringsPlugin.analyze_line
                and kind.analyze_string is HighEntropyStringsPlugin.analyze_string
                and kind.calculate_shannon_entropy in ENTROPIES
                and len(set(plugin.charset)) == len(plugin.charset)
                and plugin.regex.groups == 3
            ):
                self.entropy.append((plugin.regex, 2**plugin.entropy_limit - 1))
            elif kind is keyword.KeywordDetector:
                if not _keywords_required():
                    self.every_line = True
                self.keywords = re.compile("|".join(keyword.DENYLIST), re.IGNORECASE)
            else:
                self.every_line = True

    def candidates(self, filename: str, lines: list[str]) -> list[int]:
        """Indexes of the (right-stripped) lines that some plugin could find a secret in."""
        everything = range(len(lines))
        if self.every_line:
            return list(everything)
        hits: set[int] = set()
        for pattern in self.patterns:
            hits.update(compress(everything, map(pattern.search, lines)))
        for pattern, shortest in self.entropy:
            for index in compress(everything, map(pattern.search, lines)):
                if index not in hits and any(len(found[1]) >= shortest for found in pattern.findall(lines[index])):
                    hits.add(index)
        if self.keywords is not None:
            table = keyword.REGEX_BY_FILETYPE.get(
                determine_file_type(filename), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
            )
            for index in compress(everything, map(self.keywords.search, lines)):
                if index not in hits and any(regex.search(lines[index]) for regex in table):
                    hits.add(index)
        return sorted(hits)

    def scan_file(self, filename: str) -> Iterator[Any]:
        """What `detect_secrets.core.scan.scan_file` yields for the file, in the same order."""
        if scan._is_filtered_out(required_filter_parameters=["filename"], filename=filename):
            return
        try:
            for lines in scan._get_lines_from_file(filename):
                found = list(self._scan_lines(filename, lines))
                yield from found
                if found:  # as detect-secrets: eager transformers only when the plain lines found nothing
                    break
        except OSError:
            log.warning(f"Unable to open file: {filename}")

    def _scan_lines(self, filename: str, lines: list[str]) -> Iterator[Any]:
        stripped = [line.rstrip() for line in lines]
        plugins = get_plugins()
        for index in self.candidates(filename, stripped):
            number, line = index + 1, stripped[index]
            context = get_code_snippet(lines=lines, line_number=number)
            if scan._is_filtered_out(required_filter_parameters=["line"], filename=filename, line=line,
                                     context=context):  # fmt: skip
                continue
            for plugin in plugins:
                for secret in scan._scan_line(plugin=plugin, filename=filename, line=line, line_number=number,
                                              context=context):  # fmt: skip
                    if not scan._is_filtered_out(
                        required_filter_parameters=["context"], filename=secret.filename,
                        secret=secret.secret_value, plugin=plugin, line=line, context=context,
                    ):  # fmt: skip
                        yield secret
