"""Load a YAML config and validate it in one pass: every problem, of every kind, at once.

Each problem names its YAML path (``mappings[2].columns.amount.type: unknown type
'flaot64'``). Column types are parsed, and constants and defaults converted, during the
same walk (``connector.config.columns``), so a bad default is reported next to a bad URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connector.config.columns import read_mappings
from connector.config.model import (
    API_VERSIONS,
    AUTH_HEADERS,
    BODY_FORMATS,
    CLASSIC_ONLY_CONSUMER_PROPS,
    DELIVERIES,
    GROUP_PROTOCOLS,
    MAX_IN_FLIGHT,
    OWNED_CONSUMER_PROPS,
    REGISTRY_FORMATS,
    BatchConfig,
    Config,
    HttpConfig,
    SchemaRegistryConfig,
    TimeplusConfig,
    parse_listen,
)
from connector.config.reader import Check, Reader, join
from connector.config.url import check_url
from connector.config.yaml_text import load_yaml
from connector.errors import ConfigError

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


def parse_config(text: str, *, env: Mapping[str, str], source: str = "<config>") -> Config:
    """Validate the YAML text of a config; raise ConfigError listing every problem."""
    # Keys stay the text written (a column named "on" is not True) and a repeated key is an error.
    return _config(Reader(env), load_yaml(text, source))


def _config(r: Reader, raw: Any) -> Config:
    checks = {
        "drain_timeout_s": lambda p, v: r.number(p, v, minimum=0),
        "max_message_bytes": r.size,
        "max_buffered_bytes": r.size,
        "delivery": lambda p, v: r.choice(p, v, DELIVERIES),
    }
    top = r.table("<top>", raw, {"kafka", "timeplus", "batch", "mappings", "http", "schema_registry", *checks})
    for required in ("kafka", "timeplus", "mappings"):
        if top and required not in top:
            r.fail(required, "missing (required)")
    kafka = _kafka(r, top.get("kafka", {}))
    timeplus = _timeplus(r, top.get("timeplus", {}))
    batch = _batch(r, top.get("batch", {}))
    http = _http(r, top.get("http", {}))
    mappings = read_mappings(r, top.get("mappings", []))
    registry = _schema_registry(r, top["schema_registry"]) if "schema_registry" in top else None
    if "schema_registry" not in top:
        for mapping in mappings:
            if mapping.format in REGISTRY_FORMATS:
                r.fail(f"{mapping.where}.format", f"format {mapping.format} needs a schema_registry section")
    given = r.given("<top>", top, checks)
    if r.problems or timeplus is None:
        raise ConfigError(r.problems)
    return Config(
        kafka=kafka,
        timeplus=timeplus,
        batch=batch,
        mappings=tuple(mappings),
        http=http,
        schema_registry=registry,
        **given,
    )


def _kafka(r: Reader, raw: Any) -> dict[str, str]:
    props: dict[str, str] = {}
    for key, value in r.table("kafka", raw, None).items():
        path = join("kafka", key)
        if key in _SECRET_KAFKA_PROPS:
            secret = r.secret(path, value)
            if secret is not None:
                props[key] = secret.reveal()
            continue
        # librdkafka takes strings: an unquoted YAML true/false (or yes/no) is its "true"/"false".
        text = ("true" if value else "false") if isinstance(value, bool) else r.string(path, value, allow_empty=True)
        if text is None:
            continue
        owned = OWNED_CONSUMER_PROPS.get(key)
        if owned is not None and text.lower() != owned.value:
            r.fail(path, f"managed by the connector, which sets it to {owned.value} ({owned.why}); remove it")
            continue
        props[key] = text
    if isinstance(raw, dict) and "bootstrap.servers" not in raw:
        r.fail("kafka.bootstrap.servers", "missing (required)")
    _group_protocol(r, props)
    props.setdefault("group.id", DEFAULT_GROUP_ID)
    return props


def _group_protocol(r: Reader, props: dict[str, str]) -> None:
    """``group.protocol`` is one librdkafka knows, and KIP-848's comes without the classic-only properties."""
    protocol = props.get("group.protocol", "classic").lower()
    if protocol not in GROUP_PROTOCOLS:
        r.fail("kafka.group.protocol", f"must be one of {', '.join(GROUP_PROTOCOLS)}, got {props['group.protocol']!r}")
    elif protocol == "consumer":
        for key, why in CLASSIC_ONLY_CONSUMER_PROPS.items():
            if key in props:
                r.fail(join("kafka", key), f"not used with group.protocol: consumer: {why}")


