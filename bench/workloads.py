"""Benchmark workloads: deterministic message values and the mapping that reads them.

``RealisticEvents`` (issue 10) are ~250-byte events shaped like real event streams: ISO
timestamps with ``Z`` and with an offset, a uuid, a nested object, an array, an ipv4
address, a decimal amount and a few numbers. ``REALISTIC_MAPPING`` maps them into ten
typed columns, among them a column with a named time zone. Each event carries its
sequence number in ``id``, which the benchmark sink uses to find lost and duplicated
messages.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson

REALISTIC_MAPPING = """\
columns:
  id:       {from: value.id, type: int64}
  event_id: {from: value.event_id, type: uuid}
  ts:       {from: value.ts, type: 'datetime64(3)'}
  sent_at:  {from: value.sent_at, type: "datetime64(3, 'Europe/Berlin')"}
  user_id:  {from: value.user.id, type: int64}
  country:  {from: value.user.country, type: 'low_cardinality(string)'}
  ip:       {from: value.ip, type: ipv4}
  amount:   {from: value.amount, type: 'decimal(10, 2)'}
  tags:     {from: value.tags, type: 'array(string)'}
  score:    {from: value.score, type: float64}
"""

START = datetime(2026, 1, 1, tzinfo=UTC)
_OFFSETS = ("+01:00", "+02:00", "-05:00", "+05:30", "-08:00", "+00:00")


class RealisticEvents:
    """Deterministic ~250-byte events; ``value(i)`` is the i-th, ~1 ms after the one before."""

    def __init__(self, seed: int = 20260101) -> None:
        self.rng = random.Random(seed)
        self.countries = ["DE", "FR", "US", "GB", "JP", "BR", "IN", "NL", "SE", "ES"]
        self.tags = ["new", "promo", "repeat", "gift", "mobile", "web"]
        self.kinds = ["view", "click", "cart", "purchase"]

    def value(self, i: int) -> bytes:
        r = self.rng.random
        moment = START + timedelta(milliseconds=i + int(r() * 3))
        offset = _OFFSETS[int(r() * len(_OFFSETS))]
        sign = 1 if offset[0] == "+" else -1
        shift = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        sent = (moment + timedelta(milliseconds=int(r() * 900)) + shift).replace(tzinfo=None)
        return orjson.dumps(
            {
                "id": i,
                "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "kind": self.kinds[int(r() * 4)],
                "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                "sent_at": sent.strftime("%Y-%m-%dT%H:%M:%S.") + f"{sent.microsecond // 1000:03d}{offset}",
                "user": {"id": int(r() * 1_000_000), "country": self.countries[int(r() * 10)]},
                "ip": f"10.{int(r() * 256)}.{int(r() * 256)}.{1 + int(r() * 254)}",
                "amount": round(r() * 2000, 2),
                "tags": [self.tags[int(r() * 6)], self.tags[int(r() * 6)]],
                "score": round(r(), 4),
            }
        )
