from connector.latency import LatencyHistogram


def test_percentiles_weigh_each_row() -> None:
    histogram = LatencyHistogram()
    histogram.add(0.0104, 98)  # 98 rows at 10.4 ms
    histogram.add(0.5, 2)  # 2 rows at 500 ms
    assert histogram.count == 100
    assert histogram.percentile(0.5) == 11  # the upper edge of the 10 ms bucket
    assert histogram.percentile(0.98) == 11
    assert histogram.percentile(0.99) == 500
    assert histogram.summary() == "p50 11 ms, p99 500 ms, max 500 ms"


def test_latencies_beyond_the_last_bucket_still_count() -> None:
    histogram = LatencyHistogram()
    histogram.add(600.0)
    assert histogram.percentile(0.99) == 600_000


def test_an_empty_histogram_says_so() -> None:
    histogram = LatencyHistogram()
    assert histogram.percentile(0.5) is None
    assert histogram.summary() == "no rows acknowledged"
