"""timeplus.url: what is accepted is usable by the client, and no problem quotes the URL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config.url import check_url
from connector.timeplus import _connections


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:3218", "http://localhost:3218"),
        ("http://localhost:3218/", "http://localhost:3218"),
        ("HTTPS://tp.example.com", "https://tp.example.com"),
        ("Http://TP:8000/prefix/", "http://TP:8000/prefix"),
        ("http://[::1]:3218", "http://[::1]:3218"),
        ("  https://tp.example.com\n", "https://tp.example.com"),
        ("http://10.0.0.5:3218", "http://10.0.0.5:3218"),
    ],
)
def test_accepted_and_normalised(url: str, expected: str) -> None:
    assert check_url(url) == (expected, None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://admin:secret@tp", "credentials do not belong in the URL"),
        ("https://admin:se/cret@tp", "credentials do not belong in the URL"),
        ("ftp://tp", "the scheme 'ftp' is neither http nor https"),
        ("tp:3218", "no scheme"),
        ("http://", "host is missing"),
        ("http://tp:99999", "port"),
        ("http://tp:abc", "port"),
        ("http://tp:0", "port 0"),
        ("http://[::1", "cannot be read"),
        ("http://t p", "whitespace"),
        ("http://tp/?key=x", "no query or fragment"),
        ("http://tp/#x", "no query or fragment"),
        ("http://tp$x", "characters a host name cannot"),
    ],
)
def test_refused_with_a_reason(url: str, problem: str) -> None:
    normalised, found = check_url(url)
    assert normalised is None and found is not None and problem in found, found


def _prepare(url: str) -> None:
    _connections(url, 1)  # the client's own connections: raises if urllib3 cannot address the URL


url_text = st.text(alphabet="htps:/HTPS@[]?#.0123456789abc-_ %\n", max_size=30)


@settings(max_examples=1000, deadline=None)
@given(url=st.one_of(url_text, st.builds(lambda s, rest: s + rest, st.sampled_from(["http://", "HTTPS://"]), url_text)))
def test_whatever_is_accepted_is_a_url_the_client_can_use(url: str) -> None:
    normalised, problem = check_url(url)
    if normalised is None:
        assert problem is not None
        return
    assert problem is None and normalised.split("://", 1)[0] in ("http", "https")
    _prepare(normalised)


@settings(max_examples=500, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=16).map(lambda s: f"ZQXJ{s}JXQZ"),
    template=st.sampled_from(["{s}", "http://{s}", "http://u:{s}@h", "HTTPS://h/{s}", "http://h/?k={s}", "{s}://h"]),
)
def test_no_problem_quotes_the_url(secret: str, template: str) -> None:
    _normalised, problem = check_url(template.format(s=secret))
    assert problem is None or ("ZQXJ" not in problem and "JXQZ" not in problem)
