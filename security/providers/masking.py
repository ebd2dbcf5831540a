"""Masking: every form of a run's secret values becomes `***`, in one pass over each line.

The forms of a value (base64, URL-encoded, JSON-escaped, hex, each line...) are in `forms`.

All forms of all values are compiled into one matcher: Hyperscan (a multi-pattern automaton,
so the cost of a line does not grow with the number of secrets), or, where it cannot be
installed, one alternation regex. The matcher finds every occurrence, overlapping ones too; the
union of their spans becomes `***`, and the result is scanned again in case the cut created a
new occurrence. Values shorter than MIN_SECRET_LENGTH characters (not counting surrounding
spaces) are not masked: masking `on` or `42` would mangle every log and still give the value
away by where the stars appear. Each such value gives a warning that the run shows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .forms import MIN_SECRET_LENGTH, secret_forms, too_short

MASK = "***"
# Longer forms are cut into overlapping pieces of this size, all of which a whole occurrence
# contains, so it is still masked from its first to its last byte. Hyperscan limits a pattern's
# length, and its compile time grows steeply with long repetitive patterns (x9x9x9...): with
# 256-character pieces a few such values took 0.3 s to compile, with 32 a few milliseconds.
MAX_PATTERN_CHARS = 32
MAX_PASSES = 8
_MASK_BYTES = MASK.encode()


def _pieces(form: str) -> list[str]:
    if len(form) <= MAX_PATTERN_CHARS:
        return [form]
    step = MAX_PATTERN_CHARS
    return [form[i : i + step] for i in range(0, len(form) - step, step)] + [form[-step:]]


# ---------------------------------------------------------------------- matchers


class _HyperscanMatcher:
    """All patterns in one Hyperscan database; each thread scans with its own scratch space."""

    name = "hyperscan"

    def __init__(self, patterns: Sequence[bytes]):
        import hyperscan

        self._hs = hyperscan
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        # Regex mode with every byte escaped: the literal mode stops at a NUL byte. No
        # start-of-match tracking (it multiplies compile time): a literal's start is its end
        # minus its length.
        self._db.compile(
            expressions=[_escape(p) for p in patterns], ids=list(range(len(patterns))), elements=len(patterns)
        )
        self._lengths = [len(p) for p in patterns]
        self.longest = max(self._lengths)
        self._local = threading.local()

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        found: list[tuple[int, int]] = []
        # Positional arguments: the binding parses keywords slowly enough to double a short line's cost.
        self._db.scan(data, _collect, 0, (found, self._lengths), scratch)
        return found


def _collect(pattern: int, _start: int, end: int, _flags: int, context: tuple[list, list[int]]) -> None:
    context[0].append((end - context[1][pattern], end))


_ESCAPED = [bytes((c,)) if c < 128 and chr(c).isalnum() else b"\\x%02x" % c for c in range(256)]


def _escape(pattern: bytes) -> bytes:
    return b"".join(map(_ESCAPED.__getitem__, pattern))


class _RegexMatcher:
    """The fallback: one alternation, tried at every position (a lookahead), longest first, so
    that overlapping occurrences are all found as with Hyperscan. Slower, the same result."""

    name = "regex"

    def __init__(self, patterns: Sequence[bytes]):
        ordered = sorted(patterns, key=len, reverse=True)
        self.longest = len(ordered[0])
        self._rx = re.compile(b"(?=(" + b"|".join(re.escape(p) for p in ordered) + b"))")

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        return [m.span(1) for m in self._rx.finditer(data)]


def _hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


DEFAULT_MATCHER = "hyperscan" if _hyperscan_available() else "regex"
_MATCHERS = {"hyperscan": _HyperscanMatcher, "regex": _RegexMatcher}


class _OnFirstUse:
    """A matcher compiled when a text first needs it: a run whose lines are all shorter than
    its shortest form (most runs of short tasks) never pays for the compile (~1 ms a run)."""

    __slots__ = ("_factory", "_lock", "_matcher", "_patterns")

    def __init__(self, factory: Callable[[Sequence[bytes]], Any], patterns: list[bytes]):
        self._factory, self._patterns, self._matcher = factory, patterns, None
        self._lock = threading.Lock()

    def get(self) -> Any:
        matcher = self._matcher
        if matcher is None:
            with self._lock:
                if self._matcher is None:
                    self._matcher = self._factory(self._patterns)
                matcher = self._matcher
        return matcher


# ---------------------------------------------------------------------- the masker


class Masker:
    """Masks a run's secret values. Callable (one string); thread-safe; values can be added
    while the run goes on (a secret resolved by a later attempt)."""

    def __init__(self, values: Iterable[str] = (), *, min_length: int = MIN_SECRET_LENGTH, matcher: str | None = None):
        self.min_length = min_length
        self.matcher_name = matcher or DEFAULT_MATCHER
        if self.matcher_name not in _MATCHERS:
            raise ValueError(f"unknown matcher {self.matcher_name!r}")
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._warnings: list[str] = []
        # Swapped as a whole, so a masking thread never sees a half-built state.
        self._state: tuple[_OnFirstUse, int] | None = None  # (matcher, length of the shortest form)
        self.add_many((value, "") for value in values)

    # -- adding values

    def add(self, value: str, label: str = "") -> str | None:
        """Mask `value` from now on; returns the warning if it is too short to mask."""
        return self.add_many([(value, label)])[0]

    def add_many(self, items: Iterable[tuple[str, str]]) -> list[str | None]:
        """Add (value, label) pairs with one rebuild; a warning (or None) per pair."""
        results: list[str | None] = []
        with self._lock:
            new_forms: set[str] = set()
            for value, label in items:
                if value in self._values:
                    results.append(None)
                    continue
                self._values.add(value)
                if too_short(value, self.min_length):
                    what = f"secret {label}" if label else "a secret"
                    warning = (
                        f"{what} is shorter than {self.min_length} characters (not counting spaces), "
                        f"so it is not masked in logs"
                    )
                    self._warnings.append(warning)
                    results.append(warning)
                    continue
                new_forms |= secret_forms(value, self.min_length) - self._forms
                warning = None
                if "\n" in value and any(0 < len(line.strip()) < self.min_length for line in value.split("\n")):
                    what = f"secret {label}" if label else "a multi-line secret"
                    warning = f"{what} has lines shorter than {self.min_length} characters: those lines are not masked"
                    self._warnings.append(warning)
                results.append(warning)
            if new_forms:
                self._forms |= new_forms
                patterns = sorted({p.encode("utf-8", "surrogatepass") for f in self._forms for p in _pieces(f)})
                shortest = min(len(f) for f in self._forms)
                self._state = (_OnFirstUse(_MATCHERS[self.matcher_name], patterns), shortest)
        return results

    @property
    def warnings(self) -> list[str]:
        with self._lock:
            return list(self._warnings)

    @property
    def forms(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._forms)

    # -- masking

    def __call__(self, text: str) -> str:
        state = self._state
        if state is None or len(text) < state[1]:
            return text
        data = text.encode("utf-8", "surrogatepass")
        matcher = state[0].get()
        spans = matcher.spans(data)
        if not spans:
            return text
        masked = _redact(data, spans, matcher)
        return MASK if masked is None else masked.decode("utf-8", "surrogatepass")

    mask = __call__

    def mask_lines(self, lines: Sequence[str]) -> list[str]:
        """Mask many lines with one scan: what a writer that stores lines in batches calls."""
        state = self._state
        if state is None or not lines or max(map(len, lines)) < state[1]:
            return list(lines)
        data = "\n".join(lines).encode("utf-8", "surrogatepass")
        spans = state[0].get().spans(data)
        if not spans:
            return list(lines)
        # No form holds a newline, so a span lies inside one line: the newlines before it say
        # which (counted in one pass, which also checks that no line holds a newline itself).
        touched: set[int] = set()
        index = position = 0
        for start in sorted({start for start, _ in spans}):
            index += data.count(b"\n", position, start)
            position = start
            touched.add(index)
        if index + data.count(b"\n", position) != len(lines) - 1:
            return [self(line) for line in lines]
        out = list(lines)
        for index in touched:
            out[index] = self(lines[index])
        return out

    def safe_cut(self, data: bytes, cut: int) -> int:
        """Where to cut `data` (a line too long to pass on whole, as UTF-8) at or near `cut` so
        that no secret's form lies across the cut: each piece is masked on its own. Before the
        first form that would straddle it, or after it when that form starts the data."""
        state = self._state
        if state is None:
            return cut
        matcher = state[0].get()
        for _ in range(MAX_PASSES):
            low, high = max(0, cut - matcher.longest), min(len(data), cut + matcher.longest)
            across = [(low + s, low + e) for s, e in matcher.spans(data[low:high]) if low + s < cut < low + e]
            if not across:
                return cut
            start = min(s for s, _e in across)
            if start == 0:
                return max(e for _s, e in across)
            cut = start
        return cut

    def contains_secret(self, text: str) -> bool:
        state = self._state
        return state is not None and bool(state[0].get().spans(text.encode("utf-8", "surrogatepass")))

    def mask_mapping(self, mapping: Mapping[str, Any], what: str = "output") -> tuple[dict[str, Any], list[str]]:
        """Mask the keys and string values of a mapping (task outputs); a warning per entry
        that held a secret, which stays in, masked, rather than disappearing without a word."""
        masked: dict[str, Any] = {}
        warnings: list[str] = []
        for key, value in mapping.items():
            new_key = self(key)
            new_value = self(value) if isinstance(value, str) else value
            if new_key != key or new_value is not value:
                warnings.append(f"{what} {new_key!r} contained a secret value; it is kept masked")
            masked[new_key] = new_value
        return masked, warnings


def _redact(data: bytes, spans: list[tuple[int, int]], matcher: Any) -> bytes | None:
    """Replace the union of the spans with the mask until nothing matches; None if it would
    not settle (then the caller hides the whole text).

    A cut can only create a new occurrence across one of the masks it put in, so each pass
    scans again only a pattern's length around each mask, not the whole text."""
    reach = matcher.longest
    for _ in range(MAX_PASSES):
        spans.sort()
        out: list[bytes] = []
        masks: list[int] = []  # where each mask starts in the new text
        length = pos = 0
        start, end = spans[0]
        for s, e in [*spans[1:], (len(data) + 1, len(data) + 1)]:
            if s <= end:  # overlapping or touching: one mask
                end = max(end, e)
                continue
            out += (data[pos:start], _MASK_BYTES)
            length += start - pos
            masks.append(length)
            length += len(_MASK_BYTES)
            pos, start, end = end, s, e
        out.append(data[pos:])
        data = b"".join(out)
        spans = []
        window_start = window_end = -1
        for mask in [*masks, None]:
            if mask is not None and mask - reach <= window_end:
                window_end = mask + len(_MASK_BYTES) + reach
                continue
            if window_end >= 0:
                lo = max(window_start, 0)
                spans += [(s + lo, e + lo) for s, e in matcher.spans(data[lo:window_end])]
            if mask is not None:
                window_start, window_end = mask - reach, mask + len(_MASK_BYTES) + reach
        if not spans:
            return data
    return None


