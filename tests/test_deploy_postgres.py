"""Several replicas on one PostgreSQL database: deploy/compose.postgres.yml and the
Kubernetes overlay deploy/kubernetes-postgres/.

The compose file is checked against the compose specification's schema, then read as
compose reads it (its ``${VARIABLES}`` filled in): two replicas of the bot, each waiting
for a healthy postgres service and reaching it through DATABASE_URL, hardened like
deploy/compose.yml, with settings the bot knows and no password committed.

The overlay is rendered here as kustomize would (the few kustomize features it uses; the
rendering is compared with ``kubectl kustomize`` where kubectl is installed), and the
result is checked against Kubernetes' own schemas and for what several replicas need: a
StatefulSet of two pods in the base Deployment's place, its pod the base's but for the
database, the lease and Discord's shards, each pod connecting the shard of its number
(DISCORD_SHARD_COUNT equal to the replicas), no volume claim, DATABASE_URL from an
external Secret.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import psycopg
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from adapters.discord.settings import load_discord_settings
from bot.config import DEFAULT_HTTP_PORT, load_settings
from bot.errors import ConfigError
from bot.observability.server import HEALTH_PATH, READY_PATH
from tests.test_config import _documented_names as setting_names
from tests.test_deploy_container import COMPOSE, DEPLOY, ROOT, compose_errors, healthcheck_command

COMPOSE_POSTGRES = DEPLOY / "compose.postgres.yml"
BASE = DEPLOY / "kubernetes"
OVERLAY = DEPLOY / "kubernetes-postgres"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

PASSWORD = "s3cretFromDotEnv"
"""What the tests put in POSTGRES_PASSWORD, as a user's .env would."""

Document = dict[str, Any]


