"""deploy/arxiv-bot.service: a notify service with a watchdog, its own state directory,
and hardening that the bot runs under.

The unit is parsed here in any case; where ``systemd-analyze`` exists it also verifies
the unit and rates its exposure offline. The bot itself is run as the unit runs it: under
MemoryDenyWriteExecute (the kernel's PR_SET_MDWE, as systemd applies it) and telling a
notify socket that it is ready, alive and stopping.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from bot.cli import EXIT_USAGE
from bot.config import Settings
from tests.conftest import settings_env
from tests.test_deploy_container import ROOT, database_path
from tests.test_systemd import PING, NotifySocket

UNIT = ROOT / "deploy" / "arxiv-bot.service"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """A unit file's sections, each key with all its values in order (keys such as
    ``Environment=`` repeat, which configparser cannot keep)."""
    unit: Unit = {}
    section: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {raw!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text())["Service"]


def test_the_bot_tells_systemd_when_it_is_ready_and_alive(service: dict[str, list[str]]) -> None:
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert int(service["WatchdogSec"][0]) >= 10
    assert service["Restart"] == ["on-failure"]
    assert int(service["RestartSec"][0]) > 0
    assert service["RestartPreventExitStatus"] == [str(EXIT_USAGE)]  # a bad setting stays bad
    exec_start = service["ExecStart"][0].split()
    assert Path(exec_start[0]).name == "arxiv-bot"
    assert exec_start[1:] == ["run", "--no-console"]


def test_a_fresh_host_needs_no_user_or_directory(
    service: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert service["DynamicUser"] == ["yes"]
    assert "User" not in service  # systemd makes the user
    state = PurePosixPath("/var/lib") / service["StateDirectory"][0]
    assert service["WorkingDirectory"] == [str(state)]  # where a relative database goes
    environment = dict(value.partition("=")[::2] for value in service["Environment"])
    database = database_path(environment["DATABASE_URL"], monkeypatch)
    assert database.parent == state
    # /etc/arxiv-bot/env wins over Environment=: its DATABASE_URL left empty
    # (.env.example) means the data directory, which is the same file.
    assert database_path("", monkeypatch, data_home=environment["XDG_DATA_HOME"]) == database
    assert service["EnvironmentFile"] == ["-/etc/arxiv-bot/env"]  # optional


HARDENING = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


def test_the_service_is_hardened(service: dict[str, list[str]]) -> None:
    assert {key: service.get(key, [None])[-1] for key in HARDENING} == HARDENING
    assert service["SystemCallFilter"][0] == "@system-service"


def test_the_unit_is_installed_for_boot() -> None:
    unit = parse_unit(UNIT.read_text())
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["Wants"]


# -- systemd-analyze, where it exists ---------------------------------------------------


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed here")
    return path


def runnable_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit (or ``text``) in ``tmp_path``, its ExecStart pointed at this checkout's
    arxiv-bot: ``verify`` wants the program to exist."""
    program = Path(sys.executable).with_name("arxiv-bot")
    text = re.sub(
        r"^ExecStart=\S+", f"ExecStart={program}", text or UNIT.read_text(), flags=re.MULTILINE
    )
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    result = analyze("verify", str(runnable_copy(tmp_path)))
    complaints = [line for line in result.stderr.splitlines() if UNIT.name in line]
    assert (result.returncode, complaints) == (0, [])

    misspelt = UNIT.read_text().replace("ProtectSystem=", "ProtectSytem=")
    result = analyze("verify", str(runnable_copy(tmp_path, misspelt)))
    assert "Unknown key 'ProtectSytem'" in result.stderr  # the check sees mistakes


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    version = analyze("--version").stdout.split()[1]
    if int(version) < 250:
        pytest.skip(f"systemd {version} has no `security --offline` (250 and later)")
    result = analyze("security", "--offline=yes", str(runnable_copy(tmp_path)))
    assert result.returncode == 0, result.stderr
    rating = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    assert rating, result.stdout
    assert float(rating[1]) <= 3.0, result.stdout  # the scale runs to 10 ("UNSAFE")
    assert rating[2] in ("OK", "SAFE", "PERFECT")


# -- the bot as the unit runs it ---------------------------------------------------------

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
NO_WRITE_EXECUTE = f"""
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0):
    sys.exit(77)  # the kernel has no PR_SET_MDWE (Linux 6.3 and later)
os.execv(sys.argv[1], sys.argv[1:])
"""
"""Runs its arguments with memory that is writable and executable at once refused, as
MemoryDenyWriteExecute=yes does (the setting survives exec)."""

WRITE_AND_EXECUTE = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)"


def without_write_execute(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", NO_WRITE_EXECUTE, sys.executable, *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 77:
        pytest.skip("this kernel cannot refuse writable executable memory (PR_SET_MDWE)")
    return result


def test_the_bot_runs_as_the_unit_runs_it(settings: Settings, tmp_path: Path) -> None:
    refused = without_write_execute("-c", WRITE_AND_EXECUTE)
    assert "PermissionError" in refused.stderr  # the restriction holds in the child

    notify = NotifySocket(str(tmp_path / "notify"))
    try:
        env = settings_env(settings)
        env.update(NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="60000000")
        result = without_write_execute("-m", "bot", "run", env=env, stdin="/arxiv help\n")
        assert result.returncode == 0, result.stderr
        assert "/arxiv subscribe" in result.stdout
        messages = notify.wait(lambda m: any(text.startswith("STOPPING=1") for text in m))
    finally:
        notify.close()
    assert messages[0].startswith("READY=1\n")
    assert PING in messages
    assert messages[-1].startswith("STOPPING=1\n")
