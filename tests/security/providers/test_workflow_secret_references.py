"""A workflow file's `secrets:` are checked when it is saved: each bad reference or variable name at its own line."""

from __future__ import annotations

import textwrap

import pytest

from workflows.engine.spec import WorkflowInvalid, parse_workflow


def errors_of(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(textwrap.dedent(text))
    return [(e.line, e.field, e.message) for e in caught.value.errors]


def test_good_references_are_kept_as_written():
    spec = parse_workflow(
        textwrap.dedent("""
        name: ok
        tasks:
          load:
            run: python load.py
            secrets:
              DB_PASSWORD: "prod-vault:database/prod#password@3"
              API_TOKEN: "aws:prod/api@AWSPREVIOUS"
        """)
    )
    assert spec.tasks["load"].secrets == {"DB_PASSWORD": "prod-vault:database/prod#password@3",
                                          "API_TOKEN": "aws:prod/api@AWSPREVIOUS"}  # fmt: skip


def test_each_bad_reference_is_reported_at_its_line_with_the_reason():
    assert errors_of("""
        name: bad
        tasks:
          load:
            run: python load.py
            secrets:
              DB_PASSWORD: "database/prod#password"
              OLD: "prod-vault:database/prod#password@"
              1TOKEN: "prod-vault:api#token"
        """) == [
        (7, "tasks.load.secrets.DB_PASSWORD",
         "missing ':' after the provider name: a secret reference looks like provider-name:path#key@version"),
        (8, "tasks.load.secrets.OLD", "version '' after '@' may only contain letters, digits, '_', '.', ':', '-': "
         "a secret reference looks like provider-name:path#key@version"),
        (9, "tasks.load.secrets.1TOKEN", "must be an environment variable name (letters, digits, _)"),
    ]  # fmt: skip
