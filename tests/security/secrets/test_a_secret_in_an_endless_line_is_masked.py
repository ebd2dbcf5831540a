"""A line longer than the 64 KiB a log line may hold is stored in pieces; a secret the cut
would fall through must stay whole within one piece, so that each piece's mask hides it.
(Masking pieces on their own once left `…aaastrad` and `dling-secret…` in the clear.)"""

from __future__ import annotations

import pytest

from security.providers.masking import Masker
from workflows.models import LogLine

from .conftest import run_now, workflow

pytestmark = pytest.mark.django_db(transaction=True)
VALUE = "straddling-secret-value-XY"
LIMIT = 65536


@pytest.mark.parametrize("before", [LIMIT - 10, LIMIT - 1, LIMIT - len(VALUE) + 1, 3 * LIMIT - 5])
def test_no_cut_falls_inside_a_secret(before):
    masker = Masker([VALUE])
    data = b"a" * before + VALUE.encode() + b"b" * 100
    cut = masker.safe_cut(data, LIMIT)
    assert 0 < cut <= len(data)
    pieces = [data[:cut].decode(), data[cut:].decode()]
    assert not any(piece.endswith(VALUE[:k]) for piece in pieces[:1] for k in range(1, len(VALUE)))
    assert VALUE not in "".join(masker(piece) for piece in pieces)


def test_a_cut_at_the_start_of_a_secret_goes_after_it():
    masker = Masker([VALUE])
    data = VALUE.encode() + b"b" * 10
    assert masker.safe_cut(data, 5) == len(VALUE)


def test_a_task_that_prints_a_secret_at_the_64_kib_mark(make_provider, vault_secret):
    make_provider()
    path = vault_secret({"token": VALUE})
    script = f"import os, sys; sys.stdout.write('a' * {LIMIT - 10} + os.environ['TOKEN'] + 'b' * 20 + '\\n')"
    run = run_now(
        workflow("long", {"a": {"run": ["python", "-c", script], "secrets": {"TOKEN": f"vault-test:{path}#token"}}})
    )
    assert run.status == "success", run.message
    pieces = list(LogLine.objects.filter(run=run).order_by("lineno").values_list("text", flat=True))
    assert len(pieces) == 2  # the line was cut, and the cut moved before the secret
    joined = "".join(pieces)
    assert "***" in joined and VALUE not in joined
    assert joined == "a" * (LIMIT - 10) + "***" + "b" * 20
