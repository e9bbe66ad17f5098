"""The container: deploy/Dockerfile, .dockerignore and deploy/compose.yml.

The Dockerfile is read with ``dockerfile-parse``: a pinned multi-stage build whose
non-root user owns /data before /data becomes a volume, the database on that volume, and
a HEALTHCHECK that is run here against a local server. The compose file is checked
against the compose specification's schema. Where a container engine runs (``podman``
or ``docker``) and has the base image, the image is built and run.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from bot.config import DEFAULT_HTTP_PORT, Settings, load_settings
from bot.observability.server import HEALTH_PATH
from tests.conftest import settings_env
from tests.fakes.http_server import TEXT, Answer, FakeHttpServer, Script
from tests.slack.test_run import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"


def database_path(
    url: str, monkeypatch: pytest.MonkeyPatch, *, data_home: str | None = None
) -> PurePosixPath:
    """Where ``arxiv-bot`` keeps its database when ``DATABASE_URL`` is ``url`` (and
    ``XDG_DATA_HOME`` is ``data_home``)."""
    monkeypatch.setenv("DATABASE_URL", url)
    if data_home is not None:
        monkeypatch.setenv("XDG_DATA_HOME", data_home)
    return PurePosixPath(load_settings().database_path)


# -- reading the Dockerfile ---------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str
    stage: int
    """Which FROM it follows, counting from 0."""


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions in order (comments left out)."""
    found, stage = [], -1
    for item in DockerfileParser(str(DOCKERFILE)).structure:
        name = item["instruction"]
        stage += name == "FROM"
        if name != "COMMENT":
            found.append(Instruction(name, item["value"], stage))
    return found


def runtime() -> list[Instruction]:
    """The last stage: what the image runs."""
    found = instructions()
    return [i for i in found if i.stage == found[-1].stage]


def only(name: str, stage: list[Instruction]) -> Instruction:
    matches = [i for i in stage if i.name == name]
    assert len(matches) == 1, f"expected one {name}, got {matches}"
    return matches[0]


def shell_commands(run: Instruction) -> list[list[str]]:
    """A RUN's commands (joined with && or ;), each as its words."""
    return [shlex.split(part) for part in re.split(r"&&|;", run.value) if part.strip()]


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


@dataclass(frozen=True)
class ImageUser:
    name: str
    uid: int
    gid: int


def image_user() -> ImageUser:
    """The user the image's RUN creates (``useradd --uid``), with its group's id."""
    commands = [c for i in runtime() if i.name == "RUN" for c in shell_commands(i)]
    useradd = next(c for c in commands if c[0] == "useradd")
    groupadd = next(c for c in commands if c[0] == "groupadd")
    assert option(useradd, "--gid") == groupadd[-1]
    return ImageUser(useradd[-1], int(option(useradd, "--uid")), int(option(groupadd, "--gid")))


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's command, in exec form."""
    value = only("HEALTHCHECK", runtime()).value
    exec_form = re.search(r"\bCMD\s+(\[.*\])\s*$", value, re.DOTALL)
    assert exec_form, f"HEALTHCHECK should use the exec form: {value}"
    command: list[str] = json.loads(exec_form[1])
    return command


# -- the Dockerfile -----------------------------------------------------------------------


def test_every_stage_starts_from_one_pinned_python_image() -> None:
    parents = DockerfileParser(str(DOCKERFILE)).parent_images  # build ARGs substituted
    assert len(parents) >= 2  # a builder stage and a runtime stage
    assert len(set(parents)) == 1
    name, _, tag = parents[0].partition(":")
    assert name == "python"
    assert re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag), f"not a patch-pinned slim tag: {tag}"


def test_the_runtime_copies_only_the_builders_virtualenv() -> None:
    stages = [i for i in instructions() if i.name == "FROM"]
    assert stages[0].value.endswith(" AS builder")
    copies = [i.value.split() for i in runtime() if i.name == "COPY"]
    assert copies == [["--from=builder", "/opt/arxiv-bot", "/opt/arxiv-bot"]]
    assert "/opt/arxiv-bot/bin" in only("ENV", runtime()).value  # on PATH


