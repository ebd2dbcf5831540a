"""The run's tracing token (a credential for span ingest, in every task's environment) is masked
like a secret: a line longer than the 64 KiB a log line may hold is stored in pieces, and the cut
moves so that the token stays whole within one piece, where the mask hides it. (Masked piece by
piece, the token's two halves were stored in the clear.)"""

from __future__ import annotations

import pytest

from tests.tracing.conftest import run_now
from workflows.models import LogLine

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
LIMIT = 65536


@pytest.mark.parametrize("before", [LIMIT - 10, LIMIT - 42])
def test_a_token_printed_across_the_64_kib_mark_stays_masked(before):
    script = f"import os, sys; sys.stdout.write('a' * {before} + os.environ['RUNNER_TRACE_TOKEN'] + 'b' * 20 + '\\n')"
    run = run_now(f"name: long\ntasks:\n  a:\n    run: [python, -c, {script!r}]\n")
    assert run.status == "success", run.message
    pieces = list(LogLine.objects.filter(run=run).order_by("lineno").values_list("text", flat=True))
    assert len(pieces) == 2  # the line was cut, before the token
    assert "".join(pieces) == "a" * before + "***" + "b" * 20