# -- compose's variables ------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is unset (compose refuses to start)."""


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """``value`` (a compose document or any part of it) with its ``$VAR``, ``${VAR}``,
    ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` and
    ``$$`` filled in from ``variables``, as compose does."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def fill(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        present = name in variables and (variables[name] != "" or not op or ":" not in op)
        if present:
            return variables[name]
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return _VARIABLE.sub(fill, value)


def test_interpolate_reads_variables_as_compose_does() -> None:
    variables = {"SET": "yes", "EMPTY": ""}
    assert interpolate("$SET ${SET} ${EMPTY:-d} ${EMPTY-d} ${GONE:-d} $$SET", variables) == (
        "yes yes d  d $SET"
    )
    assert interpolate({"a": ["${SET:?needed}"]}, variables) == {"a": ["yes"]}
    with pytest.raises(MissingVariable, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", variables)


# -- deploy/compose.postgres.yml ----------------------------------------------------------


@pytest.fixture(scope="module")
def raw_compose() -> Document:
    loaded: Document = yaml.safe_load(COMPOSE_POSTGRES.read_text())
    return loaded


@pytest.fixture(scope="module")
def compose(raw_compose: Document) -> Document:
    """The file as compose runs it, with POSTGRES_PASSWORD from the .env."""
    filled: Document = interpolate(raw_compose, {"POSTGRES_PASSWORD": PASSWORD})
    return filled


def replicas(compose: Document) -> dict[str, Document]:
    """The services that run the bot (its image), by name."""
    services: dict[str, Document] = compose["services"]
    single = yaml.safe_load(COMPOSE.read_text())["services"]["arxiv-bot"]
    return {name: s for name, s in services.items() if s.get("image") == single["image"]}


def database_service(compose: Document) -> tuple[str, Document]:
    (found,) = [
        (name, s) for name, s in compose["services"].items() if s["image"].startswith("postgres:")
    ]
    return found


def test_compose_postgres_follows_the_compose_specification(raw_compose: Document) -> None:
    assert compose_errors(raw_compose) == []
    broken = copy.deepcopy(raw_compose)
    broken["services"]["arxiv-bot-2"]["depends_on"] = {"postgres": {"condition": "healthy"}}
    assert any("healthy" in error for error in compose_errors(broken))


def test_postgres_is_pinned_keeps_its_data_in_a_named_volume_and_checks_readiness(
    compose: Document,
) -> None:
    _, postgres = database_service(compose)
    assert re.fullmatch(r"postgres:\d+(\.\d+)*(-alpine|-bookworm)?", postgres["image"])
    volume, _, mount = postgres["volumes"][0].partition(":")
    assert volume in compose["volumes"]  # a named volume, not a folder of the host
    assert mount == "/var/lib/postgresql/data"
    check = postgres["healthcheck"]["test"]
    assert check[:2] == ["CMD", "pg_isready"]
    env = postgres["environment"]
    assert (check[check.index("-U") + 1], check[check.index("-d") + 1]) == (
        env["POSTGRES_USER"],
        env["POSTGRES_DB"],
    )
    assert "ports" not in postgres  # reached on the project's network only
    assert postgres["restart"] == "unless-stopped"


def test_two_replicas_wait_for_a_healthy_database(compose: Document) -> None:
    name, _ = database_service(compose)
    found = replicas(compose)
    assert len(found) == 2
    for service in found.values():
        assert service["depends_on"] == {name: {"condition": "service_healthy"}}


def test_every_replica_reaches_the_postgres_service(
    compose: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, postgres = database_service(compose)
    env = postgres["environment"]
    for service in replicas(compose).values():
        url = service["environment"]["DATABASE_URL"]
        monkeypatch.setenv("DATABASE_URL", url)
        settings = load_settings()
        assert settings.uses_postgres
        info = psycopg.conninfo.conninfo_to_dict(settings.database_url)
        assert (info["host"], info.get("port", "5432")) == (name, "5432")
        account = (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"])
        assert (info["user"], info["password"], info["dbname"]) == account
        assert account == ("arxiv_bot", PASSWORD, "arxiv_bot")


def test_the_same_variables_build_the_server_and_the_url(raw_compose: Document) -> None:
    chosen = {"POSTGRES_PASSWORD": "p4ss", "POSTGRES_USER": "u", "POSTGRES_DB": "d"}
    filled = interpolate(raw_compose, chosen)
    _, postgres = database_service(filled)
    assert postgres["environment"] == chosen
    for service in replicas(filled).values():
        assert service["environment"]["DATABASE_URL"] == "postgresql://u:p4ss@postgres:5432/d"


def test_no_password_is_committed(raw_compose: Document) -> None:
    # Without POSTGRES_PASSWORD in the .env compose refuses to start: no default password.
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(raw_compose, {})
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(raw_compose, {"POSTGRES_PASSWORD": ""})
    _, postgres = database_service(raw_compose)
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for service in replicas(raw_compose).values():
        assert (DEPLOY / service["env_file"]).resolve() == ROOT / ".env"  # kept out of git
        url = service["environment"]["DATABASE_URL"]
        assert ":${POSTGRES_PASSWORD:?" in url


def test_replicas_set_only_settings_of_the_bot_and_split_discords_shards(
    compose: Document, monkeypatch: pytest.MonkeyPatch
) -> None:
    shards: list[int] = []
    counts = set()
    for service in replicas(compose).values():
        env = service["environment"]
        assert set(env) <= setting_names(), set(env) - setting_names()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        load_settings()  # valid values, not only valid names
        discord = load_discord_settings()
        assert discord.shard_ids is not None, "each replica needs its own Discord shards"
        shards += discord.shard_ids
        counts.add(discord.shard_count)
    (count,) = counts  # the same count on every replica
    assert count is not None
    assert sorted(shards) == list(range(count))  # every shard, each on one replica


def test_replicas_are_hardened_and_run_like_the_single_service(compose: Document) -> None:
    single = yaml.safe_load(COMPOSE.read_text())["services"]["arxiv-bot"]
    shared = ("build", "image", "command", "env_file", "restart", "stop_grace_period")
    hardening = ("read_only", "tmpfs", "cap_drop", "security_opt", "healthcheck")
    for service in replicas(compose).values():
        for key in (*shared, *hardening):
            assert service[key] == single[key], key
        assert service["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
        assert "volumes" not in service  # no SQLite file
        assert service["environment"]["HTTP_PORT"] == single["environment"]["HTTP_PORT"]


def test_health_ports_are_published_to_this_host_on_different_ports(compose: Document) -> None:
    host_ports = []
    for service in replicas(compose).values():
        port = service["environment"]["HTTP_PORT"]
        (published,) = [p for p in service["ports"] if p.endswith(f":{port}")]
        address, host_port, _ = published.split(":")
        assert address == "127.0.0.1"
        host_ports.append(host_port)
    assert len(set(host_ports)) == len(host_ports) == 2
    assert "3000:3000" in COMPOSE_POSTGRES.read_text()  # Slack's HTTP mode, commented out


# -- kustomize, as far as the overlay uses it ---------------------------------------------

Key = tuple[str, str]
"""A resource's kind and name."""


