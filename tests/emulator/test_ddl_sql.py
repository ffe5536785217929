"""Creating streams (DDL REST, SQL over HTTP), counting rows with SQL, ping and unknown paths."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import compact, error_of, proton_url, wait_until


def ddl(emu: TimeplusEmulator) -> str:
    return f"{emu.url}/proton/v1/ddl/streams"


def sql(http: requests.Session, emu: TimeplusEmulator, statement: str) -> requests.Response:
    return http.post(emu.url + "/", data=statement.encode())


# --- Proton DDL REST ------------------------------------------------------------------


def test_create_and_list_through_ddl_rest(emu: TimeplusEmulator, http: requests.Session) -> None:
    payload = {
        "name": "events",
        "columns": [{"name": "id", "type": "int64"}, {"name": "tag", "type": "string", "nullable": True}],
    }
    created = http.post(ddl(emu), json=payload)
    assert created.status_code == 200
    assert set(created.json()) == {"request_id"}
    listing = http.get(ddl(emu)).json()
    events = next(s for s in listing["data"] if s["name"] == "events")
    assert events["columns"] == [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "tag", "type": "string", "nullable": True},
        {"name": "_tp_time", "type": "datetime64(3, 'UTC')", "nullable": False},
    ]
    assert http.post(proton_url(emu, "events"), data=compact(["id", "tag"], [[1, None]])).status_code == 200
    assert emu.rows("events")[0]["tag"] is None


def test_timeplusd_ddl_prefix(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(
        f"{emu.url}/timeplusd/v1/ddl/streams", json={"name": "x", "columns": [{"name": "a", "type": "int8"}]}
    )
    assert response.status_code == 200
    assert "x" in emu.streams()


def test_ddl_create_existing_stream_is_400_code_57(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.post(ddl(emu), json={"name": "orders", "columns": [{"name": "id", "type": "int64"}]})
    assert error_of(response) == (400, 57)


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"columns": [{"name": "a", "type": "int64"}]}, 400, 408),
        ({"name": "x"}, 400, 408),
        ({"name": "x", "columns": []}, 400, 408),
        ({"name": "x y", "columns": [{"name": "a", "type": "int64"}]}, 400, 408),
        ({"name": "x", "columns": [{"name": "a"}]}, 400, 408),
        ({"name": "x", "columns": [{"name": "a", "type": "int64", "default": "1"}]}, 400, 408),
        ({"name": "x", "columns": [{"name": "a", "type": "int64"}], "mode": "versioned_kv"}, 400, 408),
        ({"name": "x", "columns": [{"name": "a", "type": "int64"}], "event_time_column": "a"}, 400, 408),
        ({"name": "x", "columns": [{"name": "a", "type": "varchar"}]}, 404, 50),
        ({"name": "x", "columns": [{"name": "a", "type": "int64"}, {"name": "a", "type": "string"}]}, 500, 15),
    ],
)
def test_ddl_rest_errors(
    emu: TimeplusEmulator, http: requests.Session, payload: dict[str, Any], status: int, code: int
) -> None:
    assert error_of(http.post(ddl(emu), json=payload)) == (status, code)
    assert "x" not in emu.streams()


def test_ddl_rest_ignores_settings_that_change_nothing_here(emu: TimeplusEmulator, http: requests.Session) -> None:
    payload = {
        "name": "x",
        "columns": [{"name": "a", "type": "int64", "comment": "c"}],
        "description": "d",
        "ttl_expression": "1",
    }
    assert http.post(ddl(emu), json=payload).status_code == 200


def test_ddl_rest_malformed_json_is_400_code_117(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert error_of(http.post(ddl(emu), data=b"{nope")) == (400, 117)


def test_creation_can_be_asynchronous_like_proton(emu: TimeplusEmulator, http: requests.Session) -> None:
    emu.faults.set_ddl_delay(2.0)
    payload = {"name": "later", "columns": [{"name": "id", "type": "int64"}]}
    assert http.post(ddl(emu), json=payload).status_code == 200
    assert error_of(http.post(proton_url(emu, "later"), data=compact(["id"], [[1]]))) == (404, 60)

    def listed() -> bool:
        return any(s["name"] == "later" for s in http.get(ddl(emu)).json()["data"])

    wait_until(listed, what="the stream to appear")  # clients poll, as Proton's docs say
    assert http.post(proton_url(emu, "later"), data=compact(["id"], [[1]])).status_code == 200


# --- SQL over HTTP -----------------------------------------------------------------------


def test_create_stream_sql(emu: TimeplusEmulator, http: requests.Session) -> None:
    statement = """
        CREATE STREAM IF NOT EXISTS `metrics` (
            id int64, name string, ts datetime64(3, 'UTC'), tags map(string, array(int32)),
            level enum8('low' = 1, 'high' = 2), pair tuple(a int64, b string), price decimal(10, 2)
        );
    """
    response = sql(http, emu, statement)
    assert response.status_code == 200 and response.content == b""
    listing = http.get(ddl(emu)).json()["data"]
    metrics = next(s for s in listing if s["name"] == "metrics")
    assert [c["type"] for c in metrics["columns"]] == [
        "int64", "string", "datetime64(3, 'UTC')", "map(string, array(int32))", "enum8('low' = 1, 'high' = 2)",
        "tuple(a int64, b string)", "decimal(10, 2)", "datetime64(3, 'UTC')",
    ]  # fmt: skip
    assert sql(http, emu, statement).status_code == 200  # IF NOT EXISTS: twice is fine


def test_create_existing_stream_without_if_not_exists(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = sql(http, emu, "CREATE STREAM orders (id int64)")
    assert response.status_code == 500
    assert response.headers["x-timeplus-exception-code"] == "57"
    assert response.text.startswith("Code: 57. DB::Exception:")


def test_count_sql(emu: TimeplusEmulator, http: requests.Session) -> None:
    http.post(proton_url(emu), data=compact(["id"], [[1], [2], [3]]))
    response = sql(http, emu, "SELECT count() FROM table(orders)")
    assert (response.status_code, response.text) == (200, "3\n")
    assert response.headers["Content-Type"].startswith("text/tab-separated-values")
    by_get = http.get(emu.url + "/", params={"query": "select  COUNT( ) from TABLE( orders );"})
    assert by_get.text == "3\n"
    both = http.post(emu.url + "/?query=SELECT%20count()", data=b"FROM table(orders)")
    assert both.text == "3\n"


def test_count_of_unknown_stream(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = sql(http, emu, "SELECT count() FROM table(nope)")
    assert (response.status_code, response.headers["x-timeplus-exception-code"]) == (404, "60")


def test_create_by_get_is_read_only(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = http.get(emu.url + "/", params={"query": "CREATE STREAM s (a int64)"})
    assert (response.status_code, response.headers["x-timeplus-exception-code"]) == (500, "164")
    assert "s" not in emu.streams()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM orders",
        "SELECT count() FROM orders",  # a streaming query: never ends on real Timeplus
        "INSERT INTO orders (id) VALUES (1)",
        "DROP STREAM orders",
        "CREATE TABLE t (a int64)",
        "CREATE STREAM s (a int64) SETTINGS event_time_column='a'",
        "CREATE STREAM s (a int64 DEFAULT 1)",
        "CREATE STREAM s (a int64 CODEC(ZSTD))",
        "CREATE STREAM s ()",
        "CREATE STREAM s (a int64",
        "",
    ],
)
def test_other_sql_is_a_clear_400(emu: TimeplusEmulator, http: requests.Session, statement: str) -> None:
    response = sql(http, emu, statement)
    assert response.status_code == 400, response.text
    assert response.headers["x-timeplus-exception-code"] == "62"
    assert "s" not in emu.streams()


def test_unknown_type_in_sql(emu: TimeplusEmulator, http: requests.Session) -> None:
    response = sql(http, emu, "CREATE STREAM s (a varchar)")
    assert (response.status_code, response.headers["x-timeplus-exception-code"]) == (404, "50")


# --- health and unknown paths ------------------------------------------------------------


def test_ping(emu: TimeplusEmulator, http: requests.Session) -> None:
    for prefix in ("proton", "timeplusd"):
        response = http.get(f"{emu.url}/{prefix}/ping")
        assert (response.status_code, response.json()) == (200, {"status": "UP"})
    assert http.get(f"{emu.url}/ping").text == "Ok.\n"


def test_unknown_paths(emu: TimeplusEmulator, http: requests.Session) -> None:
    assert http.get(f"{emu.url}/nothing/here").status_code == 404
    assert error_of(http.get(f"{emu.url}/proton/v1/nothing")) == (404, 78)
    assert error_of(http.post(f"{emu.url}/proton/ping")) == (404, 78)
