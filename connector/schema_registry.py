"""The Schema Registry client: fetches schemas over Confluent's REST API.

Any Confluent-compatible registry will do (Confluent's, Apicurio's ``/apis/ccompat/v7``,
Redpanda's, Karapace). It satisfies ``ports.SchemaSource`` (the schema of an id, for
decoding) and ``registry_types.LatestSchemas`` (subjects and their latest versions, for
``create-streams`` and ``check``): an unreachable registry or a 429/5xx answer is
retriable, an unknown id a data error, refused credentials fatal.
Protobuf schemas are asked for in the serialized form (``?format=serialized``), which is
what ``registry_decoding`` compiles. TLS as for Timeplus: an ``https`` URL, verified with
the CA bundle the environment names (``REQUESTS_CA_BUNDLE``) or the system's.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import requests

from connector.config import SchemaRegistryConfig
from connector.errors import DataError, FatalError, RetriableError
from connector.ports import RegisteredSchema
from connector.registry_types import SubjectVersion

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The most references deep a schema may nest (a loop of references would never end).
MAX_REFERENCE_DEPTH = 32


class SchemaRegistryClient:
    """GETs schemas by id from one registry over a keep-alive session."""

    def __init__(self, config: SchemaRegistryConfig) -> None:
        self._url = config.url
        self._timeout = config.timeout_s
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/vnd.schemaregistry.v1+json, application/json"
        if config.username:
            password = config.password.reveal() if config.password else ""
            self._session.auth = (config.username, password)
        settings = self._session.merge_environment_settings(config.url, {}, None, None, None)
        self._session.proxies.update(settings["proxies"])
        self._session.verify = settings["verify"]
        self._session.trust_env = False

    def schema(self, schema_id: int) -> RegisteredSchema:
        """The schema of ``schema_id`` with its references; see ``ports.SchemaSource``."""
        document = self._get(f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
        return self._registered(document, 0)

    def subjects(self) -> list[str]:
        """Every subject the registry holds; see ``registry_types.LatestSchemas``."""
        listed = self._fetch("/subjects", "the subject list")
        if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
            raise FatalError(f"schema registry: the subject list is not a list of names: {str(listed)[:200]!r}")
        return listed

    def latest(self, subject: str) -> SubjectVersion | None:
        """The latest version of ``subject``, or None when the registry has none."""
        what = f"subject {subject}"
        try:
            document = self._get(f"/subjects/{quote(subject, safe='')}/versions/latest", what)
        except DataError:  # 404: no such subject
            return None
        version, schema_id = document.get("version"), document.get("id")
        if not isinstance(version, int) or not isinstance(schema_id, int):
            raise FatalError(f"schema registry: {what}: no version or id in {str(document)[:200]!r}")
        return SubjectVersion(subject, version, schema_id, self._registered(document, 0))

    def close(self) -> None:
        self._session.close()

    def _registered(self, document: dict[str, Any], depth: int) -> RegisteredSchema:
        if depth > MAX_REFERENCE_DEPTH:
            raise DataError(f"schema references nest deeper than {MAX_REFERENCE_DEPTH}")
        references = []
        for ref in document.get("references") or ():
            subject, version = str(ref["subject"]), ref["version"]
            path = f"/subjects/{quote(subject, safe='')}/versions/{quote(str(version), safe='')}"
            found = self._get(path, f"subject {subject} version {version}")
            references.append((str(ref["name"]), self._registered(found, depth + 1)))
        return RegisteredSchema(str(document.get("schemaType") or "AVRO"), str(document["schema"]), tuple(references))

    def _get(self, path: str, what: str) -> dict[str, Any]:
        """A schema document (``{"schema", "schemaType", "references", ...}``)."""
        document = self._fetch(path, what)
        if not isinstance(document, dict) or not isinstance(document.get("schema"), str):
            raise FatalError(f"schema registry: {what}: unexpected answer {str(document)[:200]!r}")
        return document

    def _fetch(self, path: str, what: str) -> Any:
        try:
            answer = self._session.get(self._url + path, params={"format": "serialized"}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise RetriableError(f"cannot reach {self._url} for {what}: {type(exc).__name__}") from exc
        status = answer.status_code
        if status == 200:
            try:
                return answer.json()
            except ValueError:
                raise RetriableError(f"{what}: the answer is not JSON (HTTP 200)") from None
        reason = _reason(answer)
        if status == 404:
            raise DataError(f"the schema registry has no {what} ({reason})")
        if status in (401, 403):
            raise FatalError(f"schema registry refused the credentials (HTTP {status}): {reason}")
        if status in RETRIABLE_STATUSES:
            raise RetriableError(f"{what}: HTTP {status}: {reason}")
        raise FatalError(f"schema registry: {what}: HTTP {status}: {reason}")


def _reason(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason
    if isinstance(body, dict) and "message" in body:
        return f"{body.get('error_code', answer.status_code)}: {str(body['message'])[:200]}"
    return answer.text[:200]