def render(directory: Path) -> list[Document]:
    """The resources ``kubectl kustomize directory`` prints, for the features the
    kustomizations here use: resources (files and folders), images and delete patches."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "images", "patches"}
    assert set(kustomization) <= known, set(kustomization) - known
    documents: list[Document] = []
    for entry in kustomization["resources"]:
        path = directory / entry
        if path.is_dir():
            documents += render(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"patch"}, "only delete patches, written inline"
        body = yaml.safe_load(patch["patch"])
        assert body.pop("$patch") == "delete", "only delete patches"
        doomed = (body["kind"], body["metadata"]["name"])
        before = len(documents)
        documents = [d for d in documents if key(d) != doomed]
        assert len(documents) == before - 1, f"nothing to delete: {body}"  # kustomize fails too
    for image in kustomization.get("images", []):
        for document in documents:
            if document["kind"] not in ("Deployment", "StatefulSet"):
                continue
            for item in document["spec"]["template"]["spec"]["containers"]:
                if item["image"] == image["name"]:
                    item["image"] = f"{image['newName']}:{image['newTag']}"
    return documents


def key(document: Document) -> Key:
    return document["kind"], document["metadata"]["name"]


def by_key(documents: list[Document]) -> dict[Key, Document]:
    found: dict[Key, Document] = {}
    for document in documents:
        assert key(document) not in found, f"two of {key(document)}"
        found[key(document)] = document
    return found


STATEFULSET: Key = ("StatefulSet", "arxiv-bot")
SERVICE: Key = ("Service", "arxiv-bot")
BUDGET: Key = ("PodDisruptionBudget", "arxiv-bot")
SECRET: Key = ("Secret", "arxiv-bot")


@pytest.fixture(scope="module")
def variant() -> dict[Key, Document]:
    return by_key(render(OVERLAY))


@pytest.fixture(scope="module")
def base() -> dict[Key, Document]:
    return by_key(render(BASE))


def container(workload: Document) -> Document:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env_of(workload: Document) -> dict[str, Document]:
    return {item["name"]: item for item in container(workload)["env"]}


def plain_env(workload: Document) -> dict[str, str]:
    """The container's env with literal values (not from a Secret)."""
    return {name: item["value"] for name, item in env_of(workload).items() if "value" in item}


def test_the_rendering_here_is_kustomizes() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: its kustomize cannot check the rendering here")
    done = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert by_key(list(yaml.safe_load_all(done.stdout))) == by_key(render(OVERLAY))


@pytest.mark.parametrize("version", [all_versions()[0], kubernetes_validate.latest_version()])
@pytest.mark.parametrize(
    "resource", [STATEFULSET, SERVICE, ("Service", "arxiv-bot-pods"), BUDGET, SECRET]
)
def test_the_variant_is_valid_kubernetes(
    variant: dict[Key, Document], resource: Key, version: str
) -> None:
    kubernetes_validate.validate(variant[resource], version, strict=True)


