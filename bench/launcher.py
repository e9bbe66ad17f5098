"""A lean process that starts the benchmarks' measured processes.

Linux carries a process's peak RSS over to the children it forks, so a benchmark that
has built a corpus in memory starts its measured processes through this launcher, itself
started before any corpus is in memory; it reads each child's own rusage with os.wait4.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Finished", "Launcher"]

_LAUNCHER = """
import json, os, subprocess, sys
for line in sys.stdin:
    spec = json.loads(line)
    with open(spec["out"], "wb") as out, open(spec["err"], "wb") as err:
        child = subprocess.Popen(spec["command"], stdout=out, stderr=err, env=spec["env"],
                                 cwd=spec["cwd"])
        started = __import__("time").monotonic()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = __import__("time").monotonic() - started
    print(json.dumps([child.returncode, usage.ru_maxrss, seconds]), flush=True)
"""


@dataclasses.dataclass
class Finished:
    code: int
    peak_rss_mb: float
    seconds: float
    stdout: str
    stderr: str


class Launcher:
    """Runs commands in a lean process of its own; see :data:`_LAUNCHER`."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(
        self, command: Sequence[str], *, env: dict[str, str] | None = None, cwd: str = "."
    ) -> Finished:
        assert self._process.stdin is not None and self._process.stdout is not None
        with tempfile.TemporaryDirectory(prefix="arxiv-bot-bench-") as scratch:
            out, err = Path(scratch) / "out", Path(scratch) / "err"
            spec = {
                "command": list(command),
                "env": dict(os.environ if env is None else env),
                "cwd": str(Path(cwd).resolve()),
                "out": str(out),
                "err": str(err),
            }
            self._process.stdin.write(json.dumps(spec) + "\n")
            self._process.stdin.flush()
            code, rss_kb, seconds = json.loads(self._process.stdout.readline())
            return Finished(
                code,
                rss_kb / 1024,
                seconds,
                out.read_text(errors="replace"),
                err.read_text(errors="replace"),
            )

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
