"""deploy/kubernetes/: every manifest valid against Kubernetes' own schemas (offline, from
``kubernetes-validate``, unknown fields refused), and the properties a single-writer SQLite
bot needs: one replica, Recreate, the image's non-root user, the database on the volume,
probes on the health endpoints, resources sized from the benchmark.
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from adapters.slack.settings import SlackSettings
from bot.config import DEFAULT_HTTP_PORT
from bot.observability.server import HEALTH_PATH, READY_PATH
from tests.test_config import _documented_names as setting_names
from tests.test_deploy_container import ROOT, database_path, image_user

MANIFESTS = ROOT / "deploy" / "kubernetes"
KUSTOMIZATION = MANIFESTS / "kustomization.yaml"

Manifest = dict[str, Any]


def manifests() -> dict[str, Manifest]:
    """Every resource the kustomization lists, by kind."""
    found: dict[str, Manifest] = {}
    for name in yaml.safe_load(KUSTOMIZATION.read_text())["resources"]:
        for document in yaml.safe_load_all((MANIFESTS / name).read_text()):
            assert document["kind"] not in found, f"two {document['kind']}s"
            found[document["kind"]] = document
    return found


def pod(deployment: Manifest) -> Manifest:
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def container(deployment: Manifest) -> Manifest:
    (only,) = pod(deployment)["containers"]
    return dict(only)


def env(deployment: Manifest) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(deployment)["env"]}


def test_the_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load(KUSTOMIZATION.read_text())["resources"]
    on_disk = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p != KUSTOMIZATION)
    assert sorted(listed) == on_disk
    assert set(manifests()) == {"Deployment", "PersistentVolumeClaim", "Secret", "Service"}


@pytest.mark.parametrize("version", [all_versions()[0], kubernetes_validate.latest_version()])
@pytest.mark.parametrize("kind", ["Deployment", "PersistentVolumeClaim", "Secret", "Service"])
def test_manifests_are_valid_kubernetes(kind: str, version: str) -> None:
    kubernetes_validate.validate(manifests()[kind], version, strict=True)


def test_the_schemas_refuse_what_kubernetes_would() -> None:
    deployment = manifests()["Deployment"]
    spec = pod(deployment)["containers"][0]
    spec["livenesProbe"] = spec.pop("livenessProbe")  # a typo Kubernetes would refuse
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_one_pod_writes_the_database_at_a_time() -> None:
    deployment, claim = manifests()["Deployment"], manifests()["PersistentVolumeClaim"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # the old pod stops first
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_the_pod_runs_as_the_images_non_root_user() -> None:
    deployment, user = manifests()["Deployment"], image_user()
    security = pod(deployment)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == (user.uid, user.gid)
    assert security["fsGroup"] == user.gid  # the volume is writable to the user
    hardening = container(deployment)["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["capabilities"]["drop"] == ["ALL"]


def test_the_database_is_on_the_claim_and_tmp_is_writable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = manifests()
    deployment = found["Deployment"]
    volumes = {v["name"]: v for v in pod(deployment)["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container(deployment)["volumeMounts"]}

    database = database_path(env(deployment)["DATABASE_URL"], monkeypatch)
    claim = mounts[str(database.parent)]["persistentVolumeClaim"]["claimName"]
    assert claim == found["PersistentVolumeClaim"]["metadata"]["name"]
    assert "emptyDir" in mounts["/tmp"]  # the root file system is read-only


def test_probes_ask_the_health_endpoints_on_the_health_port() -> None:
    deployment = manifests()["Deployment"]
    spec = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert ports["http"] == int(env(deployment)["HTTP_PORT"]) == DEFAULT_HTTP_PORT
    probes = {
        kind: (spec[kind]["httpGet"]["path"], ports[spec[kind]["httpGet"]["port"]])
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes == {
        "livenessProbe": (HEALTH_PATH, DEFAULT_HTTP_PORT),
        "readinessProbe": (READY_PATH, DEFAULT_HTTP_PORT),
        "startupProbe": (HEALTH_PATH, DEFAULT_HTTP_PORT),
    }


def _bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``128Mi``, ``1G``) in bytes."""
    match = re.fullmatch(r"(\d+)([KMGT]i?)?", quantity)
    assert match, f"not a memory quantity: {quantity}"
    number, unit = match.groups()
    powers = {"K": 1, "M": 2, "G": 3, "T": 4}
    scale = 1 if unit is None else (1024 if unit.endswith("i") else 1000) ** powers[unit[0]]
    return int(number) * scale


def benchmark_peak_rss() -> int:
    """docs/performance.md's peak RSS with 10,000 subscriptions, in bytes."""
    table = (ROOT / "docs" / "performance.md").read_text()
    row = re.search(r"^\| 10,000 \|.*\| (\d+) MB \|$", table, re.MULTILINE)
    assert row, "docs/performance.md has no 10,000-subscription row"
    return int(row[1]) * 1_000_000


def test_resources_are_sized_from_the_benchmark() -> None:
    resources = container(manifests()["Deployment"])["resources"]
    peak = benchmark_peak_rss()
    request, limit = (_bytes(resources[k]["memory"]) for k in ("requests", "limits"))
    assert peak <= request < limit
    assert limit >= 4 * peak  # room for arXiv's larger days and Slack's and Discord's clients
    assert resources["requests"]["cpu"] == "100m"


def test_the_secret_is_a_template_of_known_settings() -> None:
    found = manifests()
    secret = found["Secret"]
    assert set(secret["stringData"].values()) == {""}  # placeholders only, no real values
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN"} <= set(secret["stringData"])
    assert set(secret["stringData"]) <= setting_names()  # no misspelt setting
    sources = container(found["Deployment"])["envFrom"]
    assert sources == [{"secretRef": {"name": secret["metadata"]["name"]}}]


def test_the_service_reaches_the_pods_health_and_slack_ports() -> None:
    found = manifests()
    service, deployment = found["Service"], found["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container_ports = {
        port["name"]: port["containerPort"] for port in container(deployment)["ports"]
    }
    targets = {port["targetPort"]: port["port"] for port in service["spec"]["ports"]}
    assert targets == {"http": 8080, "slack": 3000}
    assert set(targets) <= set(container_ports)
    assert container_ports["slack"] == SlackSettings.model_fields["port"].default


def test_the_kustomization_sets_the_image() -> None:
    images = yaml.safe_load(KUSTOMIZATION.read_text())["images"]
    assert [image["name"] for image in images] == [container(manifests()["Deployment"])["image"]]
