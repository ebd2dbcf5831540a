"""Property: whatever the values and wherever their forms appear, no form survives masking; text with no form is untouched."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from security.providers.masking import Masker

from .forms_oracle import leak_forms

# Printable text from several scripts; values of at least 4 visible characters.
alphabet = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="*")
values = st.text(alphabet, min_size=4, max_size=40).filter(lambda v: len(v.strip()) >= 4)
multi_line = st.lists(values, min_size=2, max_size=4).map("\n".join)
noise = st.text(alphabet, max_size=30)


def masker_for(secrets: list[str], matcher: str) -> Masker:
    return Masker(secrets, matcher=matcher)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secrets=st.lists(st.one_of(values, multi_line), min_size=1, max_size=5, unique=True),
    picks=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 40), noise), min_size=1, max_size=8),
    matcher=st.sampled_from(["hyperscan", "regex"]),
)
def test_no_form_of_any_value_survives(secrets, picks, matcher):
    forms = [form for secret in secrets for form in leak_forms(secret).values()]
    line = "".join(f"{gap}{forms[(i * 41 + j) % len(forms)]}" for i, j, gap in picks)

    masked = masker_for(secrets, matcher)(line)

    for secret in secrets:
        for name, form in leak_forms(secret).items():
            assert form not in masked, f"{name} of {secret!r} survived in {masked!r}"


@settings(max_examples=100, deadline=None, database=None)
@given(secrets=st.lists(values, min_size=1, max_size=5), line=noise, matcher=st.sampled_from(["hyperscan", "regex"]))
def test_text_holding_no_form_is_left_as_it_was(secrets, line, matcher):
    masker = masker_for(secrets, matcher)
    assume(not any(form in line for form in masker.forms))
    assert masker(line) == line