def test_a_non_root_user_owns_data_before_it_becomes_a_volume() -> None:
    stage = runtime()
    user = image_user()
    assert user.uid != 0 and user.gid != 0

    # USER names that user by number (Kubernetes' runAsNonRoot can only check numbers).
    user_line = only("USER", stage)
    assert user_line.value == f"{user.uid}:{user.gid}"

    # A RUN makes /data and chowns it to the user, before VOLUME and USER: what WORKDIR
    # or VOLUME create belongs to root, and a fresh named volume copies the owner.
    def makes_data(run: Instruction) -> bool:
        commands = shell_commands(run)
        made = any(c[0] == "mkdir" and "/data" in c for c in commands)
        owned = any(
            c[0] == "chown" and "/data" in c and c[-2].split(":")[0] in (user.name, str(user.uid))
            for c in commands
        )
        return made and owned

    setup = [n for n, i in enumerate(stage) if i.name == "RUN" and makes_data(i)]
    volume = only("VOLUME", stage)
    assert setup, "no RUN creates /data and chowns it to the image's user"
    assert json.loads(volume.value) == ["/data"]
    assert setup[0] < stage.index(volume) < stage.index(user_line)


def test_the_database_is_on_the_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = DockerfileParser(str(DOCKERFILE)).envs
    database = database_path(envs["DATABASE_URL"], monkeypatch)
    assert database.parent == PurePosixPath("/data")
    assert only("WORKDIR", runtime()).value == "/data"  # a relative DATABASE_URL too

    # An --env-file with DATABASE_URL empty (.env.example) means the data directory,
    # which the image links to the volume: the same file.
    default = database_path("", monkeypatch, data_home=envs["XDG_DATA_HOME"])
    commands = [c for i in runtime() if i.name == "RUN" for c in shell_commands(i)]
    links = {c[-1]: c[-2] for c in commands if c[:2] == ["ln", "-s"]}
    assert PurePosixPath(links[str(default.parent)]) / default.name == database


def test_the_console_starts_by_default_and_the_health_port_is_exposed() -> None:
    stage = runtime()
    assert json.loads(only("ENTRYPOINT", stage).value) == ["arxiv-bot"]
    assert json.loads(only("CMD", stage).value) == ["run"]
    port = DockerfileParser(str(DOCKERFILE)).envs["HTTP_PORT"]
    assert only("EXPOSE", stage).value.split() == [port] == [str(DEFAULT_HTTP_PORT)]


class FakeHealth(FakeHttpServer[Script]):
    """Answers ``/healthz`` with 200, or with a scripted failure."""

    def __init__(self) -> None:
        super().__init__(path=HEALTH_PATH, name="health")

    def _respond(self, params: dict[str, str], script: Script | None) -> Answer:
        return 200, {"Content-Type": TEXT}, b"ok\n"

    def fail_next(self, status: int) -> None:
        self._add_script(Script(status=status))


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, run here with HTTP_PORT=``port``."""
    program, *args = healthcheck_command()
    assert program == "python"  # the image's; curl is not in slim images
    return subprocess.run(
        [sys.executable, *args],
        env={"HTTP_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_healthcheck_passes_against_a_running_bot(settings: Settings) -> None:
    port = free_port()
    env = {**settings_env(settings), "HTTP_PORT": str(port)}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as bot:
        assert bot.stdin is not None and bot.stderr is not None
        try:
            deadline = time.monotonic() + 30
            while run_healthcheck(port).returncode != 0:
                assert bot.poll() is None, bot.stderr.read()
                assert time.monotonic() < deadline, "the health check never passed"
                time.sleep(0.1)
        finally:
            bot.stdin.close()  # end of input: the console stops
            assert bot.wait(timeout=30) == 0, bot.stderr.read()


def test_the_healthcheck_fails_when_healthz_fails() -> None:
    assert HEALTH_PATH in " ".join(healthcheck_command())
    assert "--timeout=" in only("HEALTHCHECK", runtime()).value
    with FakeHealth() as health:
        assert run_healthcheck(health.port).returncode == 0
        assert [r.path for r in health.requests] == [HEALTH_PATH]
        health.fail_next(503)
        assert run_healthcheck(health.port).returncode != 0
        closed = health.port
    assert run_healthcheck(closed).returncode != 0  # nothing listens


# -- .dockerignore ------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex (Go's filepath.Match, plus ``**``)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out, as Docker reads .dockerignore: the
    last pattern matching the path or one of its parent folders decides."""
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for line in lines:
        if not line or line.startswith("#"):
            continue
        regex = _pattern_regex(line.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not line.startswith("!")
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_docs.py",
        "arxiv-bot.db",
        "arxiv-bot.db-wal",
        "bot/__pycache__/app.cpython-311.pyc",
        "bot/.env",
        ".mypy_cache/3.11/bot/app.meta.json",
    ],
)
def test_dockerignore_leaves_out_secrets_environments_and_caches(path: str) -> None:
    assert dockerignored(path)


