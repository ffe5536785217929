from connector.errors import DataError


def test_located_returns_a_new_error_and_leaves_the_original_alone() -> None:
    bare = DataError("not a number", column="id")
    located = bare.located(topic="orders", partition=1, offset=7, stream="s")
    assert str(located) == "orders[1]@7, stream s, column id: not a number"
    assert bare.offset is None and bare.stream is None and str(bare) == "column id: not a number"


def test_a_known_location_is_kept() -> None:
    known = DataError("bad", topic="a", partition=0, offset=3, stream="first")
    again = known.located(topic="b", partition=9, offset=99, stream="second")
    assert (again.topic, again.partition, again.offset, again.stream) == ("a", 0, 3, "first")
