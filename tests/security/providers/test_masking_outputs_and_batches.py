"""Masking beyond single lines: task outputs (kept masked, with a warning), batches of lines, values added mid-run."""

from __future__ import annotations

import threading

import pytest

from security.providers.masking import MASK, Masker


def test_an_output_holding_a_secret_is_kept_masked_with_a_warning():
    masker = Masker(["out-s3cret"])
    masked, warnings = masker.mask_mapping({"rows": "12", "dsn": "pg://u:out-s3cret@db", "out-s3cret": "k"})
    assert masked == {"rows": "12", "dsn": "pg://u:***@db", "***": "k"}
    assert warnings == [
        "output 'dsn' contained a secret value; it is kept masked",
        "output '***' contained a secret value; it is kept masked",
    ]


@pytest.mark.parametrize("matcher", ["hyperscan", "regex"])
def test_a_batch_of_lines_is_masked_like_each_line_alone(matcher):
    masker = Masker(["batch-s3cret", "ünï-cödé-ß"], matcher=matcher)
    lines = ["plain", "a batch-s3cret b", "", "ünï-cödé-ß!", "YmF0Y2gtczNjcmV0", "tail"]
    assert masker.mask_lines(lines) == [masker(line) for line in lines]
    assert masker.mask_lines(lines)[1] == "a *** b"


def test_a_batch_whose_lines_hold_newlines_is_still_masked_per_line():
    masker = Masker(["batch-s3cret"])
    lines = ["one\ntwo batch-s3cret", "three"]
    assert masker.mask_lines(lines) == ["one\ntwo ***", "three"]


def test_a_batch_without_secrets_comes_back_as_it_was():
    lines = ["a", "b"]
    assert Masker(["batch-s3cret"]).mask_lines(lines) == lines
    assert Masker().mask_lines(lines) == lines


def test_a_value_added_while_other_threads_mask_is_masked_from_then_on():
    masker = Masker(["first-s3cret"])
    stop = threading.Event()
    seen: list[str] = []

    def keep_masking() -> None:
        while not stop.is_set():
            seen.append(masker("first-s3cret second-s3cret"))

    workers = [threading.Thread(target=keep_masking) for _ in range(3)]
    for worker in workers:
        worker.start()
    masker.add("second-s3cret", "LATE")
    after = masker("first-s3cret second-s3cret")
    stop.set()
    for worker in workers:
        worker.join(10)
    assert after == "*** ***"
    assert set(seen) <= {"*** second-s3cret", "*** ***"}


def test_masking_is_one_scan_per_line_however_many_secrets():
    masker = Masker([f"secret-number-{i:03d}" for i in range(50)])
    matcher = masker._state[0].get()
    calls: list[int] = []
    original = matcher.spans
    matcher.spans = lambda data: calls.append(1) or original(data)
    masker("no secret in this line at all")
    masker.mask_lines(["the first line of three", "the second line of three", "the third line of three"])
    assert len(calls) == 2


@pytest.mark.parametrize("matcher", ["hyperscan", "regex"])
def test_a_secret_that_a_cut_brings_together_is_masked_too(matcher):
    masker = Masker(["wxyz-1", "ab***cd"], matcher=matcher)
    assert masker("abwxyz-1cd") == "***"
    assert masker.mask_lines(["ok", "abwxyz-1cd"]) == ["ok", "***"]


def test_a_block_of_many_lines_is_masked_line_for_line():
    masker = Masker(["block-s3cret", "ünï-s3cret"])
    lines = [f"line {i} block-s3cret" if i % 97 == 0 else f"line {i} ünï-s3cret" if i % 89 == 0 else f"line {i}"
             for i in range(2000)]  # fmt: skip
    one_by_one = [masker(line) for line in lines]
    assert one_by_one[97] == "line 97 ***" and one_by_one[89] == "line 89 ***"
    assert masker("\n".join(lines)).split("\n") == one_by_one
    assert masker.mask_lines(lines) == one_by_one


@pytest.mark.parametrize("matcher", ["hyperscan", "regex"])
def test_the_matcher_is_compiled_only_when_a_text_could_hold_a_value(matcher: str) -> None:
    """Short texts (a `true` task's command, its empty output) never pay for the compile; the
    first text long enough to hold a form compiles it, and it is masked."""
    value = "s3cr3t-" + "x" * 30
    masker = Masker([value], matcher=matcher)
    lazy, shortest = masker._state
    assert shortest <= len(value)
    assert masker("true") == "true" and masker.mask_lines(["ok", "done"]) == ["ok", "done"]
    assert lazy._matcher is None
    assert masker.mask_lines(["ok", f"got {value}"]) == ["ok", f"got {MASK}"]
    assert lazy._matcher is not None
    assert masker(f"a {value} b") == f"a {MASK} b"
