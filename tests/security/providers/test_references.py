"""Secret references `provider-name:path#key@version`: parsed into parts, refused with a clear reason."""

from __future__ import annotations

import pytest

from security.providers.base import InvalidReference, SecretRef, parse_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prod-vault:database/prod#password", SecretRef("prod-vault", "database/prod", "password", "")),
        ("prod-vault:database/prod#password@3", SecretRef("prod-vault", "database/prod", "password", "3")),
        ("aws:prod/db@AWSPREVIOUS", SecretRef("aws", "prod/db", "", "AWSPREVIOUS")),
        (
            "aws:arn:aws:secretsmanager:us-east-1:1:secret:db-AbC#k",
            SecretRef("aws", "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC", "k"),
        ),
        (
            "kv:db-password@0123456789abcdef0123456789abcdef",
            SecretRef("kv", "db-password", "", "0123456789abcdef0123456789abcdef"),
        ),
        ("v:a#key with spaces", SecretRef("v", "a", "key with spaces")),
    ],
)
def test_a_reference_is_split_into_its_parts(text, expected):
    assert parse_reference(text) == expected
    assert str(parse_reference(text)) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("database/prod", "missing ':' after the provider name"),
        (":database/prod", "the provider name before ':' is empty"),
        ("prod vault:db", "provider name 'prod vault' may only contain letters, digits"),
        ("v:", "the path after ':' is empty"),
        ("v:#key", "the path after ':' is empty"),
        ("v:data base#k", "the path may not contain ' '"),
        ("v:db/#k", "the path 'db/' names a folder, not a secret"),
        ("v:db#", "the key after '#' is empty"),
        ("v:db#k@", "version '' after '@' may only contain"),
        ("v:db#k@1 2", "version '1 2' after '@' may only contain"),
        ("v:db#a#b", "the key may not contain '#'"),
        (" v:db#k", "leading or trailing spaces"),
    ],
)
def test_a_malformed_reference_is_refused_with_the_reason(text, reason):
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert str(caught.value).startswith(f"invalid secret reference {text!r}: ")
    assert reason in str(caught.value)


def test_a_reference_to_another_provider_is_refused(vault):
    with pytest.raises(InvalidReference, match="it names provider 'other', not 'vault-test'"):
        vault().resolve("other:db#k")