def test_dockerignore_keeps_everything_the_build_copies() -> None:
    sources = [
        word
        for i in instructions()
        if i.name == "COPY" and not i.value.startswith("--from")
        for word in i.value.split()[:-1]
    ]
    assert {"pyproject.toml", "README.md", "bot", "adapters"} <= set(sources)
    files = [
        path.relative_to(ROOT).as_posix()
        for source in sources
        for path in ([ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert "bot/data/categories.json" in files
    assert [f for f in files if dockerignored(f)] == []


# -- compose ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def compose_errors(document: dict[str, Any]) -> list[str]:
    """What the compose specification's JSON schema (shipped by check-jsonschema) finds."""
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(schema_file.joinpath("compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []
    service = compose["services"]["arxiv-bot"]
    misspelt = {**compose, "services": {"arxiv-bot": {**service, "restrat": "always"}}}
    assert any("restrat" in error for error in compose_errors(misspelt))


def test_compose_runs_the_service_from_env_with_a_named_volume(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"]["arxiv-bot"]
    assert (DEPLOY / service["build"]["context"]).resolve() == ROOT
    assert (ROOT / service["build"]["dockerfile"]) == DOCKERFILE
    assert (DEPLOY / service["env_file"]).resolve() == ROOT / ".env"
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert "--no-console" in service["command"]  # a service: no terminal to read

    volume, _, mount = next(v for v in service["volumes"] if v.endswith(":/data")).partition(":")
    assert volume in compose["volumes"]  # a named volume, not a folder of the host
    url = service["environment"]["DATABASE_URL"]  # wins over a DATABASE_URL in .env
    assert database_path(url, monkeypatch).parent == PurePosixPath(mount)


def test_compose_publishes_the_health_port_and_checks_it(compose: dict[str, Any]) -> None:
    service = compose["services"]["arxiv-bot"]
    port = service["environment"]["HTTP_PORT"]
    assert [p for p in service["ports"] if p.endswith(f":{port}")], service["ports"]
    assert "3000:3000" in COMPOSE.read_text()  # Slack's HTTP mode, commented out
    assert service["healthcheck"]["test"] == ["CMD", *healthcheck_command()]


# -- the image, where a container engine can build it ------------------------------------


def container_engine() -> str | None:
    """podman or docker, when one is installed and can run containers here."""
    for name in ("podman", "docker"):
        path = shutil.which(name)
        if path and _quiet([path, "info"], timeout=60).returncode == 0:
            return path
    return None


def _quiet(
    command: list[str], *, timeout: float, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def built_image() -> Iterator[tuple[str, str]]:
    """(engine, image): deploy/Dockerfile built, removed at the end."""
    engine = container_engine()
    if engine is None:
        pytest.skip("no container engine runs here (podman or docker with a reachable daemon)")
    base = DockerfileParser(str(DOCKERFILE)).parent_images[0]
    has_base = _quiet([engine, "image", "inspect", base], timeout=60).returncode == 0
    if not has_base and _quiet([engine, "pull", base], timeout=600).returncode != 0:
        pytest.skip(f"the base image {base} is neither present nor pullable (offline?)")
    image = f"arxiv-bot-test:{uuid.uuid4().hex[:12]}"
    build = _quiet([engine, "build", "-f", str(DOCKERFILE), "-t", image, str(ROOT)], timeout=1200)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield engine, image
    _quiet([engine, "rmi", "-f", image], timeout=120)


def test_the_image_runs_the_console_as_its_user_and_keeps_the_database(
    built_image: tuple[str, str],
) -> None:
    engine, image = built_image
    volume = f"arxiv-bot-test-{uuid.uuid4().hex[:12]}"
    offline = [
        "-e",
        "ARXIV_API_URL=http://127.0.0.1:9/api",
        "-e",
        "ARXIV_OAI_URL=http://127.0.0.1:9/oai",
    ]
    run = [engine, "run", "--rm", "-i", "-v", f"{volume}:/data", *offline]
    user = image_user()
    try:
        owner = _quiet([*run, "--entrypoint", "stat", image, "-c", "%u %g", "/data"], timeout=120)
        assert owner.stdout.split() == [str(user.uid), str(user.gid)], owner.stderr
        uid = _quiet([*run, "--entrypoint", "id", image, "-u"], timeout=120)
        assert uid.stdout.strip() == str(user.uid), uid.stderr

        first = _quiet([*run, image], stdin="/arxiv subscribe cat:cs.LG\n", timeout=300)
        assert first.returncode == 0, first.stderr
        again = _quiet([*run, image], stdin="/arxiv list\n", timeout=300)  # a new container
        assert again.returncode == 0, again.stderr
        assert "cat:cs.LG" in again.stdout
    finally:
        _quiet([engine, "volume", "rm", "-f", volume], timeout=120)
