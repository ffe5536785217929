"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so they are
checked instead: compose validates against the Compose Specification, its producer and
connector run the very commands that `make demo` and CI run, its services start in order
once what they need is healthy, and each is built from its own Dockerfile target, the
connector's holding nothing of ``sandbox/``, running as a non-root user with a health check
that CI runs too (``connector.probe`` against a real status server)."""

import json
import re
from pathlib import Path

import jsonschema
import orjson
import pytest
import yaml

from connector.config import load_config
from connector.metrics import PrometheusMetrics
from connector.probe import DEFAULT_URL, main, probe_command
from connector.status_server import StatusServer
from sandbox.demo.__main__ import avro_producer_command, connector_command, producer_command

ROOT = Path(__file__).parents[2]
#: Where the image reads its config: a file mounted there (README "Container").
CONFIG_IN_IMAGE = "/etc/kafka-timeplus/config.yaml"


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def validate(document: object) -> None:
    schema = orjson.loads((ROOT / "tests" / "data" / "compose-spec.json").read_bytes())
    # The schema names draft-07 by a URI jsonschema does not know; say which validator.
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)


def test_compose_file_matches_the_compose_specification() -> None:
    validate(compose())


def test_compose_specification_check_rejects_an_unknown_option() -> None:
    broken = compose()
    services = broken["services"]
    assert isinstance(services, dict)
    services["connector"]["bogus"] = True
    try:
        validate(broken)
    except jsonschema.ValidationError as exc:
        assert "bogus" in str(exc)
    else:
        raise AssertionError("an unknown option passed the schema check")


def test_compose_runs_the_demo_commands() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert services["producer"]["command"] == producer_command("kafka:9092")
    assert services["connector"]["command"] == connector_command(CONFIG_IN_IMAGE, http=":9108")
    assert f"./config/demo.yaml:{CONFIG_IN_IMAGE}:ro" in services["connector"]["volumes"]
    registry_url = "http://registry:8080/apis/ccompat/v7"
    assert services["avro-producer"]["command"] == avro_producer_command("kafka:9092", registry_url)
    env = services["connector"]["environment"]
    names = ("KAFKA_BOOTSTRAP", "TIMEPLUS_URL", "SCHEMA_REGISTRY_URL")
    config = load_config(ROOT / "config" / "demo.yaml", env={name: env[name] for name in names})
    assert config.kafka["bootstrap.servers"] == "kafka:9092"
    assert config.timeplus.url == "http://proton:3218"
    assert config.schema_registry is not None and config.schema_registry.url == registry_url
    assert services["registry"]["image"] == "apicurio/apicurio-registry:3.0.9"  # the version the tests run


def dockerfile_instructions() -> list[list[str]]:
    """The Dockerfile's instructions as words, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def dockerfile_stages() -> dict[str, tuple[str, list[str]]]:
    """Each named stage of the Dockerfile: (the image it starts FROM, the sources it COPYs)."""
    stages: dict[str, tuple[str, list[str]]] = {}
    copies: list[str] = []
    for words in dockerfile_instructions():
        if words[:1] == ["FROM"]:
            assert len(words) == 4 and words[2] == "AS", f"unnamed stage: {' '.join(words)}"
            copies = []
            stages[words[3]] = (words[1], copies)
        elif words[:1] == ["COPY"]:
            copies.extend(word for word in words[1:-1] if not word.startswith("--"))
    return stages


def stage_instructions(target: str) -> dict[str, list[str]]:
    """The last of each instruction (USER, CMD, HEALTHCHECK, ...) in force in a build target."""
    stages: dict[str, list[list[str]]] = {}
    parents: dict[str, str] = {}
    current = ""
    for words in dockerfile_instructions():
        if words[0] == "FROM":
            current, parents[words[3]] = words[3], words[1]
            stages[current] = []
        else:
            stages[current].append(words)
    chain = [target]
    while parents.get(chain[-1]) in stages:
        chain.append(parents[chain[-1]])
    found: dict[str, list[str]] = {}
    for stage in reversed(chain):
        found.update({words[0]: words[1:] for words in stages[stage]})
    return found


