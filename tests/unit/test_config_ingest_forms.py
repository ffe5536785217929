"""timeplus.auth_header, timeplus.api_version and timeplus.body_format (issue 15)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.config import Config, parse_config
from connector.errors import ConfigError

KEY = "k3y-" + "x" * 56
MAPPINGS = "mappings: [{topic: a, stream: a, columns: {v: value}}]\n"


def config_with(timeplus: str, **env: str) -> Config:
    text = f"kafka: {{bootstrap.servers: 'k:9092'}}\ntimeplus: {{url: 'http://tp:8000', {timeplus}}}\n{MAPPINGS}"
    return parse_config(text, env=env)


def problems(timeplus: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_with(timeplus, **env)
    return info.value.problems


def test_defaults_are_x_api_key_v1beta2_and_compact() -> None:
    timeplus = config_with(f"workspace: ws1, api_key: {KEY}").timeplus
    assert (timeplus.auth_header, timeplus.api_version, timeplus.body_format) == ("x-api-key", "v1beta2", "compact")
    proton = config_with("timeout_s: 5").timeplus
    assert proton.body_format == "compact"


@pytest.mark.parametrize("auth_header", ["x-api-key", "authorization"])
@pytest.mark.parametrize("api_version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize("body_format", ["compact", "ndjson"])
def test_every_cloud_form_is_accepted(auth_header: str, api_version: str, body_format: str) -> None:
    timeplus = config_with(
        f"workspace: ws1, api_key: {KEY}, auth_header: {auth_header}, api_version: {api_version}, "
        f"body_format: {body_format}"
    ).timeplus
    assert (timeplus.auth_header, timeplus.api_version, timeplus.body_format) == (auth_header, api_version, body_format)


@pytest.mark.parametrize("api_version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize("body_format", ["compact", "ndjson"])
def test_enterprise_basic_takes_both_versions_and_formats(api_version: str, body_format: str) -> None:
    timeplus = config_with(
        f"workspace: default, username: u, password: p, api_version: {api_version}, body_format: {body_format}"
    ).timeplus
    assert (timeplus.api_version, timeplus.body_format) == (api_version, body_format)


def test_the_new_keys_take_environment_variables() -> None:
    timeplus = config_with(
        "workspace: ws1, api_key: '${KEY}', auth_header: '${HEADER}', api_version: '${VERSION:-v1beta1}', "
        "body_format: '${BODY}'",
        KEY=KEY,
        HEADER="authorization",
        BODY="ndjson",
    ).timeplus
    assert (timeplus.auth_header, timeplus.api_version, timeplus.body_format) == ("authorization", "v1beta1", "ndjson")


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("auth_header: bearer", "timeplus.auth_header: expected one of x-api-key, authorization, got 'bearer'"),
        ("auth_header: X-Api-Key", "timeplus.auth_header: expected one of x-api-key, authorization, got 'X-Api-Key'"),
        ("api_version: v1", "timeplus.api_version: expected one of v1beta1, v1beta2, got 'v1'"),
        ("api_version: v1beta3", "timeplus.api_version: expected one of v1beta1, v1beta2, got 'v1beta3'"),
        ("body_format: json", "timeplus.body_format: expected one of compact, ndjson, got 'json'"),
        ("body_format: streaming", "timeplus.body_format: expected one of compact, ndjson, got 'streaming'"),
        ("body_format: [ndjson]", "timeplus.body_format: expected a string, got a list"),
    ],
)
def test_unknown_values_name_their_path_and_the_choices(setting: str, expected: str) -> None:
    assert problems(f"workspace: ws1, api_key: {KEY}, {setting}") == [expected]


@given(st.text(min_size=1, max_size=12).filter(lambda s: s not in ("compact", "ndjson")))
def test_any_other_body_format_is_one_problem_at_its_path(value: str) -> None:
    # A JSON string is a YAML double-quoted scalar: any text reaches the validator as is.
    (problem,) = problems(f"workspace: ws1, body_format: {json.dumps(value)}")
    assert problem.startswith("timeplus.body_format: ") and "unknown key" not in problem


def only_problem(found: list[str], path: str) -> str:
    """The one problem found, which must be about ``path`` (and not an unknown key)."""
    (problem,) = found
    assert problem.startswith(f"{path}: ") and "unknown key" not in problem, problem
    return problem.removeprefix(f"{path}: ")


def test_ndjson_needs_a_workspace() -> None:
    message = only_problem(problems("body_format: ndjson"), "timeplus.body_format")
    assert "timeplus.workspace" in message and "compact" in message  # Proton's v1 route reads compact only


def test_api_version_needs_a_workspace() -> None:
    message = only_problem(problems("api_version: v1beta1"), "timeplus.api_version")
    assert "timeplus.workspace" in message


def test_the_authorization_header_needs_a_workspace() -> None:
    # Proton's v1 route knows only Basic in Authorization: "ApiKey" is refused with 516.
    message = only_problem(problems(f"api_key: {KEY}, auth_header: authorization"), "timeplus.auth_header")
    assert "timeplus.workspace" in message and "Proton" in message
    assert KEY not in message


@pytest.mark.parametrize("value", ["x-api-key", "authorization"])
def test_auth_header_is_for_an_api_key_not_basic(value: str) -> None:
    found = problems(f"workspace: ws1, username: u, password: p, auth_header: {value}")
    message = only_problem(found, "timeplus.auth_header")
    assert "timeplus.api_key" in message and "Basic" in message


def test_auth_header_without_credentials_is_inert_like_an_empty_key() -> None:
    # The README's `api_key: ${TIMEPLUS_API_KEY:-}` with the variable unset: nothing is sent.
    timeplus = config_with("workspace: ws1, api_key: '${KEY:-}', auth_header: authorization").timeplus
    assert (timeplus.api_key, timeplus.auth_header) == (None, "authorization")


def test_every_problem_is_reported_at_once() -> None:
    found = problems("auth_header: bearer, api_version: v9, body_format: csv")
    assert sorted(p.split(": expected one of ")[0] for p in found) == [
        "timeplus.api_version",
        "timeplus.auth_header",
        "timeplus.body_format",
    ]


def test_the_key_never_reaches_a_problem_or_a_repr() -> None:
    found = problems(f"workspace: ws1, api_key: {KEY}, auth_header: authorisation, body_format: ndjson")
    assert found == ["timeplus.auth_header: expected one of x-api-key, authorization, got 'authorisation'"]
    timeplus = config_with(f"workspace: ws1, api_key: {KEY}, auth_header: authorization").timeplus
    assert KEY not in repr(timeplus) and KEY not in str(timeplus)
