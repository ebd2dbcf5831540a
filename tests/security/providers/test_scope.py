"""Provider scope: which workflows (by name pattern) and tags may use a provider."""

from __future__ import annotations

import pytest

from security.providers.resolve import Scope, check_scopes


def test_a_workflow_matching_a_name_pattern_is_allowed():
    scope = Scope.parse("etl_*, billing")
    assert scope.allows("etl_nightly") and scope.allows("billing")
    assert not scope.allows("etl") and not scope.allows("billing2")


def test_a_tag_with_a_value_pattern_or_any_value_is_allowed():
    scope = Scope.parse(tags="env=prod-*\nteam")
    assert scope.allows("x", {"env": "prod-eu"})
    assert scope.allows("x", {"team": "data"})
    assert not scope.allows("x", {"env": "staging"})


def test_an_empty_scope_allows_no_workflow():
    assert not Scope().allows("anything", {"env": "prod"})
    assert Scope().describe() == "no workflow"


def test_a_malformed_tag_is_refused():
    with pytest.raises(ValueError, match="tag '=prod': expected key or key=value"):
        Scope.parse(tags="=prod")


def test_scope_round_trips_through_plain_data():
    scope = Scope.parse(["etl_*"], ["env=prod"])
    assert Scope.from_dict(scope.as_dict()) == scope


def test_check_scopes_names_each_reference_that_may_not_be_used():
    scopes = {"prod-vault": Scope.parse("billing"), "dev-vault": Scope.parse("*")}
    references = {
        "load.secrets.DB": "prod-vault:db#password",
        "extract.secrets.API": "dev-vault:api#key",
        "notify.secrets.HOOK": "slack:hook",
        "notify.secrets.BAD": "no colon",
    }
    assert check_scopes(references, scopes, "etl", {"team": "data"}) == [
        "load.secrets.DB: workflow 'etl' may not use secret provider 'prod-vault' (it is open to workflows billing)",
        "notify.secrets.HOOK: no secret provider is named 'slack'",
        "notify.secrets.BAD: invalid secret reference 'no colon': missing ':' after the provider name",
    ]
