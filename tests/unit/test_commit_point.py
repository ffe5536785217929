"""The commit point follows deliveries batch by batch, within a poll's segment too (issue #11)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.offsets import OffsetTracker, Segment

TP = ("t", 0)


def test_a_segment_split_over_batches_commits_up_to_the_first_row_still_in_flight() -> None:
    tracker = OffsetTracker()
    segment = tracker.open(*TP, 100)
    segment.last = 399
    for start in (100, 200, 300):  # three batches took rows 100-199, 200-299, 300-399
        segment.hold(start)
    segment.seal()
    segment.release(200)
    assert tracker.committable() == {}, "rows 100-199 are still in flight"
    segment.release(100)
    assert tracker.committable() == {TP: 300}
    segment.release(300)
    assert tracker.committable() == {TP: 400}


@st.composite
def holds_and_order(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]]:
    """Segments (first, last) of one partition, holds (segment index, start), and an order of release."""
    segments: list[tuple[int, int]] = []
    first = draw(st.integers(0, 50))
    for _ in range(draw(st.integers(1, 4))):
        last = first + draw(st.integers(0, 30))
        segments.append((first, last))
        first = last + 1
    holds = [
        (index, draw(st.integers(segments[index][0], segments[index][1])))
        for index in draw(st.lists(st.integers(0, len(segments) - 1), max_size=10))
    ]
    order = draw(st.permutations(range(len(holds))))
    return segments, holds, order


@given(holds_and_order())
def test_the_commit_point_is_the_first_offset_still_held(
    case: tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]],
) -> None:
    spans, holds, order = case
    tracker = OffsetTracker()
    segments: list[Segment] = []
    for first, last in spans:
        segment = tracker.open(*TP, first)
        segment.last = last
        segments.append(segment)
    for index, start in holds:
        segments[index].hold(start)
    for segment in segments:
        segment.seal()
    released: set[int] = set()
    committed: int | None = None
    for step in [None, *order]:
        if step is not None:
            index, start = holds[step]
            segments[index].release(start)
            released.add(step)
        unreleased = [holds[i][1] for i in range(len(holds)) if i not in released]
        expected = min(unreleased) if unreleased else spans[-1][1] + 1
        found = tracker.committable().get(TP)
        if expected > spans[0][0] and (committed is None or expected > committed):
            assert found == expected
            tracker.mark_committed({TP: expected})
            committed = expected
            assert tracker.committable() == {}
        else:
            assert found is None, "only an offset beyond the last commit is committable"
