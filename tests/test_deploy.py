"""Deployment files: they parse, and what they reference (files, ports, routes, settings, metrics) exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.config import GatewayConfig
from gateway.policy import load_policies
from gateway.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SETTINGS_ENV = {f"SHIELDGATE_{name.upper()}" for name in Settings.model_fields}


def _manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _find(kind: str, name: str) -> dict[str, Any]:
    return next(m for m in _manifests() if m.get("kind") == kind and m["metadata"]["name"] == name)


def test_kustomization_lists_existing_files() -> None:
    """Every resource kustomize applies is a file in deploy/k8s."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert all((K8S / resource).is_file() for resource in kustomization["resources"])


def test_deployment_probes_ports_and_references() -> None:
    """Probes hit real routes on the named port; volumes, secrets and env all exist."""
    deployment = _find("Deployment", "shieldgate")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": Settings.model_fields["port"].default}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for volume in pod["volumes"]:
        if "configMap" in volume:
            _find("ConfigMap", volume["configMap"]["name"])
    secret = _find("Secret", container["envFrom"][0]["secretRef"]["name"])
    assert {name for name in secret["stringData"] if name.startswith("SHIELDGATE_")} <= SETTINGS_ENV
    assert {env["name"] for env in container["env"]} <= SETTINGS_ENV
    grace = pod["terminationGracePeriodSeconds"]
    shutdown = next(e for e in container["env"] if e["name"] == "SHIELDGATE_SHUTDOWN_TIMEOUT_SECONDS")
    assert grace > float(shutdown["value"]) + 5  # the preStop pause plus the drain fit in the grace period
    redis_url = next(e for e in container["env"] if e["name"] == "SHIELDGATE_REDIS_URL")["value"]
    redis_service = _find("Service", "shieldgate-redis")
    assert (
        redis_url
        == f"redis://{redis_service['metadata']['name']}:{redis_service['spec']['ports'][0]['port']}/0"
    )


def test_service_and_hpa_target_the_deployment() -> None:
    """The Service selects the pods on their named port; the autoscaler scales the Deployment."""
    deployment = _find("Deployment", "shieldgate")
    service = _find("Service", "shieldgate")
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = _find("HorizontalPodAutoscaler", "shieldgate")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shieldgate",
    }


def test_configmaps_hold_a_valid_config_and_the_shipped_policies(tmp_path: Path) -> None:
    """The config validates; the policies equal policies/ and validate against its aliases."""
    config = GatewayConfig.model_validate(
        yaml.safe_load(_find("ConfigMap", "shieldgate-config")["data"]["gateway.yaml"])
    )
    policies = _find("ConfigMap", "shieldgate-policies")["data"]
    for name, text in policies.items():
        assert text == (REPO / "policies" / name).read_text()
        (tmp_path / name).write_text(text)
    assert set(load_policies(tmp_path, aliases=list(config.models)).policies) == {"default", "acme"}


def test_compose_file() -> None:
    """Gateway and Redis, the build context holds the Dockerfile, mounts and settings exist."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    gateway, redis = compose["services"]["gateway"], compose["services"]["redis"]
    assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
    assert gateway["ports"] == ["8080:8080"]
    assert {name for name in gateway["environment"] if name.startswith("SHIELDGATE_")} <= SETTINGS_ENV
    assert gateway["environment"]["SHIELDGATE_REDIS_URL"] == "redis://redis:6379/0"
    host_policies = gateway["volumes"][0].split(":")[0]
    assert (DEPLOY / host_policies / "default.yaml").is_file()
    assert redis["healthcheck"]["test"][-1] == "ping"


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, argument = line.partition(" ")
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, argument.strip()))
    return stages


def test_dockerfile() -> None:
    """Multi-stage, files it copies exist, final stage is non-root, slim, healthchecked, runs the gateway."""
    build, final = _dockerfile_stages()
    for instruction, argument in build:
        if instruction == "COPY":
            *sources, _ = argument.split()
            assert all((REPO / source).exists() for source in sources), argument
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "tests" in ignored
    assert ".venv" in ignored
    instructions = dict(final)
    assert final[0][1] == "python:3.11-slim"
    assert instructions["USER"] not in ("root", "0")
    assert json.loads(instructions["CMD"]) == ["shieldgate", "serve"]
    assert "/healthz" in instructions["HEALTHCHECK"]
    assert not any(i == "RUN" and re.search(r"apt-get|gcc|build-essential", a) for i, a in final)
    env = dict(re.findall(r"(\w+)=(\S+)", instructions["ENV"]))
    assert {name for name in env if name.startswith("SHIELDGATE_")} <= SETTINGS_ENV
    assert env["SHIELDGATE_PORT"] == instructions["EXPOSE"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'shieldgate = "gateway.cli:main"' in pyproject


@pytest.mark.parametrize("panel", json.loads((DEPLOY / "grafana-dashboard.json").read_text())["panels"])
def test_dashboard_queries_name_real_metrics(panel: dict[str, Any], gateway_url: str) -> None:
    """Every metric a dashboard panel queries is exported by a running gateway."""
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", httpx.get(f"{gateway_url}/metrics").text, re.M))
    names = {name for name, _ in exported}
    names |= {f"{name}_total" for name, kind in exported if kind == "counter"}
    names |= {
        f"{name}_{suffix}"
        for name, kind in exported
        if kind == "histogram"
        for suffix in ("bucket", "sum", "count")
    }
    for target in panel["targets"]:
        for metric in re.findall(r"shieldgate_\w+", target["expr"]):
            assert metric in names, f"{panel['title']}: {metric}"
