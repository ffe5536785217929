"""Date and time columns: date, date32, datetime([tz]), datetime64(p[, tz])."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_FLOOR, Decimal
from itertools import repeat
from operator import add, itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import codes
from .codes import ProtonError
from .values import ColumnType, ValueRejected, json_kind, shown

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_UTC = UTC
_DATE_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_SECONDS_TAIL = re.compile(r"(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?")
_FULL_TEMPLATE = "0000-00-00 00:00:00"
_LAST_NANOS = ((1 << 63) - 1) % 10**9  # datetime64(9)'s last second ends at .854775807


def _looks_truncated(text: str) -> bool:
    """A strict prefix of 'YYYY-MM-DD hh:mm:ss': Proton reads past the end (code 32)."""
    if not 0 < len(text) < len(_FULL_TEMPLATE):
        return False
    for char, shape in zip(text, _FULL_TEMPLATE, strict=False):
        if shape == "0":
            if not char.isdigit():
                return False
        elif char != shape and not (shape == " " and char == "T"):
            return False
    return True


class DateType(ColumnType):
    """date / date32: only 'YYYY-MM-DD' (Proton also reads other shapes; the emulator refuses)."""

    def __init__(self, name: str, first: date, last: date) -> None:
        self.name = name
        self.first = first
        self.last = last

    def default(self) -> str:
        return "1970-01-01"

    def _convert(self, value: Any) -> str:
        if type(value) is not str:
            raise ValueRejected(codes.CANNOT_PARSE_DATE, f"Cannot parse date from {json_kind(value)} {shown(value)}")
        match = _DATE_TEXT.fullmatch(value)
        if match is None:
            if _looks_truncated(value):
                raise ValueRejected(codes.ATTEMPT_TO_READ_AFTER_EOF, f"Attempt to read after eof: {value!r}")
            raise ValueRejected(codes.CANNOT_PARSE_DATE, f"Cannot parse date {value!r}")
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise ValueRejected(codes.CANNOT_PARSE_DATE, f"Cannot parse date {value!r}") from None
        if not self.first <= day <= self.last:
            raise ValueRejected(codes.CANNOT_PARSE_DATE, f"Date {value!r} is out of range of {self.name}")
        return value


def _zone(name: str | None) -> tzinfo:
    if name is None or name == "UTC":
        return _UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProtonError(codes.BAD_ARGUMENTS, f"Cannot load time zone {name}") from None


def _offset_seconds(zone: str) -> int:
    if zone == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(zone)
    return sign * (hours * 3600 + minutes * 60)


class DateTimeType(ColumnType):
    """datetime([tz]) and datetime64(p[, tz]).

    Accepted: 'YYYY-MM-DD[( |T)hh:mm[:ss[.f...]]][Z|±hh[:mm]]' (naive text is in the
    column's zone, UTC by default), and integer epochs. Stored as
    'YYYY-MM-DD hh:mm:ss[.fff]' in the column's zone, with exactly p fraction digits.
    """

    # datetime is a uint32 of seconds; datetime64 spans 1900-01-01 .. 2299-12-31.
    def __init__(self, precision: int | None, zone: str | None) -> None:
        if precision is not None and not 0 <= precision <= 9:
            raise ProtonError(codes.ARGUMENT_OUT_OF_BOUND, f"datetime64 precision {precision} is not in 0..9")
        self.precision = precision
        self._cache: dict[str, str] = {}
        self.zone_name = zone
        self.zone = _zone(zone)
        self.digits = precision or 0
        zone_arg = f"'{zone}'" if zone is not None else ""
        if precision is None:
            self.name = f"datetime({zone_arg})" if zone else "datetime"
            self.first, self.last = 0, (1 << 32) - 1
        else:
            self.name = f"datetime64({precision}, {zone_arg})" if zone else f"datetime64({precision})"
            # 1900-01-01 .. 2299-12-31 23:59:59.99..., except where the 64-bit count of
            # 10^-p seconds ends first: datetime64(9) ends at 2262-04-11 23:47:16.854775807.
            self.first, self.last = -2208988800, 10413791999
            if precision == 9:
                self.last = ((1 << 63) - 1) // 10**9

    def default(self) -> str:
        return self.format(0, "")

    def format(self, seconds: int, fraction: str) -> str:
        """Print epoch ``seconds`` plus fraction digits in the column's zone."""
        moment = _EPOCH + timedelta(seconds=seconds)
        if self.zone is not _UTC:
            moment = moment.astimezone(self.zone)
        text = (
            f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        )
        if self.digits:
            text += "." + (fraction + "000000000")[: self.digits]
        return text

    def _convert(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            # datetime64(9)'s last second is in range only up to .854775807: no cache there.
            fast = self._from_cache(value) if self.precision != 9 else None
            if fast is not None:
                return fast
            seconds, fraction = self._parse_text(value)
        elif kind is int:
            seconds, fraction = self._parse_epoch(value)
        elif kind is float and self.precision is not None and math.isfinite(value):
            whole = Decimal(repr(value))
            seconds = int(whole.to_integral_value(rounding=ROUND_FLOOR))
            fraction = format(whole - seconds, ".9f")[2:]
        else:
            raise ValueRejected(
                codes.CANNOT_PARSE_DATETIME,
                f"Cannot parse datetime from {json_kind(value)} {shown(value)} for {self.name}",
            )
        return self._checked(seconds, fraction, value)

    def _checked(self, seconds: int, fraction: str, value: Any) -> str:
        beyond = self.precision == 9 and seconds == self.last and int((fraction + "000000000")[:9]) > _LAST_NANOS
        if not self.first <= seconds <= self.last or beyond:
            raise ValueRejected(codes.CANNOT_PARSE_DATETIME, f"{shown(value)} is out of range of {self.name}")
        return self.format(seconds, fraction)

    def _from_cache(self, text: str) -> str | None:
        """'YYYY-MM-DD hh:mm:ss' + fraction + zone, with the whole-second part cached.

        Rows of one batch share their seconds far more often than their milliseconds;
        caching the converted seconds makes benchmark batches cheap to check.
        """
        if len(text) < 19:
            return None
        rest = text[20:]
        if len(text) == 19:
            fraction, zone = "", None
        elif text[19] == "." and rest.isascii() and rest.isdigit():  # the usual shape, no regex
            fraction, zone = rest, None
        else:
            tail = _SECONDS_TAIL.fullmatch(text, 19)
            if tail is None:
                return None
            fraction, zone = tail.groups()
        printed = self._printed_seconds(text[:19] if zone is None else text[:19] + zone, text)
        if not self.digits:
            return printed
        return printed + "." + ((fraction or "") + "000000000")[: self.digits]

    def _printed_seconds(self, key: str, text: str) -> str:
        """'YYYY-MM-DD hh:mm:ss' in the column's zone for ``key`` (seconds and zone), cached."""
        printed = self._cache.get(key)
        if printed is None:
            seconds, _ = self._parse_text(key)
            printed = self._checked(seconds, "", text)[:19]
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = printed
        return printed

    def convert_column(self, values: Sequence[Any]) -> Sequence[Any]:
        """Whole-column fast path for the usual 'YYYY-MM-DD hh:mm:ss[.f][Z]' text with exactly p digits.

        Everything per value runs in C (slicing and joining through map); only the
        distinct whole seconds go through the parser. Any other shape takes the slow path.
        """
        digits = self.digits
        width = 19 + (digits + 1 if digits else 0)
        if not values or self.precision == 9 or set(map(type, values)) != {str}:
            return super().convert_column(values)
        zone = ""
        if set(map(len, values)) == {width + 1} and set(map(itemgetter(-1), values)) == {"Z"}:
            zone = "Z"  # UTC text, as the connector sends it; naive text is in the column's zone
        elif set(map(len, values)) != {width}:
            return super().convert_column(values)
        fractions: list[str] = []
        if digits:
            fractions = list(map(itemgetter(slice(20, width)), values))
            joined = "".join(fractions)
            if set(map(itemgetter(19), values)) != {"."} or not (joined.isascii() and joined.isdigit()):
                return super().convert_column(values)
        bases = list(map(itemgetter(slice(0, 19)), values))
        printed = {base: self._printed_seconds(base + zone, base + zone) for base in set(bases)}
        heads = map(printed.__getitem__, bases)
        if not digits:
            return list(heads)
        return list(map(add, map(add, heads, repeat(".")), fractions))

    def _parse_text(self, text: str) -> tuple[int, str]:
        match = _DATETIME_TEXT.fullmatch(text)
        if match is None:
            if _looks_truncated(text):
                raise ValueRejected(codes.ATTEMPT_TO_READ_AFTER_EOF, f"Attempt to read after eof: {text!r}")
            raise ValueRejected(codes.CANNOT_PARSE_DATETIME, f"Cannot parse datetime {text!r}")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            clock = (int(hour or 0), int(minute or 0), int(second or 0))
            if clock[0] > 23 or clock[1] > 59 or clock[2] > 59:
                raise ValueError(text)
            day_number = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
            if zone is not None:
                offset = _offset_seconds(zone)
            elif self.zone is _UTC:
                offset = 0
            else:
                local = datetime(int(year), int(month), int(day), *clock, tzinfo=self.zone)
                offset = (local.utcoffset() or timedelta()) // timedelta(seconds=1)
        except ValueError:
            raise ValueRejected(codes.CANNOT_PARSE_DATETIME, f"Cannot parse datetime {text!r}") from None
        seconds = day_number * 86400 + clock[0] * 3600 + clock[1] * 60 + clock[2] - offset
        return seconds, fraction or ""

    def _parse_epoch(self, number: int) -> tuple[int, str]:
        if self.precision is None:
            return number, ""
        # Proton guesses the unit of an integer epoch from its size (DESIGN.md §4).
        size = len(str(abs(number)))
        if size > 19:
            raise ValueRejected(codes.CANNOT_PARSE_DATETIME, f"Epoch {number} has too many digits")
        scale = 0 if size <= 10 else 3 if size <= 13 else 6 if size <= 16 else 9
        seconds, rest = divmod(number, 10**scale)
        return seconds, str(rest).zfill(scale) if scale else ""
