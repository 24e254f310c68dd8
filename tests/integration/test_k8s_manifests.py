"""The Kubernetes manifests build with kustomize and hold what a safe deployment needs.

tools/kustomize (kustomize's own Go API, built once per session into var/bin like the docstore)
renders deploy/k8s/base and both overlays; the assertions read the parsed YAML. Under CI=true a
tool that cannot be built fails the run; elsewhere it skips with the reason.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from services.escalation.settings import EscalationSettings
from services.intake.settings import IntakeSettings
from services.notifier.settings import NotifierSettings
from services.triage.settings import TriageSettings
from shared.messaging.topology import CONSUMER_QUEUES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TOOL_SOURCE = ROOT / "tools" / "kustomize"
TOOL = ROOT / "var" / "bin" / "kustomize"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SERVICES = {"intake": 8080, "triage": 8081, "escalation": 8082, "notifier": 8083}
CONSUMERS = ("triage", "escalation", "notifier")
SETTINGS = {
    "intake": IntakeSettings, "triage": TriageSettings,
    "escalation": EscalationSettings, "notifier": NotifierSettings,
}
SECRET_NAME = "incidents-secrets"
SECRET_KEYS = {"AMQP_URL", "MONGODB_URL", "MAIL_REPLY_SECRET", "SMTP_USERNAME", "SMTP_PASSWORD", "PORTAL_SECRET",
               "WIDGET_SECRET", "ACK_LINK_SECRET", "ONCALL_FEED_SECRET"}
PLACEHOLDER = re.compile(r"change-me|changeme|example\.invalid|^<[^>]*>$")
URL_CREDENTIALS = re.compile(r"[a-z+]+://([^/\s:@]+):([^@\s]+)@")
BUILDS = {
    "base": K8S / "base", "infra": K8S / "infra",
    "production": K8S / "overlays" / "production", "dev": K8S / "overlays" / "dev",
}
TARGETS = ("base", "production", "dev")  # the builds that hold the four services


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _tool_is_fresh() -> bool:
    if not TOOL.is_file():
        return False
    built = TOOL.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in TOOL_SOURCE.rglob("*") if path.is_file())


@pytest.fixture(scope="session")
def kustomize() -> Path:
    """Return the path of the kustomize tool, building it with `go build` when it is missing or stale."""
    if _tool_is_fresh():
        return TOOL
    go = shutil.which("go")
    if go is None:
        _unavailable("Go is not installed; it builds tools/kustomize (Debian: golang, or the Go toolchain)")
    TOOL.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a concurrent run never executes half a binary.
    fd, partial = tempfile.mkstemp(prefix=".kustomize-", dir=TOOL.parent)
    os.close(fd)
    try:
        result = subprocess.run(
            [go, "build", "-buildvcs=false", "-o", partial, "."],
            cwd=TOOL_SOURCE, capture_output=True, text=True, timeout=600,
        )
        if result.returncode != 0:
            _unavailable(f"go build of tools/kustomize failed:\n{result.stderr[-3000:]}")
        os.replace(partial, TOOL)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return TOOL


def _build(tool: Path, directory: Path) -> list[dict]:
    result = subprocess.run([str(tool), "build", str(directory)], capture_output=True, text=True, timeout=120)
    # A kustomization that does not build is a broken deployment: always a failure, never a skip.
    assert result.returncode == 0, f"kustomize build {directory.relative_to(ROOT)} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def builds(kustomize: Path) -> dict[str, list[dict]]:
    """Return the parsed output of `kustomize build` for the base, the infra and both overlays."""
    return {name: _build(kustomize, directory) for name, directory in BUILDS.items()}


def _find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def _one(docs: list[dict], kind: str, name: str) -> dict:
    found = _find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def _probe_port(container: dict, probe: dict) -> int:
    """Return the numeric port an httpGet probe targets, resolving a named port."""
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in named, f"probe port {port!r} is not a container port"
    return named[port]


def _config(docs: list[dict]) -> dict[str, str]:
    maps = [d for d in _find(docs, "ConfigMap") if d["metadata"]["name"].startswith("incidents-config")]
    assert len(maps) == 1
    return maps[0]["data"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes_resources_and_security(builds, target, service):
    docs = builds[target]
    deployment = _one(docs, "Deployment", service)
    pod = deployment["spec"]["template"]
    container = _container(deployment)
    port = SERVICES[service]

    assert container["command"] == ["incidents", "run", service]
    assert {"name": "http", "containerPort": port} in container["ports"]
    assert {"name": "HTTP_PORT", "value": str(port)} in container.get("env", [])
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
        assert probe in container, f"{service}: no {probe}"
        assert container[probe]["httpGet"]["path"] == path, f"{service}: {probe} is not on {path}"
        assert _probe_port(container, container[probe]) == port, f"{service}: {probe} on the wrong port"
        assert container[probe]["timeoutSeconds"] >= 2
    # Readiness checks RabbitMQ and MongoDB with a 2 s timeout each; the probe must outwait that.
    assert container["readinessProbe"]["timeoutSeconds"] > 2

    resources = container["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"], f"{service}: no {key} request"
    assert "memory" in resources["limits"], f"{service}: no memory limit"
    if target != "dev":
        assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
        assert resources["limits"]["memory"] == "256Mi"

    pod_security = pod["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == 10001, "the image's user is a name; the kubelet needs the number"
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]

    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["topologySpreadConstraints"], f"{service}: no topology spread"
    for constraint in pod["spec"]["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]

    sources = container["envFrom"]
    assert {"secretRef": {"name": SECRET_NAME}} in sources
    config_refs = [s["configMapRef"]["name"] for s in sources if "configMapRef" in s]
    assert len(config_refs) == 1, f"{service}: reads {len(config_refs)} ConfigMaps"
    assert _find(docs, "ConfigMap", config_refs[0]), f"{service}: its ConfigMap is not in the build"


@pytest.mark.parametrize("target", TARGETS)
def test_every_setting_named_in_the_manifests_exists(builds, target):
    """A misspelt env name would be ignored silently (extra="ignore"); every one must be a real setting."""
    docs = builds[target]
    known = {name.upper() for cls in SETTINGS.values() for name in cls.model_fields}
    config = _config(docs)
    assert set(config) <= known, f"unknown settings in the ConfigMap: {sorted(set(config) - known)}"
    assert config["ENVIRONMENT"] == "production"
    assert config["HTTP_HOST"] == "0.0.0.0"
    for service, cls in SETTINGS.items():
        env = {e["name"] for e in _container(_one(docs, "Deployment", service)).get("env", [])}
        fields = {name.upper() for name in cls.model_fields}
        assert env <= fields, f"{service}: env names it does not read: {sorted(env - fields)}"


@pytest.mark.parametrize("target", TARGETS)
def test_intake_service_exposes_http_and_smtp(builds, target):
    docs = builds[target]
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in _one(docs, "Service", "intake")["spec"]["ports"]}
    assert ports == {"http": (8080, "http"), "smtp": (2525, "smtp")}
    container = _container(_one(docs, "Deployment", "intake"))
    assert {"name": "smtp", "containerPort": 2525} in container["ports"]
    # The SMTP intake binds loopback by default; in a pod it must listen on every interface.
    assert {"name": "SMTP_INTAKE_HOST", "value": "0.0.0.0"} in container["env"]
    for service in CONSUMERS:
        service_ports = _one(docs, "Service", service)["spec"]["ports"]
        assert [(p["port"], p["targetPort"]) for p in service_ports] == [(SERVICES[service], "http")]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_disruption_budget_and_an_autoscaler(builds, target, service):
    docs = builds[target]
    pod_labels = _one(docs, "Deployment", service)["spec"]["template"]["metadata"]["labels"]

    budget = _one(docs, "PodDisruptionBudget", service)
    assert budget["apiVersion"] == "policy/v1"
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items(), f"{service}: the budget selects no pod of the Deployment"
    if target == "dev":
        assert budget["spec"] == {"maxUnavailable": 1, "selector": budget["spec"]["selector"]}
    else:
        assert budget["spec"]["minAvailable"] == 1

    hpa = _one(docs, "HorizontalPodAutoscaler", service)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    metrics = hpa["spec"]["metrics"]
    cpu = [m for m in metrics if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    assert cpu, f"{service}: no CPU metric"
    external = [m["external"] for m in metrics if m["type"] == "External"]
    if service == "intake":
        assert external == []
    else:
        assert len(external) == 1, f"{service}: no queue-depth metric"
        metric = external[0]["metric"]
        assert metric["name"] == "rabbitmq_queue_messages_ready"
        assert metric["selector"]["matchLabels"] == {"queue": CONSUMER_QUEUES[service].name}
        assert external[0]["target"]["type"] == "AverageValue"


@pytest.mark.parametrize("target", BUILDS)
def test_no_secret_value_is_in_the_manifests(builds, target):
    docs = builds[target]
    for secret in _find(docs, "Secret"):
        values = dict(secret.get("stringData") or {})
        values.update({k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()})
        for key, value in values.items():
            assert PLACEHOLDER.search(value), f"Secret {secret['metadata']['name']} holds a literal {key}"
    for config in _find(docs, "ConfigMap"):
        assert not set(config.get("data") or {}) & SECRET_KEYS, "a secret setting is in a ConfigMap"
    for deployment in _find(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            literal = {e["name"] for e in container.get("env", [])} & SECRET_KEYS
            assert not literal, f"{deployment['metadata']['name']}: {sorted(literal)} set in plain env"
    for match in URL_CREDENTIALS.finditer(yaml.safe_dump_all(docs)):
        assert PLACEHOLDER.search(match.group(2)), f"a URL with a password in the {target} build"


def test_secret_example_holds_only_placeholders():
    example = K8S / "base" / "secret.example.env"
    entries = dict(
        line.split("=", 1) for line in example.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert {"AMQP_URL", "MONGODB_URL", "PAGER_SERVICE_DESK_SECRET", "MAIL_REPLY_SECRET", "ACK_LINK_SECRET",
            "ONCALL_FEED_SECRET"} <= set(entries)
    for key, value in entries.items():
        assert PLACEHOLDER.search(value), f"secret.example.env: {key} is not a placeholder"
    # The placeholders themselves would be refused in production, so a forgotten one cannot go live.
    assert len(entries["PAGER_SERVICE_DESK_SECRET"]) < 16 and len(entries["MAIL_REPLY_SECRET"]) < 32
    tracked = subprocess.run(
        ["git", "ls-files", "--", "deploy/k8s"], cwd=ROOT, capture_output=True, text=True,
    ).stdout.split()
    assert not [path for path in tracked if path.endswith("secret.env")], "a filled-in secret.env is committed"


def test_production_runs_at_least_two_of_everything(builds):
    docs = builds["production"]
    assert {d["metadata"].get("namespace") for d in docs} == {"incidents"}
    for service in SERVICES:
        deployment = _one(docs, "Deployment", service)
        assert deployment["spec"]["replicas"] >= 2, service
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert _one(docs, "HorizontalPodAutoscaler", service)["spec"]["minReplicas"] >= 2, service
        assert not _container(deployment)["image"].endswith(":latest"), "production pins the image tag"
    assert _one(docs, "RabbitmqCluster", "incidents-rabbitmq")["spec"]["replicas"] >= 2
    assert _one(docs, "MongoDBCommunity", "incidents-mongodb")["spec"]["members"] >= 2
    assert sorted(d["metadata"]["name"] for d in _find(docs, "Deployment")) == sorted(SERVICES)


@pytest.mark.parametrize("target", ["production", "infra"])
def test_rabbitmq_is_a_three_node_cluster(builds, target):
    docs = builds[target]
    rabbit = _one(docs, "RabbitmqCluster", "incidents-rabbitmq")
    assert rabbit["apiVersion"] == "rabbitmq.com/v1beta1"
    spec = rabbit["spec"]
    assert spec["replicas"] == 3
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= set(spec["rabbitmq"]["additionalPlugins"])
    assert spec["resources"]["requests"] and spec["resources"]["limits"]
    annotations = spec["override"]["statefulSet"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics/per-object", "per-queue metrics feed the autoscalers"
    budget = _one(docs, "PodDisruptionBudget", "incidents-rabbitmq")
    assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "incidents-rabbitmq"}


@pytest.mark.parametrize("target", ["production", "infra"])
def test_mongodb_is_a_three_member_replica_set(builds, target):
    docs = builds[target]
    mongo = _one(docs, "MongoDBCommunity", "incidents-mongodb")
    assert mongo["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    spec = mongo["spec"]
    assert spec["type"] == "ReplicaSet"
    assert spec["members"] == 3
    assert spec["version"].startswith("7.")
    assert spec["security"]["authentication"]["modes"] == ["SCRAM"]
    (user,) = spec["users"]
    assert user["passwordSecretRef"] == {"name": "incidents-mongodb-password"}
    assert user["scramCredentialsSecretName"]
    assert {"name": "readWrite", "db": _config(builds["base"])["MONGODB_DB"]} in user["roles"]
    containers = {c["name"]: c for c in spec["statefulSet"]["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"mongod", "mongodb-agent"}
    assert all(c["resources"]["limits"]["memory"] for c in containers.values())


def test_dev_runs_one_of_everything_with_less(builds):
    dev, base = builds["dev"], builds["base"]
    assert {d["metadata"].get("namespace") for d in dev} == {"incidents-dev"}
    for deployment in _find(dev, "Deployment"):
        assert deployment["spec"]["replicas"] == 1, deployment["metadata"]["name"]
    for service in SERVICES:
        assert _one(dev, "HorizontalPodAutoscaler", service)["spec"]["minReplicas"] == 1
        small = _container(_one(dev, "Deployment", service))["resources"]
        large = _container(_one(base, "Deployment", service))["resources"]
        assert _mebibytes(small["requests"]["memory"]) < _mebibytes(large["requests"]["memory"])
        assert _mebibytes(small["limits"]["memory"]) < _mebibytes(large["limits"]["memory"])
        # Still above what a service keeps resident (~78 MB after load).
        assert _mebibytes(small["requests"]["memory"]) >= 80
    assert _one(dev, "RabbitmqCluster", "incidents-rabbitmq")["spec"]["replicas"] == 1
    assert _one(dev, "MongoDBCommunity", "incidents-mongodb")["spec"]["members"] == 1
    # Mail goes to the in-cluster catcher, never to a real relay.
    assert _config(dev)["SMTP_HOST"] == "mailcatcher"
    assert _one(dev, "Service", "mailcatcher")["spec"]["ports"][0]["port"] == int(_config(dev)["SMTP_PORT"])
    assert not _find(base, "Deployment", "mailcatcher") and not _find(builds["production"], "Deployment", "mailcatcher")


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    raise AssertionError(f"unexpected memory quantity {quantity!r}")
