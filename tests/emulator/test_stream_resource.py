"""Describing and creating streams: Proton's DDL listing and the app server's v1beta2 stream resource."""

from __future__ import annotations

import requests

from sandbox.timeplus_emulator import Auth, TimeplusEmulator


def streams_url(emu: TimeplusEmulator, name: str = "") -> str:
    return f"{emu.url}/{emu.workspace}/api/v1beta2/streams" + (f"/{name}" if name else "")


def test_app_server_describes_a_stream_as_the_sdk_stream_model(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.create_stream("events", [("id", "nullable(int64)"), ("tags", "array(string)")])
    response = http.get(streams_url(emu, "events"))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "events"
    assert [(c["name"], c["type"], c["nullable"]) for c in body["columns"]] == [
        ("id", "int64", True),
        ("tags", "array(string)", False),
        ("_tp_time", "datetime64(3, 'UTC')", False),
    ]
    assert {"engine", "mode", "description", "ttl_expression"} <= set(body)
    assert [s["name"] for s in http.get(streams_url(emu)).json()] == ["orders", "events"]


def test_app_server_answers_404_for_an_unknown_stream_and_workspace(
    emu: TimeplusEmulator, http: requests.Session
) -> None:
    missing = http.get(streams_url(emu, "nope"))
    assert (missing.status_code, missing.json()["code"]) == (404, 404)
    assert "nope" in missing.json()["message"]
    other = http.get(f"{emu.url}/ws9/api/v1beta2/streams/orders")
    assert other.status_code == 404 and "ws9" in other.json()["message"]


def test_app_server_creates_a_stream_that_becomes_visible_after_the_ddl_delay(
    emu: TimeplusEmulator, http: requests.Session
) -> None:
    emu.faults.set_ddl_delay(60)
    body = {"name": "made", "columns": [{"name": "id", "type": "int64"}, {"name": "at", "type": "datetime64(3)"}]}
    created = http.post(streams_url(emu), json=body)
    assert created.status_code == 201 and created.json() == body
    assert http.get(streams_url(emu, "made")).status_code == 404  # created asynchronously, as in Timeplus
    again = http.post(streams_url(emu), json=body)
    assert again.status_code == 409 and again.json()["code"] == 409
    bad = http.post(streams_url(emu), json={"name": "x", "columns": [{"name": "a", "type": "flaot64"}]})
    assert bad.status_code >= 400 and bad.json()["code"] == 50


def test_app_server_stream_resource_needs_credentials() -> None:
    with TimeplusEmulator(auth=Auth.api_key("k" * 60)) as emu, requests.Session() as http:
        assert http.get(streams_url(emu, "x")).status_code == 401
        emu.create_stream("x", [("a", "int8")])
        assert http.get(streams_url(emu, "x"), headers={"X-Api-Key": "k" * 60}).status_code == 200


def test_proton_ddl_listing_needs_proton_credentials() -> None:
    with TimeplusEmulator(auth=Auth.basic("u", "p")) as emu, requests.Session() as http:
        emu.create_stream("x", [("a", "nullable(string)")])
        refused = http.get(f"{emu.url}/proton/v1/ddl/streams", auth=("u", "wrong"))
        assert refused.json()["code"] == 516
        listed = http.get(f"{emu.url}/proton/v1/ddl/streams", auth=("u", "p")).json()["data"]
        assert listed[0]["columns"][0] == {"name": "a", "type": "string", "nullable": True}
