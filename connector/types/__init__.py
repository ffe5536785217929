"""Timeplus column types: parse their names, and convert source values to their JSON form.

``column_type("datetime64(3, 'UTC')", unit="ms")`` is the one call mapping makes: it
parses the type (``grammar``) and compiles one small function that turns a decoded
source value into the value Timeplus accepts for that column (``scalars``,
``datetimes``, ``containers``), or raises ``ValueError`` with a reason a user can act on.

Choices where Timeplus itself would guess or silently clip:

* Integer epochs need an explicit ``unit`` (Proton guesses s/ms/us/ns from the size).
* Sub-second digits beyond a column's precision are truncated (floored), as Proton does
  when it parses a longer fraction; nothing is ever rounded up into the next second.
* Decimals are sent as exact strings; a value with more digits after the point than the
  scale, or more before it than ``P - S``, is rejected rather than rounded.
* Dates and datetimes outside the column's range are rejected (Proton would clip them).
* ``null`` for a non-nullable type is rejected (Proton would store the type's default).
"""

from connector.types.column import DECIMALS, ColumnType, column_type
from connector.types.datetimes import EPOCH_UNITS, cached_millis, cached_tails
from connector.types.grammar import TimeplusType, is_nullable, parse_type
from connector.types.numbers import plain_decimal
from connector.types.values import utf8_reason

__all__ = [
    "DECIMALS",
    "EPOCH_UNITS",
    "ColumnType",
    "TimeplusType",
    "cached_millis",
    "cached_tails",
    "column_type",
    "is_nullable",
    "parse_type",
    "plain_decimal",
    "utf8_reason",
]
