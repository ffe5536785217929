"""docker-compose.yml cannot run here (no Docker engine), so it is checked instead:
it validates against the Compose Specification, its producer and connector run the
very commands that `make demo` and CI run, and each is built from its own Dockerfile
target, the connector's holding nothing of ``sandbox/``."""

import re
from pathlib import Path

import jsonschema
import orjson
import yaml

from connector.config import load_config
from sandbox.demo.__main__ import connector_command, producer_command

ROOT = Path(__file__).parents[2]


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
    assert services["connector"]["command"] == connector_command("/app/config/demo.yaml")
    env = services["connector"]["environment"]
    config = load_config(ROOT / "config" / "demo.yaml", env={"KAFKA_BOOTSTRAP": env["KAFKA_BOOTSTRAP"],
                                                             "TIMEPLUS_URL": env["TIMEPLUS_URL"]})  # fmt: skip
    assert config.kafka["bootstrap.servers"] == "kafka:9092"
    assert config.timeplus.url == "http://proton:3218"


def dockerfile_stages() -> dict[str, tuple[str, list[str]]]:
    """Each named stage of the Dockerfile: (the image it starts FROM, the sources it COPYs)."""
    stages: dict[str, tuple[str, list[str]]] = {}
    copies: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["FROM"]:
            assert len(words) == 4 and words[2] == "AS", f"unnamed stage: {line}"
            copies = []
            stages[words[3]] = (words[1], copies)
        elif words[:1] == ["COPY"]:
            copies.extend(word for word in words[1:-1] if not word.startswith("--"))
    return stages


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
