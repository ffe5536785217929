"""Faults on demand: failures, throttling, latency, dropped connections, outages, slow acks."""

from __future__ import annotations

import socket

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import app_url, compact, error_of, post_compact, proton_url

BODY = compact(["id", "name"], [[1, "a"], [2, "b"]])


def root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def test_fail_next_answers_the_status_and_stores_nothing(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(2, status=503)
    for _ in range(2):
        response = http.post(proton_url(emu), data=BODY)
        assert response.status_code == 503
        assert response.headers["Content-Type"].startswith("text/plain")  # as a proxy would answer
        assert "x-timeplus-exception-code" not in response.headers
    assert emu.count("orders") == 0
    assert http.post(proton_url(emu), data=BODY).status_code == 200
    assert [r.outcome for r in emu.requests()] == ["failed_on_demand", "failed_on_demand", "stored"]
    assert emu.count("orders") == 2


def test_fail_next_with_a_proton_code(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(1, status=500, code=2016, message="INTERNAL_INGEST_BUFFER_FULL")
    response = http.post(proton_url(emu), data=BODY)
    assert error_of(response) == (500, 2016)
    assert response.json()["error_msg"] == "INTERNAL_INGEST_BUFFER_FULL"


def test_fail_next_on_the_app_server_uses_its_error_shape(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(1, status=502, code=502)
    response = http.post(app_url(emu), data=BODY)
    assert response.status_code == 502
    assert set(response.json()) == {"code", "message"}


def test_throttling_with_retry_after(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(1, status=429, retry_after=2)
    response = http.post(proton_url(emu), data=BODY)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


def test_faults_hit_ingest_requests_only(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(1, status=503)
    assert http.get(f"{emu.url}/proton/ping").status_code == 200
    assert http.get(f"{emu.url}/proton/v1/ddl/streams").status_code == 200
    assert http.post(proton_url(emu), data=BODY).status_code == 503


def test_faults_apply_in_the_order_asked(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(1, status=500)
    emu.faults.drop_next(1)
    emu.faults.fail_next(1, status=429)
    assert http.post(proton_url(emu), data=BODY).status_code == 500
    with pytest.raises(requests.ConnectionError):
        http.post(proton_url(emu), data=BODY)
    assert http.post(proton_url(emu), data=BODY).status_code == 429
    assert http.post(proton_url(emu), data=BODY).status_code == 200


def test_drop_next_resets_the_connection_mid_request(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.drop_next(1)
    big = compact(["id", "name"], [[i, "x" * 50] for i in range(20_000)])
    with pytest.raises(requests.ConnectionError):
        http.post(proton_url(emu), data=big)
    assert emu.count("orders") == 0
    (log,) = emu.requests()
    assert (log.outcome, log.status, log.stream) == ("dropped", None, "orders")
    assert 0 < log.body_size < len(big)  # it read half the body, then cut
    assert http.post(proton_url(emu), data=BODY).status_code == 200  # a new connection works


def test_latency_delays_every_answer(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.set_latency(2.0)
    with pytest.raises(requests.ReadTimeout):
        http.post(proton_url(emu), data=BODY, timeout=0.2)
    emu.faults.set_latency(0)
    assert http.post(proton_url(emu), data=BODY, timeout=5).status_code == 200


def test_down_for_refuses_connections_then_comes_back_on_the_same_port(
    emu: TimeplusEmulator, http: requests.Session
) -> None:
    url, port = emu.url, emu.port
    assert http.post(proton_url(emu), data=BODY).status_code == 200  # a keep-alive connection is open
    emu.faults.down_for(2.0)
    assert emu.faults.is_down
    with pytest.raises(requests.ConnectionError) as caught:
        http.post(proton_url(emu), data=BODY, timeout=5)
    assert isinstance(root_cause(caught.value), ConnectionRefusedError)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    assert emu.faults.wait_until_up(10)
    assert (emu.url, emu.port) == (url, port)
    assert http.post(proton_url(emu), data=BODY).status_code == 200
    assert emu.count("orders") == 4


def test_an_outage_cuts_open_connections(emu: TimeplusEmulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as idle:
        request = f"POST /proton/v1/ingest/streams/orders HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n\r\n"
        idle.sendall(request.encode() + BODY)
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        emu.faults.down_for(5)
        assert idle.recv(4096) == b""  # the server closed the kept-alive connection
    emu.faults.clear()
    assert not emu.faults.is_down


def test_clear_ends_an_outage_early(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.down_for(60)
    emu.faults.clear()
    assert emu.faults.wait_until_up(0)
    assert http.post(proton_url(emu), data=BODY).status_code == 200


def test_slow_ack_stores_then_answers_after_the_client_gave_up(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.slow_ack_next(1, delay=3.0)
    with pytest.raises(requests.ReadTimeout):
        http.post(proton_url(emu), data=BODY, timeout=0.5)
    assert emu.count("orders") == 2  # stored although the client saw a timeout
    # The naive retry duplicates the rows: the classic duplicate maker.
    with requests.Session() as retry:
        assert retry.post(proton_url(emu), data=BODY).status_code == 200
    assert emu.count("orders") == 4
    assert [r.outcome for r in emu.requests()] == ["slow_ack", "stored"]


def test_an_idempotent_retry_after_a_slow_ack_is_not_stored_twice(
    emu: TimeplusEmulator, http: requests.Session
) -> None:
    emu.faults.slow_ack_next(1, delay=3.0)
    headers = {"x-timeplus-idempotent-id": "orders-0-10-11"}
    with pytest.raises(requests.ReadTimeout):
        http.post(proton_url(emu), data=BODY, headers=headers, timeout=0.5)
    with requests.Session() as retry:
        assert retry.post(proton_url(emu), data=BODY, headers=headers).status_code == 200
    assert emu.count("orders") == 2
    assert [r.outcome for r in emu.requests()] == ["slow_ack", "duplicate"]


def test_a_slow_ack_of_a_rejected_request_is_just_the_rejection(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.slow_ack_next(1, delay=30)
    assert error_of(post_compact(http, emu, ["nope"], [[1]], timeout=10)) == (500, 16)


def test_clear_cancels_queued_faults_and_latency(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.fail_next(5)
    emu.faults.set_latency(10)
    emu.faults.clear()
    assert http.post(proton_url(emu), data=BODY, timeout=5).status_code == 200


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.fail_next(-1),
        lambda f: f.fail_next(1, status=42),
        lambda f: f.slow_ack_next(1, delay=-1),
        lambda f: f.set_latency(-1),
        lambda f: f.down_for(0),
    ],
)
def test_bad_fault_arguments_are_refused(emu: TimeplusEmulator, call: object) -> None:
    with pytest.raises(ValueError):
        call(emu.faults)  # type: ignore[operator]


# --- the same through the admin endpoint ---------------------------------------------------


def faults_url(emu: TimeplusEmulator) -> str:
    return f"{emu.url}/_emulator/faults"


def test_admin_fail_next(emu: TimeplusEmulator, http: requests.Session) -> None:
    answer = http.post(faults_url(emu), json={"kind": "fail_next", "n": 1, "status": 429, "retry_after": 1})
    assert answer.status_code == 200
    assert answer.json()["faults"]["queued"] == ["fail"]
    response = http.post(proton_url(emu), data=BODY)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")


def test_admin_drop_slow_ack_latency_and_clear(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.post(faults_url(emu), json={"kind": "drop_next", "n": 1}).status_code == 200
    assert http.post(faults_url(emu), json={"kind": "slow_ack_next", "n": 1, "delay": 0.01}).status_code == 200
    assert http.post(faults_url(emu), json={"kind": "latency", "seconds": 0}).status_code == 200
    assert http.get(faults_url(emu)).json()["faults"]["queued"] == ["drop", "slow_ack"]
    assert http.delete(faults_url(emu)).json()["faults"]["queued"] == []


def test_admin_down_for_answers_then_goes_down(emu: TimeplusEmulator, http: requests.Session) -> None:
    answer = http.post(faults_url(emu), json={"kind": "down_for", "seconds": 30})
    assert answer.status_code == 200
    assert answer.json()["faults"]["down"] is True
    with pytest.raises(requests.ConnectionError):
        http.post(proton_url(emu), data=BODY, timeout=5)
    emu.faults.clear()
    assert http.post(proton_url(emu), data=BODY).status_code == 200


@pytest.mark.parametrize(
    "spec", [{"kind": "explode"}, {"kind": "fail_next"}, {"kind": "fail_next", "n": 1, "colour": "red"}, ["fail_next"]]
)
def test_admin_bad_fault_specs_are_400(emu: TimeplusEmulator, http: requests.Session, spec: object) -> None:
    assert http.post(faults_url(emu), json=spec).status_code == 400
