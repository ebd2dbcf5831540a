"""Values too short to mask safely (fewer than 4 characters besides spaces) are left alone, with a warning."""

from __future__ import annotations

from security.providers.masking import MIN_SECRET_LENGTH, Masker


def test_a_three_character_value_is_not_masked_and_warned_about():
    masker = Masker()
    warning = masker.add("abc", "PIN (vault:pins#pin)")
    assert masker("abc and abcd") == "abc and abcd"
    assert (
        warning
        == masker.warnings[0]
        == (
            "secret PIN (vault:pins#pin) is shorter than 4 characters (not counting spaces), so it is not masked in logs"
        )
    )


def test_surrounding_spaces_do_not_count():
    masker = Masker()
    assert masker.add("  ab  ", "X") is not None
    assert masker("a  ab  b") == "a  ab  b"


def test_four_characters_are_enough():
    masker = Masker()
    assert masker.add("abcd", "X") is None and MIN_SECRET_LENGTH == 4
    assert masker("xabcdx") == "x***x"


def test_an_empty_value_is_warned_about():
    assert Masker().add("", "EMPTY") is not None


def test_short_lines_of_a_multi_line_value_are_warned_about():
    masker = Masker()
    warning = masker.add("first-line-secret\nok\n\nthird-line-secret", "CERT")
    assert warning == "secret CERT has lines shorter than 4 characters: those lines are not masked"
    assert masker("first-line-secret / ok / third-line-secret") == "*** / ok / ***"


def test_adding_the_same_value_twice_warns_once():
    masker = Masker()
    masker.add("ab", "A")
    masker.add("ab", "A")
    assert len(masker.warnings) == 1
