from connector.offsets import OffsetTracker


def test_commit_waits_for_every_holder_of_a_segment() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("orders", 0, 10)
    segment.last = 19
    segment.hold()  # stream a
    segment.hold()  # stream b (fan-out)
    segment.seal()
    assert tracker.committable() == {}
    segment.release()
    assert tracker.committable() == {}
    segment.release()
    assert tracker.committable() == {("orders", 0): 20}


def test_unsealed_segment_is_not_done_even_without_holders() -> None:
    tracker = OffsetTracker()
    tracker.open("orders", 0, 0)
    assert tracker.committable() == {}


def test_out_of_order_acks_commit_only_the_contiguous_prefix() -> None:
    tracker = OffsetTracker()
    first, second, third = (tracker.open("t", 0, start) for start in (0, 100, 200))
    for segment, last in ((first, 99), (second, 199), (third, 299)):
        segment.last = last
        segment.hold()
        segment.seal()
    third.release()
    second.release()
    assert tracker.committable() == {}
    first.release()
    assert tracker.committable() == {("t", 0): 300}


def test_partitions_advance_independently_and_only_when_changed() -> None:
    tracker = OffsetTracker()
    a = tracker.open("t", 0, 5)
    b = tracker.open("t", 1, 7)
    b.hold()
    a.seal()
    b.seal()
    assert tracker.committable() == {("t", 0): 6}
    tracker.mark_committed({("t", 0): 6})
    assert tracker.committable() == {}
    b.release()
    assert tracker.committable() == {("t", 1): 8}


def test_skipped_messages_count_as_done() -> None:
    # A segment whose messages were all skipped as data errors has no holder at all.
    tracker = OffsetTracker()
    segment = tracker.open("t", 2, 40)
    segment.last = 41
    segment.seal()
    assert tracker.committable() == {("t", 2): 42}
    assert tracker.is_idle(("t", 2))


def test_forget_drops_state_and_late_releases_are_harmless() -> None:
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    segment.hold()
    segment.seal()
    assert not tracker.is_idle(("t", 0))
    tracker.forget([("t", 0)])
    segment.release()
    assert tracker.committable() == {}
    assert tracker.is_idle(("t", 0))


def test_a_partition_is_idle_as_soon_as_its_segments_are_done() -> None:
    # No commit needed in between: --until-caught-up must not wait for the next commit tick.
    tracker = OffsetTracker()
    segment = tracker.open("t", 0, 0)
    segment.hold()
    segment.seal()
    assert not tracker.is_idle(("t", 0))
    segment.release()
    assert tracker.is_idle(("t", 0))
    assert tracker.committable() == {("t", 0): 1}
