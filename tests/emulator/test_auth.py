"""Authentication per run: none, Basic, API key, x-timeplus-* headers; failures answered as Timeplus does."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from sandbox.timeplus_emulator import Auth, TimeplusEmulator
from tests.support.emulator_http import ORDERS, app_url, compact, error_of, proton_url

BODY = compact(["id"], [[1]])
KEY = "k" * 60


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def started(auth: Auth, **kwargs: object) -> Iterator[TimeplusEmulator]:
    with TimeplusEmulator(auth=auth, **kwargs) as emulator:  # type: ignore[arg-type]
        emulator.create_stream("orders", ORDERS)
        yield emulator


@pytest.fixture
def with_basic() -> Iterator[TimeplusEmulator]:
    yield from started(Auth.basic("alice", "s3cret"))


@pytest.fixture
def with_key() -> Iterator[TimeplusEmulator]:
    yield from started(Auth.api_key(KEY))


@pytest.fixture
def with_headers() -> Iterator[TimeplusEmulator]:
    yield from started(Auth.timeplus_headers("bob", "hunter2"))


# --- no auth: Proton's password-less default user ---------------------------------


def test_none_accepts_no_credentials_and_the_default_user(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(proton_url(emu), data=BODY).status_code == 200
    assert http.post(proton_url(emu), data=BODY, headers=basic("default", "")).status_code == 200
    assert http.post(proton_url(emu), data=BODY, headers={"X-Api-Key": "anything"}).status_code == 200  # ignored
    assert http.post(app_url(emu), data=BODY, headers={"X-Api-Key": "anything"}).status_code == 200


def test_none_still_refuses_an_unknown_proton_user(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(http.post(proton_url(emu), data=BODY, headers=basic("mallory", "x"))) == (500, 516)
    headers = {"x-timeplus-user": "mallory", "x-timeplus-key": "x"}
    assert error_of(http.post(proton_url(emu), data=BODY, headers=headers)) == (500, 516)


# --- HTTP Basic ----------------------------------------------------------------------


def test_basic_right_credentials(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(proton_url(with_basic), data=BODY, headers=basic("alice", "s3cret")).status_code == 200
    assert http.post(proton_url(with_basic, prefix="timeplusd"), data=BODY, auth=("alice", "s3cret")).status_code == 200
    assert http.post(app_url(with_basic), data=BODY, auth=("alice", "s3cret")).status_code == 200
    assert with_basic.count("orders") == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no credentials: Proton tries user 'default' without password
        basic("alice", "wrong"),
        basic("eve", "s3cret"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer token"},  # an unsupported scheme
        {"Authorization": "ApiKey " + KEY},
    ],
)
def test_basic_wrong_credentials_are_500_code_516(
    with_basic: TimeplusEmulator, http: requests.Session, headers: dict[str, str]
) -> None:
    response = http.post(proton_url(with_basic), data=BODY, headers=headers)
    assert error_of(response) == (500, 516)
    assert with_basic.count("orders") == 0


def test_unsupported_scheme_message(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(proton_url(with_basic), data=BODY, headers={"Authorization": "ApiKey abc"})
    assert "'ApiKey' HTTP Authorization scheme is not supported" in response.json()["error_msg"]


def test_proton_also_takes_x_timeplus_headers_for_a_basic_user(
    with_basic: TimeplusEmulator, http: requests.Session
) -> None:
    headers = {"x-timeplus-user": "alice", "x-timeplus-key": "s3cret"}
    assert http.post(proton_url(with_basic), data=BODY, headers=headers).status_code == 200


def test_mixing_schemes_is_refused(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    headers = {"x-timeplus-user": "alice", "x-timeplus-key": "s3cret", **basic("alice", "s3cret")}
    response = http.post(proton_url(with_basic), data=BODY, headers=headers)
    assert error_of(response) == (500, 516)
    assert "simultaneously" in response.json()["error_msg"]


def test_credentials_in_the_url_authenticate_then_miss_the_route(
    with_basic: TimeplusEmulator, http: requests.Session
) -> None:
    # Proton authenticates with ?user=&password= first, then finds no route for a URI with a query.
    right = http.post(proton_url(with_basic) + "?user=alice&password=s3cret", data=BODY)
    assert error_of(right) == (404, 78)
    wrong = http.post(proton_url(with_basic) + "?user=alice&password=nope", data=BODY)
    assert error_of(wrong) == (500, 516)
    both = http.post(proton_url(with_basic) + "?user=alice&password=s3cret", data=BODY, auth=("alice", "s3cret"))
    assert error_of(both) == (500, 516)


def test_app_server_wants_basic_for_enterprise(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    for headers in (
        {},
        basic("alice", "wrong"),
        {"X-Api-Key": KEY},
        {"x-timeplus-user": "alice", "x-timeplus-key": "s3cret"},
    ):
        response = http.post(app_url(with_basic), data=BODY, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == 401


# --- API key (Cloud) -------------------------------------------------------------------


def test_api_key_in_either_header(with_key: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(app_url(with_key), data=BODY, headers={"X-Api-Key": KEY}).status_code == 200
    assert http.post(app_url(with_key), data=BODY, headers={"x-api-key": KEY}).status_code == 200
    assert http.post(app_url(with_key), data=BODY, headers={"Authorization": f"ApiKey {KEY}"}).status_code == 200
    assert with_key.count("orders") == 3


@pytest.mark.parametrize(
    "headers", [{}, {"X-Api-Key": "k" * 59}, {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Basic {KEY}"}]
)
def test_wrong_api_key_is_401(with_key: TimeplusEmulator, http: requests.Session, headers: dict[str, str]) -> None:
    response = http.post(app_url(with_key), data=BODY, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, 401)
    assert with_key.count("orders") == 0


def test_api_key_mode_leaves_proton_with_its_default_user(with_key: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(proton_url(with_key), data=BODY).status_code == 200
    assert error_of(http.post(proton_url(with_key), data=BODY, headers={"Authorization": f"ApiKey {KEY}"})) == (
        500,
        516,
    )


# --- x-timeplus-user / x-timeplus-key -----------------------------------------------------


def test_timeplus_headers(with_headers: TimeplusEmulator, http: requests.Session) -> None:
    good = {"x-timeplus-user": "bob", "x-timeplus-key": "hunter2"}
    assert http.post(proton_url(with_headers), data=BODY, headers=good).status_code == 200
    legacy = {"x-proton-user": "bob", "x-proton-key": "hunter2"}
    assert http.post(proton_url(with_headers), data=BODY, headers=legacy).status_code == 200
    assert http.post(proton_url(with_headers), data=BODY, auth=("bob", "hunter2")).status_code == 200  # as Proton
    bad = {"x-timeplus-user": "bob", "x-timeplus-key": "nope"}
    assert error_of(http.post(proton_url(with_headers), data=BODY, headers=bad)) == (500, 516)
    assert error_of(http.post(proton_url(with_headers), data=BODY)) == (500, 516)


# --- around the ingest route --------------------------------------------------------------


def test_ping_needs_no_credentials(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    response = http.get(f"{with_basic.url}/proton/ping")
    assert (response.status_code, response.json()) == (200, {"status": "UP"})


def test_ddl_and_sql_are_authenticated(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(http.get(f"{with_basic.url}/proton/v1/ddl/streams")) == (500, 516)
    assert http.get(f"{with_basic.url}/proton/v1/ddl/streams", auth=("alice", "s3cret")).status_code == 200
    query = {"query": "SELECT count() FROM table(orders)"}
    refused = http.get(with_basic.url + "/", params=query)
    assert (refused.status_code, refused.headers["x-timeplus-exception-code"]) == (500, "516")
    assert http.get(with_basic.url + "/", params={**query, "user": "alice", "password": "s3cret"}).text == "0\n"
    assert http.get(with_basic.url + "/", params=query, auth=("alice", "s3cret")).text == "0\n"


def test_shared_status_map_answers_403_for_wrong_credentials(http: requests.Session) -> None:
    with TimeplusEmulator(auth=Auth.basic("alice", "s3cret"), status_map="shared") as emulator:
        emulator.create_stream("orders", ORDERS)
        assert error_of(http.post(proton_url(emulator), data=BODY, headers=basic("alice", "x"))) == (403, 516)


def test_credentials_never_reach_the_journal(with_basic: TimeplusEmulator, http: requests.Session) -> None:
    http.post(proton_url(with_basic), data=BODY, auth=("alice", "s3cret"))
    http.post(
        proton_url(with_basic),
        data=BODY,
        headers={"X-Api-Key": KEY, "x-timeplus-user": "alice", "x-timeplus-key": "s3cret"},
    )
    first, second = with_basic.requests()
    assert first.headers["Authorization"] == "Basic ***"
    assert second.headers["X-Api-Key"] == "***"
    assert second.headers["x-timeplus-key"] == "***"
    assert second.headers["x-timeplus-user"] == "alice"
    assert "s3cret" not in repr(with_basic.requests()) and KEY not in repr(with_basic.requests())
    assert "s3cret" not in http.get(f"{with_basic.url}/_emulator/requests").text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", Auth.none()),
        ("basic:u:p:with:colons", Auth.basic("u", "p:with:colons")),
        ("apikey:" + KEY, Auth.api_key(KEY)),
        ("headers:u:k", Auth.timeplus_headers("u", "k")),
    ],
)
def test_auth_cli_forms(text: str, expected: Auth) -> None:
    assert Auth.parse(text) == expected


@pytest.mark.parametrize("text", ["", "basic", "basic:u", "apikey:", "token:x", "none:x"])
def test_bad_auth_cli_forms(text: str) -> None:
    with pytest.raises(ValueError):
        Auth.parse(text)