def copied_into(target: str) -> list[str]:
    """What a build target COPYs, its parent stages included."""
    stages = dockerfile_stages()
    sources: list[str] = []
    while target in stages:
        target, copies = stages[target]
        sources.extend(copies)
    return sources


def test_compose_builds_each_service_from_its_own_target() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert services["producer"]["build"] == {"context": ".", "target": "demo"}
    assert services["connector"]["build"] == {"context": ".", "target": "connector"}
    stages = dockerfile_stages()
    assert list(stages)[-1] == "connector", "a plain `docker build .` must give the connector's image"
    assert not [source for source in copied_into("connector") if source.startswith("sandbox")]
    assert "sandbox/demo" in copied_into("demo")


def test_proton_gets_the_demo_streams() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    volumes = services["proton"]["volumes"]
    assert "./config/demo-streams.sql:/docker-entrypoint-initdb.d/demo-streams.sql:ro" in volumes
    sql = (ROOT / "config" / "demo-streams.sql").read_text()
    config = load_config(ROOT / "config" / "demo.yaml", env={})
    for mapping in config.mappings:
        definition = sql.split(f"CREATE STREAM IF NOT EXISTS {mapping.stream} ")[1].split(";")[0]
        declared = re.findall(r"[(,]\s*(\w+)\s", definition)
        assert [c.name for c in mapping.columns] == declared


def test_the_connector_image_runs_unprivileged_with_a_health_check_and_a_mounted_config() -> None:
    for target in ("connector", "demo"):
        user = stage_instructions(target)["USER"]
        assert user and user[0].split(":")[0] not in ("root", "0"), f"{target} runs as root"
    connector = stage_instructions("connector")
    assert json.loads(" ".join(connector["CMD"])) == connector_command(CONFIG_IN_IMAGE, http=":9108")
    healthcheck = connector["HEALTHCHECK"]
    assert json.loads(" ".join(healthcheck[healthcheck.index("CMD") + 1 :])) == probe_command()
    assert DEFAULT_URL == "http://127.0.0.1:9108/healthz"
    assert "sandbox" not in " ".join(copied_into("connector"))


def test_compose_starts_each_service_once_what_it_needs_is_healthy() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    for name, service in services.items():
        needs = service.get("depends_on", {})
        assert isinstance(needs, dict), f"{name}: depends_on without a condition starts too early"
        for needed, how in needs.items():
            assert how == {"condition": "service_healthy"}, f"{name} waits for {needed} only to start"
            assert "healthcheck" in services[needed], f"{name} waits on {needed}, which has no health check"
    assert set(services["connector"]["depends_on"]) == {"kafka", "proton", "registry"}
    assert set(services["producer"]["depends_on"]) == {"kafka"}
    assert set(services["avro-producer"]["depends_on"]) == {"kafka", "registry"}
    assert set(services["prometheus"]["depends_on"]) == {"connector"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}
    # The connector's health check is the image's: the probe CI runs below.
    assert services["connector"]["healthcheck"]["test"] == ["CMD", *probe_command()]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_health_check_passes_on_a_live_status_server_and_fails_otherwise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    metrics = PrometheusMetrics(readiness_grace_s=10, liveness_timeout_s=60, clock=clock)
    server = StatusServer("127.0.0.1:0", metrics)
    server.start()
    base = f"http://{server.address}"
    try:
        assert main([f"{base}/healthz"]) == 0
        clock.now += 61  # the consumer loop has not gone round for longer than the liveness timeout
        assert main([f"{base}/healthz"]) == 1
        assert "HTTP 503" in capsys.readouterr().err
    finally:
        server.close()
    assert main([f"{base}/healthz"]) == 1
    assert "unreachable" in capsys.readouterr().err