def _timeplus(r: Reader, raw: Any) -> TimeplusConfig | None:
    checks = {
        "workspace": r.optional_string,
        "api_version": lambda p, v: r.choice(p, v, API_VERSIONS),
        "api_key": lambda p, v: r.secret(p, v, header=True),
        "auth_header": lambda p, v: r.choice(p, v, AUTH_HEADERS),
        "username": r.optional_string,
        "password": r.secret,
        "timeout_s": lambda p, v: r.number(p, v, minimum=0.1),
        "connect_timeout_s": lambda p, v: r.number(p, v, minimum=0.1),
        "gzip": r.boolean,
        "body_format": lambda p, v: r.choice(p, v, BODY_FORMATS),
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
    _ingest_form(r, given)
    return None if url is None else TimeplusConfig(url=url, **given)


def _ingest_form(r: Reader, given: Mapping[str, Any]) -> None:
    """Refuse the route, header and body combinations Timeplus refuses (DESIGN.md §4)."""
    proton = not given.get("workspace")  # Proton's /proton/v1/ingest/streams/{stream}
    if "auth_header" in given and given.get("username"):
        # (With no credentials at all it is inert, as an empty ${TIMEPLUS_API_KEY:-} is.)
        r.fail("timeplus.auth_header", "says how timeplus.api_key is sent; username/password go as HTTP Basic")
    elif given.get("auth_header") == "authorization" and proton:
        r.fail(
            "timeplus.auth_header",
            "'authorization' sends 'Authorization: ApiKey ...', which Proton's v1 route refuses (it takes "
            "Basic only): set timeplus.workspace for Timeplus Cloud",
        )
    if "api_version" in given and proton:
        r.fail("timeplus.api_version", "applies only with timeplus.workspace (Proton's v1 route has no version)")
    if given.get("body_format") == "ndjson" and proton:
        r.fail("timeplus.body_format", "ndjson needs timeplus.workspace: Proton's v1 route reads compact bodies only")


def _url(r: Reader, value: Any, path: str = "timeplus.url") -> str | None:
    url = r.string(path, value)
    if url is None:
        return None
    # The URL may hold a password or a key: check_url's problems never quote it.
    url, problem = check_url(url)
    if problem is not None:
        r.fail(path, problem)
    return url


def _schema_registry(r: Reader, raw: Any) -> SchemaRegistryConfig | None:
    checks: dict[str, Check] = {
        "username": r.optional_string,
        "password": r.secret,
        "timeout_s": lambda p, v: r.number(p, v, minimum=0.1),
        "retry_backoff_s": lambda p, v: r.number(p, v, minimum=0.001),
        "retry_backoff_max_s": lambda p, v: r.number(p, v, minimum=0.001),
    }
    section = r.table("schema_registry", raw, {"url", *checks})
    url = _url(r, section["url"], "schema_registry.url") if "url" in section else None
    if "url" not in section and isinstance(raw, dict):
        r.fail("schema_registry.url", "missing (required)")
    given = r.given("schema_registry", section, checks)
    if given.get("password") and not given.get("username"):
        r.fail("schema_registry.password", "set without schema_registry.username")
    return None if url is None else SchemaRegistryConfig(url=url, **given)


def _batch(r: Reader, raw: Any) -> BatchConfig:
    checks = {
        "max_rows": lambda p, v: r.integer(p, v, minimum=1),
        "max_bytes": r.size,
        "linger_ms": lambda p, v: r.integer(p, v, minimum=0),
    }
    return BatchConfig(**r.given("batch", r.table("batch", raw, set(checks)), checks))


def _http(r: Reader, raw: Any) -> HttpConfig:
    def listen(path: str, value: Any) -> str | None:
        # Empty (also after ${VAR:-} substitution) leaves the server off.
        text = None if value is None else r.string(path, value, allow_empty=True) or None
        if text is not None:
            try:
                parse_listen(text)
            except ValueError as exc:
                r.fail(path, str(exc))
                return None
        return text

    checks = {"listen": listen, "readiness_grace_s": lambda p, v: r.number(p, v, minimum=0)}
    return HttpConfig(**r.given("http", r.table("http", raw, set(checks)), checks))
