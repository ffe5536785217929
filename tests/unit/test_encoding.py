import orjson

from connector.encoding import IngestRequest


def test_payload_is_compact_json_in_column_order() -> None:
    request = IngestRequest.encode("s", ["id", "name"], [[1, "a"], [2, None]])
    assert request.body == b'{"columns":["id","name"],"data":[[1,"a"],[2,null]]}'


def test_empty_payload_is_still_valid_json() -> None:
    assert orjson.loads(IngestRequest.encode("s", ["a"], []).body) == {"columns": ["a"], "data": []}


def test_a_slice_of_rows_is_a_complete_payload() -> None:
    request = IngestRequest.encode("s", ["id", "name"], [[i, "x"] for i in range(5)])
    assert orjson.loads(request.part(1, 3))["data"] == [[1, "x"], [2, "x"]]
    assert orjson.loads(request.part(4, 5))["data"] == [[4, "x"]]
    assert request.part(0, 5) is request.body


def test_the_request_does_not_follow_later_changes_to_the_batch_rows() -> None:
    rows = [[1, "a"]]
    request = IngestRequest.encode("s", ["id", "name"], rows)
    rows.append([2, "b"])
    assert len(request) == 1 and orjson.loads(request.part(0, 1))["data"] == [[1, "a"]]


def test_oversized_bodies_are_halved_until_each_part_fits() -> None:
    request = IngestRequest.encode("s", ["pad"], [["x" * 40] for _ in range(8)])
    parts = list(request.fitting(0, 8, max_bytes=120))
    assert [(start, stop) for start, stop, _ in parts] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert all(len(body) <= 120 for _, _, body in parts)
    assert [orjson.loads(body)["data"] for _, _, body in parts] == [[["x" * 40]] * 2] * 4


def test_a_single_row_over_the_limit_still_makes_a_part() -> None:
    request = IngestRequest.encode("s", ["pad"], [["x" * 500], ["y"]])
    assert [(start, stop) for start, stop, _ in request.fitting(0, 2, max_bytes=100)] == [(0, 1), (1, 2)]