def test_a_statefulset_replaces_the_deployment_and_no_claim_is_left(
    variant: dict[Key, Document], base: dict[Key, Document]
) -> None:
    headless = ("Service", variant[STATEFULSET]["spec"]["serviceName"])
    assert set(variant) == {STATEFULSET, SERVICE, headless, BUDGET, SECRET}
    # The base keeps its one-pod Deployment and its SQLite claim.
    assert {("Deployment", "arxiv-bot"), ("PersistentVolumeClaim", "arxiv-bot-data")} <= set(base)
    spec = variant[STATEFULSET]["spec"]
    assert "volumeClaimTemplates" not in spec
    pod = spec["template"]["spec"]
    assert [v for v in pod["volumes"] if "persistentVolumeClaim" in v] == []
    mounts = {m["mountPath"]: m["name"] for m in container(variant[STATEFULSET])["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert list(mounts) == ["/tmp"] and "emptyDir" in volumes[mounts["/tmp"]]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]


def test_two_pods_with_stable_names_replaced_one_at_a_time(variant: dict[Key, Document]) -> None:
    statefulset = variant[STATEFULSET]
    spec = statefulset["spec"]
    assert spec["replicas"] == 2
    assert spec["podManagementPolicy"] == "Parallel"  # started together, not one by one
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    assert spec["updateStrategy"].get("rollingUpdate", {}).get("partition", 0) == 0
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # The governing Service is headless and selects these pods: arxiv-bot-0.arxiv-bot-pods...
    governing = variant[("Service", spec["serviceName"])]
    assert governing["spec"]["clusterIP"] == "None"
    assert governing["spec"]["selector"].items() <= labels.items()


def test_the_pod_is_the_bases_but_for_the_database_the_lease_and_the_shards(
    variant: dict[Key, Document], base: dict[Key, Document]
) -> None:
    deployment, statefulset = base[("Deployment", "arxiv-bot")], variant[STATEFULSET]
    assert statefulset["metadata"]["labels"] == deployment["metadata"]["labels"]
    assert statefulset["spec"]["selector"] == deployment["spec"]["selector"]
    template, base_template = statefulset["spec"]["template"], deployment["spec"]["template"]
    assert template["metadata"] == base_template["metadata"]  # labels, scrape annotations
    pod, base_pod = dict(template["spec"]), dict(base_template["spec"])
    # The pod: the same but for the SQLite volume.
    assert pod.pop("volumes") == [v for v in base_pod.pop("volumes") if v["name"] != "data"]
    pod.pop("containers"), base_pod.pop("containers")
    assert pod == base_pod  # security context, grace period, no service account token
    # The container: the same (image, args, ports, probes, resources, security context)
    # but for its env and the SQLite volume's mount.
    ours, theirs = container(statefulset), container(deployment)
    assert ours.pop("volumeMounts") == [
        m for m in theirs.pop("volumeMounts") if m["name"] != "data"
    ]
    env, base_env = ours.pop("env"), theirs.pop("env")
    assert ours == theirs
    expected = [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "arxiv-bot-database", "key": "url"}},
        },
        *[item for item in base_env if item["name"] != "DATABASE_URL"],
        {"name": "HARVEST_LEASE_SECONDS", "value": "30"},
        {"name": "DISCORD_SHARD_COUNT", "value": "2"},
        {"name": "DISCORD_SHARD_IDS", "value": "ordinal"},
    ]
    assert env == expected


