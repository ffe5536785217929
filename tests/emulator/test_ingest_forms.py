"""Which route takes which body, content type and auth header (issue 15).

The connector offers compact or NDJSON bodies, ``X-Api-Key`` or ``Authorization: ApiKey``,
and Proton's v1 route or the app server's v1beta1/v1beta2 routes. These tests pin what the
emulator answers for each form and for the combinations Timeplus refuses, which the
connector's config therefore refuses before it sends anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.timeplus_emulator import Auth, TimeplusEmulator
from tests.support.emulator_http import ORDERS, app_url, compact, error_of, proton_url

KEY = "k" * 60
COMPACT = compact(["id", "name"], [[1, "a"], [2, "b"]])
NDJSON = b'{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n'
ONE_OBJECT = b'{"id":1,"name":"a"}\n'


@pytest.fixture
def cloud() -> Iterator[TimeplusEmulator]:
    """Timeplus Cloud: an API key on the app server, workspace ids such as ``ws123456``."""
    with TimeplusEmulator(auth=Auth.api_key(KEY), workspace="ws123456") as emulator:
        emulator.create_stream("orders", ORDERS)
        yield emulator


@pytest.fixture
def enterprise() -> Iterator[TimeplusEmulator]:
    """Timeplus Enterprise: HTTP Basic, workspace ``default``."""
    with TimeplusEmulator(auth=Auth.basic("alice", "s3cret")) as emulator:
        emulator.create_stream("orders", ORDERS)
        yield emulator


def names(emu: TimeplusEmulator) -> list[tuple[int, str]]:
    return [(r["id"], r["name"]) for r in emu.rows("orders")]


# --- every form the connector sends is accepted --------------------------------------


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", COMPACT), ("application/x-ndjson", NDJSON)],
    ids=["compact", "ndjson"],
)
@pytest.mark.parametrize(
    "auth", [{"X-Api-Key": KEY}, {"Authorization": f"ApiKey {KEY}"}], ids=["x-api-key", "authorization"]
)
def test_cloud_takes_both_key_headers_both_versions_and_both_bodies(
    cloud: TimeplusEmulator,
    http: requests.Session,
    version: str,
    content_type: str,
    body: bytes,
    auth: dict[str, str],
) -> None:
    response = http.post(app_url(cloud, version=version), data=body, headers={"Content-Type": content_type, **auth})
    assert response.status_code == 200, response.text
    assert names(cloud) == [(1, "a"), (2, "b")]


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", COMPACT), ("application/x-ndjson", NDJSON)],
    ids=["compact", "ndjson"],
)
def test_enterprise_takes_basic_on_both_versions_and_both_bodies(
    enterprise: TimeplusEmulator, http: requests.Session, version: str, content_type: str, body: bytes
) -> None:
    response = http.post(
        app_url(enterprise, version=version),
        data=body,
        headers={"Content-Type": content_type},
        auth=("alice", "s3cret"),
    )
    assert response.status_code == 200, response.text
    assert names(enterprise) == [(1, "a"), (2, "b")]


def test_both_key_headers_with_the_same_key_are_accepted(cloud: TimeplusEmulator, http: requests.Session) -> None:
    headers = {"X-Api-Key": KEY, "Authorization": f"ApiKey {KEY}"}
    assert http.post(app_url(cloud), data=COMPACT, headers=headers).status_code == 200


# --- a wrong key in each header -----------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize(
    "headers",
    [
        {"X-Api-Key": "w" * 60},
        {"Authorization": "ApiKey " + "w" * 60},
        {"Authorization": "ApiKey"},  # the scheme without a key
        {"Authorization": KEY},  # the key without the scheme
        {"X-Api-Key": "w" * 60, "Authorization": f"ApiKey {KEY}"},  # X-Api-Key decides (choice)
    ],
    ids=["x-api-key", "authorization", "scheme-only", "key-only", "x-api-key-wins"],
)
def test_a_wrong_key_is_401_and_stores_nothing(
    cloud: TimeplusEmulator, http: requests.Session, version: str, headers: dict[str, str]
) -> None:
    response = http.post(app_url(cloud, version=version), data=COMPACT, headers=headers)
    assert (response.status_code, response.json()) == (401, {"code": 401, "message": "invalid or missing API key"})
    assert cloud.count("orders") == 0
    assert "w" * 60 not in response.text


@pytest.mark.parametrize(
    "headers", [{"X-Api-Key": KEY}, {"Authorization": f"ApiKey {KEY}"}], ids=["x-api-key", "authorization"]
)
def test_enterprise_refuses_api_keys(
    enterprise: TimeplusEmulator, http: requests.Session, headers: dict[str, str]
) -> None:
    # Self-hosted Enterprise authenticates its users with HTTP Basic only.
    response = http.post(app_url(enterprise), data=COMPACT, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, 401)


# --- what Proton's v1 route refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/x-ndjson", "application/vnd.timeplus+json;format=streaming", "application/json;format=streaming"],
)
@pytest.mark.parametrize("body", [NDJSON, ONE_OBJECT], ids=["two-rows", "one-row"])
def test_proton_reads_every_body_as_compact_so_ndjson_is_400_code_117(
    emu: TimeplusEmulator, http: requests.Session, content_type: str, body: bytes
) -> None:
    # Content-Type means nothing to Proton: NDJSON is malformed compact (the connector
    # would mistake that for bad rows, so its config refuses ndjson without a workspace).
    response = http.post(proton_url(emu), data=body, headers={"Content-Type": content_type})
    assert error_of(response) == (400, 117)
    assert emu.count("orders") == 0


def test_proton_has_no_format_parameter(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(
        proton_url(emu) + "?format=streaming", data=NDJSON, headers={"Content-Type": "application/json"}
    )
    assert error_of(response) == (404, 78)


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
def test_proton_has_no_beta_routes(emu: TimeplusEmulator, http: requests.Session, version: str) -> None:
    response = http.post(f"{emu.url}/proton/api/{version}/streams/orders/ingest", data=COMPACT)
    assert error_of(response) == (404, 78)


@pytest.mark.parametrize("with_key", [True, False])
def test_proton_refuses_the_apikey_scheme(http: requests.Session, with_key: bool) -> None:
    # Whatever the server's credentials, Proton knows only Basic in Authorization: 516.
    auth = Auth.api_key(KEY) if with_key else Auth.none()
    with TimeplusEmulator(auth=auth) as emulator:
        emulator.create_stream("orders", ORDERS)
        response = http.post(proton_url(emulator), data=COMPACT, headers={"Authorization": f"ApiKey {KEY}"})
        assert error_of(response) == (500, 516)
        assert "'ApiKey' HTTP Authorization scheme is not supported" in response.json()["error_msg"]
        assert KEY not in response.text


def test_proton_ignores_x_api_key(emu: TimeplusEmulator, http: requests.Session) -> None:
    # The key is not checked: only Proton's user (here the password-less default) is.
    assert http.post(proton_url(emu), data=COMPACT, headers={"X-Api-Key": "w" * 60}).status_code == 200
    assert emu.count("orders") == 2


# --- the app server reads the body the Content-Type announces -----------------------------------


def test_compact_body_labelled_ndjson_is_one_event_with_unknown_columns(
    emu: TimeplusEmulator, http: requests.Session
) -> None:
    # Read as NDJSON, the compact document is one event whose keys are "columns" and "data".
    response = http.post(app_url(emu), data=COMPACT, headers={"Content-Type": "application/x-ndjson"})
    assert (response.status_code, response.json()["code"]) == (500, 16)
    assert "columns" in response.json()["message"]


@pytest.mark.parametrize("body", [NDJSON, ONE_OBJECT], ids=["two-rows", "one-row"])
def test_ndjson_body_labelled_compact_is_400(emu: TimeplusEmulator, http: requests.Session, body: bytes) -> None:
    response = http.post(app_url(emu), data=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, 400)
    assert emu.count("orders") == 0


def test_ndjson_values_are_checked_like_compact_ones(emu: TimeplusEmulator, http: requests.Session) -> None:
    body = b'{"id":1,"name":"a"}\n{"id":"x","name":"b"}\n'
    response = http.post(app_url(emu), data=body, headers={"Content-Type": "application/x-ndjson"})
    assert (response.status_code, response.json()["code"]) == (400, 27)
    assert "(at row 2)" in response.json()["message"]
    assert emu.count("orders") == 0


def test_the_journal_keeps_the_content_type_and_hides_the_key(cloud: TimeplusEmulator, http: requests.Session) -> None:
    http.post(
        app_url(cloud, version="v1beta1"),
        data=NDJSON,
        headers={"Content-Type": "application/x-ndjson", "Authorization": f"ApiKey {KEY}"},
    )
    (logged,) = cloud.requests()
    assert logged.headers["Content-Type"] == "application/x-ndjson"
    assert logged.headers["Authorization"] == "ApiKey ***"
    assert logged.path == "/ws123456/api/v1beta1/streams/orders/ingest"
    assert KEY not in repr(cloud.requests())
