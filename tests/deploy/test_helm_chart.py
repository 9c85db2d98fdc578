"""deploy/helm/pgconn: rendered by Helm's own engine (the Helm Go SDK, through the
helm-python-sdk wheel, so no helm binary is needed), linted, and every object checked against the
Kubernetes OpenAPI schemas that kubernetes-validate ships (strict: unknown fields fail)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from bot.config import parse
from tests.deploy import tools

# Every test here needs the deploy-lint extra's tools (helm SDK, dockerfile-parse, hadolint).
pytestmark = pytest.mark.deploy_lint

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
OLDEST_KUBERNETES = "1.25.0"

PRODUCTION: dict[str, Any] = {
    "replicaCount": 3,
    "image": {"repository": "registry.example.com/pgconn", "tag": "0.1.0"},
    "config": {
        "clusters": {
            "prod": {
                "dsn": "host=db dbname=postgres user=pgconn_monitor password=${PROD_PW}",
                "admin_dsn": "host=db dbname=postgres user=pgconn_admin password=${PROD_ADMIN_PW}",
                "channels": ["C0123ABCD"],
                "alert_channel": "C0456EFGH",
            },
            "billing": {"dsn": "host=billing user=pgconn_monitor password=${BILLING_PW}"},
        },
        "approvers": ["U012AB3CD"],
        "state_dsn": "host=state dbname=pgconn user=pgconn password=${STATE_PW}",
    },
    "secrets": {
        "create": True,
        "values": {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "s3cret",
            "PROD_PW": "pw-prod-1",
            "PROD_ADMIN_PW": "pw-admin-2",
            "BILLING_PW": "pw-billing-3",
            "STATE_PW": "pw-state-4",
        },
    },
    "extraEnv": [{"name": "TZ", "value": "UTC"}],
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "pgconn.example.com",
        "tls": [{"secretName": "pgconn-tls", "hosts": ["pgconn.example.com"]}],
    },
    "podDisruptionBudget": {"minAvailable": 2, "maxUnavailable": None},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "nodeSelector": {"kubernetes.io/os": "linux"},
}


def render(values: Mapping[str, Any] | None = None) -> dict[str, str]:
    helm = tools.module("helm_python")
    with helm.Chart.load(str(tools.CHART)) as chart:
        rendered: dict[str, str] = chart.render(
            dict(values or {}), name="pgconn", namespace="ops", is_install=True
        )
    return rendered


def objects(values: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Rendered objects by kind (each kind appears at most once in this chart)."""
    found: dict[str, dict[str, Any]] = {}
    for path, text in render(values).items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert doc["kind"] not in found, f"two {doc['kind']} objects"
                found[doc["kind"]] = doc
    return found


