"""deploy/kubernetes/deployment.yaml, parsed and checked (no cluster here): its config validates
with the environment the Deployment gives it, credentials come from the Secret, the config is
mounted where the image reads it, the probes and Prometheus annotations point at the status
server, and the pod runs as the image's non-root user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from connector.config import parse_config
from connector.config.schema import config_schema
from connector.config.yaml_text import load_yaml
from connector.probe import DEFAULT_URL

ROOT = Path(__file__).parents[2]
CONFIG_IN_IMAGE = Path("/etc/kafka-timeplus/config.yaml")


def dockerfile_lines(instruction: str) -> list[str]:
    return [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith(f"{instruction} ")]


def manifests() -> dict[str, dict[str, Any]]:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text()))
    return {document["kind"]: document for document in documents}


def container() -> dict[str, Any]:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def environment() -> dict[str, str]:
    """The container's environment, each Secret reference read from the Secret in the file."""
    secret = manifests()["Secret"]
    env: dict[str, str] = {}
    for variable in container()["env"]:
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[variable["name"]] = secret["stringData"][ref["key"]]
    return env


def test_the_config_map_holds_a_config_that_validates_with_the_deployments_environment() -> None:
    text = manifests()["ConfigMap"]["data"][CONFIG_IN_IMAGE.name]
    config = parse_config(text, env=environment())  # an unset ${VAR} would be a problem
    assert config.timeplus.api_key is not None and config.kafka["sasl.password"]
    jsonschema.validate(load_yaml(text), config_schema(), cls=jsonschema.Draft7Validator)
    grace = manifests()["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > config.drain_timeout_s, "the pod would be killed while still flushing"


def test_credentials_come_from_the_secret_and_nowhere_else() -> None:
    from_secret = {v["name"] for v in container()["env"] if "valueFrom" in v}
    assert from_secret == {"KAFKA_PASSWORD", "TIMEPLUS_API_KEY"}
    text = manifests()["ConfigMap"]["data"][CONFIG_IN_IMAGE.name]
    assert "${KAFKA_PASSWORD}" in text and "${TIMEPLUS_API_KEY}" in text


def test_the_config_is_mounted_where_the_image_reads_it() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (mount,) = container()["volumeMounts"]
    assert Path(mount["mountPath"]) == CONFIG_IN_IMAGE.parent and mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == manifests()["ConfigMap"]["metadata"]["name"]
    # The image's CMD (the connector stage's, the file's last) reads the config from there.
    command = json.loads(dockerfile_lines("CMD")[-1].removeprefix("CMD"))
    assert command[command.index("-c") + 1] == str(CONFIG_IN_IMAGE)


def test_probes_and_prometheus_point_at_the_status_server() -> None:
    ports = {port["name"]: port["containerPort"] for port in container()["ports"]}
    status_port = int(DEFAULT_URL.rsplit(":", 1)[1].split("/")[0])
    assert ports["metrics"] == status_port
    assert container()["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    annotations = manifests()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(status_port),
                           "prometheus.io/path": "/metrics"}  # fmt: skip


def test_the_pod_runs_as_the_images_non_root_user() -> None:
    context = manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    users = [line.split()[1] for line in dockerfile_lines("USER")]
    assert context["runAsNonRoot"] is True
    assert f"{context['runAsUser']}:{context['runAsGroup']}" == users[-1]
    assert container()["securityContext"]["allowPrivilegeEscalation"] is False