class RunMask:
    """A run recorder's mask: a Masker's values (the run's secrets, tracing's per-run token), then
    whatever masked before it. Keeps the Masker's batch methods for the writer, and moves a long
    line's cut so that no value of either lies across it."""

    def __init__(self, masker: Masker, previous: Callable[[str], str]):
        self.masker, self.previous = masker, previous

    def __call__(self, text: str) -> str:
        return self.previous(self.masker(text))

    def mask_lines(self, lines: Sequence[str]) -> list[str]:
        masked = self.masker.mask_lines(lines)
        previous = getattr(self.previous, "mask_lines", None)
        return previous(masked) if previous is not None else [self.previous(text) for text in masked]

    def safe_cut(self, data: bytes, cut: int) -> int:
        previous = getattr(self.previous, "safe_cut", None)
        for _ in range(MAX_PASSES):  # each may move the cut into a value of the other
            moved = self.masker.safe_cut(data, cut)
            if previous is not None:
                moved = previous(data, moved)
            if moved == cut:
                break
            cut = moved
        return cut

    def mask_mapping(self, mapping: Mapping[str, Any], what: str = "output") -> tuple[dict[str, Any], list[str]]:
        masked, warnings = self.masker.mask_mapping(mapping, what)
        return {
            self.previous(key): self.previous(value) if isinstance(value, str) else value
            for key, value in masked.items()
        }, warnings