def container(objs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    return dict(only)


SCENARIOS = {"defaults": {}, "production": PRODUCTION}


def test_lint_is_clean() -> None:
    helm = tools.module("helm_python")
    for values in SCENARIOS.values():
        report = helm.lint(str(tools.CHART), values, strict=True)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert report["errors"] == [], report
        assert problems == [], report


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kubernetes", [OLDEST_KUBERNETES, "latest"])
def test_objects_match_the_kubernetes_schemas(scenario: str, kubernetes: str) -> None:
    kv = tools.module("kubernetes_validate")
    version = kv.latest_version() if kubernetes == "latest" else kubernetes
    objs = objects(SCENARIOS[scenario])
    for kind, obj in objs.items():
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: not in the Kubernetes schemas; see test_service_monitor
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            pytest.fail(f"{kind} at {where}: {exc.message}")


def test_default_objects() -> None:
    assert set(objects()) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ServiceAccount",
    }
    assert set(objects(PRODUCTION)) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "Secret",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Ingress",
        "ServiceMonitor",
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pod_is_locked_down(scenario: str) -> None:
    objs = objects(SCENARIOS[scenario])
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    c = container(objs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # else PGCONN_* service env vars appear
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"]
    assert c["resources"]["limits"]["memory"]
    # Every path the bot writes is a volume: /tmp, and the SQLite state directory.
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert mounts["/etc/pgconn"]["readOnly"] is True


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probes_and_ports_meet_the_bot(scenario: str) -> None:
    objs = objects(SCENARIOS[scenario])
    c = container(objs)
    env = {e["name"]: e.get("value") for e in c["env"]}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["health"] == int(env["PGCONN_HEALTH_PORT"]) == 8081
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    # `pgconn serve --port` is where Slack's requests arrive.
    assert c["args"] == ["serve", "--port", str(ports["http"])]
    service = objs["Service"]["spec"]
    by_name = {p["name"]: p for p in service["ports"]}
    assert by_name["http"]["targetPort"] == "http"
    assert by_name["http"]["port"] == 3000
    assert by_name["metrics"]["targetPort"] == "health"
    pod_labels = objs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        service["selector"],
        objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        objs["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_config_map_is_a_valid_config_fed_by_the_secret(scenario: str) -> None:
    """The mounted file passes pgconn's own validation once the Secret's keys are in the
    environment, and it contains no secret itself."""
    values = SCENARIOS[scenario]
    objs = objects(values)
    c = container(objs)
    env = {e["name"]: e.get("value") for e in c["env"]}
    config_path = env["PGCONN_CONFIG"]
    mount = next(m for m in c["volumeMounts"] if config_path.startswith(m["mountPath"] + "/"))
    volume = next(
        v
        for v in objs["Deployment"]["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mount["name"]
    )
    assert volume["configMap"]["name"] == objs["ConfigMap"]["metadata"]["name"]
    (item,) = volume["configMap"]["items"]
    assert config_path == f"{mount['mountPath']}/{item['path']}"
    text = objs["ConfigMap"]["data"][item["key"]]

    secret_name = c["envFrom"][0]["secretRef"]["name"]
    referenced = set(re.findall(r"\$\{(\w+)", text))
    if "Secret" in objs:
        assert objs["Secret"]["metadata"]["name"] == secret_name
        keys = set(objs["Secret"]["stringData"])
        assert referenced <= keys | set(env)
        for value in objs["Secret"]["stringData"].values():
            assert value not in text
    else:
        keys = referenced  # an existing Secret; NOTES.txt lists what it must hold
    config = parse(yaml.safe_load(text), env=dict.fromkeys(keys, "x"))
    assert set(config.clusters) == set(values.get("config", {}).get("clusters", {"prod": 0}))
    assert not re.search(r"password=(?!\$\{)", text)


def test_notes_list_what_the_secret_must_hold() -> None:
    notes = render()["pgconn/templates/NOTES.txt"]
    for name in ("SLACK_BOT_TOKEN", "PGCONN_PROD_PASSWORD", "PGCONN_PROD_ADMIN_PASSWORD"):
        assert f"--from-literal={name}=" in notes
    assert "8081" in notes


def test_one_replica_stops_before_the_next_starts() -> None:
    objs = objects()
    assert objs["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}
    assert objs["PodDisruptionBudget"]["spec"] == {
        "maxUnavailable": 1,
        "selector": objs["PodDisruptionBudget"]["spec"]["selector"],
    }


def test_several_replicas_share_the_state_database() -> None:
    objs = objects(PRODUCTION)
    spec = objs["Deployment"]["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in objs["PodDisruptionBudget"]["spec"]
    spread = spec["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["topologyKey"] == "kubernetes.io/hostname"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "replicaCount > 1 needs config.state_dsn"),
        ({"config": {"clusters": None}}, "config.clusters: at least one cluster"),
        ({"podDisruptionBudget": {"minAvailable": 1}}, "not both"),
    ],
)
def test_settings_that_cannot_work_fail_the_render(values: dict[str, Any], message: str) -> None:
    helm = tools.module("helm_python")
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        render(values)


def test_service_monitor() -> None:
    """A prometheus-operator CRD, outside the Kubernetes schemas: checked for the fields the
    operator requires and for pointing at the Service's metrics port."""
    objs = objects(PRODUCTION)
    monitor = objs["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    spec = monitor["spec"]
    assert spec["selector"]["matchLabels"].items() <= objs["Service"]["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": ["ops"]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in objs["Service"]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
    assert "serviceMonitor" in yaml.safe_load((tools.CHART / "values.yaml").read_text())
    assert "ServiceMonitor" not in objects()


def test_ingress_exposes_only_slack_events() -> None:
    ingress = objects(PRODUCTION)["Ingress"]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/slack/events"
    assert path["pathType"] == "Exact"
    assert path["backend"]["service"]["port"] == {"name": "http"}