def test_each_pod_connects_the_discord_shard_of_its_number(
    variant: dict[Key, Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    statefulset = variant[STATEFULSET]
    name, replicas = statefulset["metadata"]["name"], statefulset["spec"]["replicas"]
    for setting, value in plain_env(statefulset).items():
        monkeypatch.setenv(setting, value)
    monkeypatch.setenv("DISCORD_TOKEN", "t")  # from the arxiv-bot Secret, when Discord is on
    shards: list[int] = []
    counts = set()
    for ordinal in range(replicas):
        # A StatefulSet's pod is its name and its number; so is its host name.
        discord = load_discord_settings(_env_file=None, hostname=f"{name}-{ordinal}")
        assert discord.shard_ids == (ordinal,)
        shards += discord.shard_ids
        counts.add(discord.shard_count)
    assert counts == {replicas}  # DISCORD_SHARD_COUNT == replicas
    assert sorted(shards) == list(range(replicas))  # every shard, each on one pod
    # One more pod without a higher count stops with what to change.
    with pytest.raises(ConfigError, match="set DISCORD_SHARD_COUNT to the StatefulSet's replicas"):
        load_discord_settings(_env_file=None, hostname=f"{name}-{replicas}")


def test_the_shard_settings_do_nothing_without_discord(
    variant: dict[Key, Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting, value in plain_env(variant[STATEFULSET]).items():
        monkeypatch.setenv(setting, value)
    assert set(variant[SECRET]["stringData"]) >= {"DISCORD_TOKEN"}
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)  # Slack alone
    for host in ("arxiv-bot-0", "arxiv-bot-5", "elsewhere"):
        discord = load_discord_settings(_env_file=None, hostname=host)
        assert not discord.is_configured  # so `arxiv-bot run` starts no Discord adapter


def test_the_database_url_comes_from_an_external_secret(variant: dict[Key, Document]) -> None:
    env = env_of(variant[STATEFULSET])
    reference = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["DATABASE_URL"]
    assert reference == {"name": "arxiv-bot-database", "key": "url"}
    names = [name for kind, name in variant if kind == "Secret"]
    assert reference["name"] not in names  # created by the user, with no password here
    secret, key = reference["name"], reference["key"]
    command = f"kubectl create secret generic {secret} --from-literal={key}="
    for text in ((OVERLAY / "kustomization.yaml").read_text(), DEPLOYMENT_DOC.read_text()):
        assert command in text
    # The tokens still come from the base's Secret template, empty.
    assert container(variant[STATEFULSET])["envFrom"] == [{"secretRef": {"name": "arxiv-bot"}}]
    assert set(variant[SECRET]["stringData"].values()) == {""}


def test_the_variants_settings_are_the_bots(
    variant: dict[Key, Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    statefulset = variant[STATEFULSET]
    assert set(env_of(statefulset)) <= setting_names()
    values = plain_env(statefulset)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://arxiv_bot:pw@db.example.org:5432/arxiv_bot")
    settings = load_settings(_env_file=None)
    assert settings.uses_postgres
    assert settings.harvest_lease_seconds == float(values["HARVEST_LEASE_SECONDS"]) == 30
    assert settings.http_port == int(values["HTTP_PORT"]) == DEFAULT_HTTP_PORT


def test_probes_ask_the_health_endpoints_on_the_health_port(variant: dict[Key, Document]) -> None:
    spec = container(variant[STATEFULSET])
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    probes = {
        kind: (spec[kind]["httpGet"]["path"], ports[spec[kind]["httpGet"]["port"]])
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes == {
        "livenessProbe": (HEALTH_PATH, DEFAULT_HTTP_PORT),
        "readinessProbe": (READY_PATH, DEFAULT_HTTP_PORT),
        "startupProbe": (HEALTH_PATH, DEFAULT_HTTP_PORT),
    }


def test_the_disruption_budget_keeps_one_of_the_pods(variant: dict[Key, Document]) -> None:
    budget, statefulset = variant[BUDGET], variant[STATEFULSET]
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 1 < statefulset["spec"]["replicas"]


def test_the_variant_keeps_the_bases_image_and_service(
    variant: dict[Key, Document], base: dict[Key, Document]
) -> None:
    deployment = base[("Deployment", "arxiv-bot")]
    assert container(variant[STATEFULSET])["image"] == container(deployment)["image"]
    images = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())["images"]
    assert images == yaml.safe_load((BASE / "kustomization.yaml").read_text())["images"]
    assert variant[SERVICE] == base[SERVICE]  # it balances over both pods
