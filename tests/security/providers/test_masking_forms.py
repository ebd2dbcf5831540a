"""Masking replaces every form of every secret with *** (raw, base64, URL, JSON, hex, lines), with both matchers."""

from __future__ import annotations

import base64
import subprocess

import pytest

from security.providers.masking import Masker

from .forms_oracle import aligned_base64_core, leak_forms

VALUES = {
    "symbols": 'p@ss/w0rd+&= "quoted"',
    "unicode": "pässwörd-ключ-秘密🔑",
    "multi-line": "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----",
    "long": "x9" * 60 + "-long-token",
}
CASES = [(kind, name) for kind, value in VALUES.items() for name in leak_forms(value)]


@pytest.fixture(params=["hyperscan", "regex"])
def matcher(request) -> str:
    return request.param


@pytest.mark.parametrize(("kind", "form"), CASES, ids=[f"{k}-{f}" for k, f in CASES])
def test_each_form_of_each_value_is_masked(kind, form, matcher):
    masker = Masker(VALUES.values(), matcher=matcher)
    text = leak_forms(VALUES[kind])[form]
    assert masker(f"before {text} after") == "before *** after"


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4, 5])
def test_base64_of_a_value_inside_a_longer_stream_is_masked_at_every_alignment(offset, matcher):
    value = "inner-secret-value"
    stream = base64.b64encode(b"\xaa" * offset + value.encode() + b"\x55" * 7).decode()
    masked = Masker([value], matcher=matcher)(stream)
    assert "***" in masked and aligned_base64_core(value, offset) not in masked


def test_echo_piped_to_base64_is_masked_line_by_line():
    value = "a-long-secret-" * 6  # 84 characters: base64 wraps its output
    output = subprocess.run(["sh", "-c", 'echo "$S" | base64'], env={"S": value, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    lines = output.splitlines()
    assert len(lines) == 2
    assert [Masker([value])(line) for line in lines] == ["***", "***"]


def test_overlapping_secrets_are_masked_as_one_span(matcher):
    masker = Masker(["abcd-1234", "1234-wxyz"], matcher=matcher)
    assert masker("x abcd-1234-wxyz y") == "x *** y"


def test_every_occurrence_in_a_line_is_masked(matcher):
    masker = Masker(["tok3n-value"], matcher=matcher)
    assert masker("tok3n-value,tok3n-value;tok3n-value") == "***,***;***"


def test_text_without_secrets_is_returned_unchanged(matcher):
    line = "nothing to see here: 12345 %20 \\u00e9"
    assert Masker(["tok3n-value"], matcher=matcher)(line) is line
