"""Load a YAML config and validate it in one pass: every problem, of every kind, at once.

Each problem names its YAML path (``mappings[2].columns.amount.type: unknown type
'flaot64'``). Column types are parsed, and constants and defaults converted, during the
same walk (``connector.config.columns``), so a bad default is reported next to a bad URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from connector.config.columns import read_mappings
from connector.config.model import (
    MAX_IN_FLIGHT,
    OWNED_CONSUMER_PROPS,
    BatchConfig,
    Config,
    TimeplusConfig,
)
from connector.config.reader import Reader, join
from connector.errors import ConfigError
from connector.types.values import NUMBER_TEXT

#: The consumer group of a config that names none.
DEFAULT_GROUP_ID = "kafka-timeplus"
_SECRET_KAFKA_PROPS = ("sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret")


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a YAML config file; raise ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_config(text, env=os.environ if env is None else env, source=str(path))


class ExactLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a float with more digits than a float holds is a Decimal.

    A constant ``0.12345678901234567891`` for a ``decimal(38, 20)`` column keeps its digits.
    """


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float | Decimal:
    number = loader.construct_yaml_float(node)
    text = str(node.value).replace("_", "")
    if not NUMBER_TEXT.fullmatch(text):  # .inf, .nan, 1:30 (base 60): no more digits to keep
        return number
    exact = Decimal(text)
    return number if number - number == 0.0 and Decimal(repr(number)) == exact else exact


ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def parse_config(text: str, *, env: Mapping[str, str], source: str = "<config>") -> Config:
    """Validate the YAML text of a config; raise ConfigError listing every problem."""
    try:
        raw = yaml.load(text, Loader=ExactLoader)  # a SafeLoader: builds no objects but plain data
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    return _config(Reader(env), raw)


def _config(r: Reader, raw: Any) -> Config:
    checks = {
        "drain_timeout_s": lambda p, v: r.number(p, v, minimum=0),
        "max_message_bytes": r.size,
        "max_buffered_bytes": r.size,
    }
    top = r.table("<top>", raw, {"kafka", "timeplus", "batch", "mappings", *checks})
    for required in ("kafka", "timeplus", "mappings"):
        if top and required not in top:
            r.fail(required, "missing (required)")
    kafka = _kafka(r, top.get("kafka", {}))
    timeplus = _timeplus(r, top.get("timeplus", {}))
    batch = _batch(r, top.get("batch", {}))
    mappings = read_mappings(r, top.get("mappings", []))
    given = r.given("<top>", top, checks)
    if r.problems or timeplus is None:
        raise ConfigError(r.problems)
    return Config(kafka=kafka, timeplus=timeplus, batch=batch, mappings=tuple(mappings), **given)


def _kafka(r: Reader, raw: Any) -> dict[str, str]:
    props: dict[str, str] = {}
    for key, value in r.table("kafka", raw, None).items():
        path = join("kafka", key)
        owned = OWNED_CONSUMER_PROPS.get(key)
        if owned is not None and str(value).lower() != owned.value:
            r.fail(path, f"must be {owned.value} or absent: {owned.why}")
            continue
        if key in _SECRET_KAFKA_PROPS:
            secret = r.secret(path, value)
            if secret is not None:
                props[key] = secret.reveal()
            continue
        text = r.string(path, value, allow_empty=True)
        if text is not None:
            props[str(key)] = "true" if value is True else "false" if value is False else text
    if "bootstrap.servers" not in props and isinstance(raw, dict):
        r.fail("kafka.bootstrap.servers", "missing (required)")
    props.setdefault("group.id", DEFAULT_GROUP_ID)
    return props


def _timeplus(r: Reader, raw: Any) -> TimeplusConfig | None:
    checks = {
        "workspace": r.optional_string,
        "api_key": r.secret,
        "username": r.optional_string,
        "password": r.secret,
        "timeout_s": lambda p, v: r.number(p, v, minimum=0.1),
        "connect_timeout_s": lambda p, v: r.number(p, v, minimum=0.1),
        "gzip": r.boolean,
        "max_in_flight": lambda p, v: r.integer(p, v, minimum=1, maximum=MAX_IN_FLIGHT),
        "max_retries": lambda p, v: None if v is None else r.integer(p, v, minimum=1),
        "retry_backoff_s": lambda p, v: r.number(p, v, minimum=0.001),
        "retry_backoff_max_s": lambda p, v: r.number(p, v, minimum=0.001),
    }
    section = r.table("timeplus", raw, {"url", *checks})
    url = _url(r, section["url"]) if "url" in section else None
    if "url" not in section and isinstance(raw, dict):
        r.fail("timeplus.url", "missing (required)")
    given = r.given("timeplus", section, checks)
    if given.get("api_key") and given.get("username"):
        r.fail("timeplus", "set either api_key or username/password, not both")
    if given.get("password") and not given.get("username"):
        r.fail("timeplus.password", "set without timeplus.username")
    return None if url is None else TimeplusConfig(url=url, **given)


def _url(r: Reader, value: Any) -> str | None:
    url = r.string("timeplus.url", value)
    if url is None:
        return None
    if not re.match(r"^https?://[^/\s]+", url):
        r.fail("timeplus.url", f"expected http(s)://host[:port], got {url!r}")
        return None
    if "@" in url.split("/")[2]:
        # Never echo the URL here: it holds a password.
        r.fail("timeplus.url", "credentials do not belong in the URL: use username/password")
        return None
    return url.rstrip("/")


def _batch(r: Reader, raw: Any) -> BatchConfig:
    checks = {
        "max_rows": lambda p, v: r.integer(p, v, minimum=1),
        "max_bytes": r.size,
        "linger_ms": lambda p, v: r.integer(p, v, minimum=0),
    }
    return BatchConfig(**r.given("batch", r.table("batch", raw, set(checks)), checks))
