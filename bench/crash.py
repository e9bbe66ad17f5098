"""Kill -9 a real ``arxiv-bot run --once`` N times while it posts to local Slack and
Discord fakes, then count what was lost, repeated or hidden (tests/fakes/crash.py).

Run from the repository root::

    .venv/bin/python -m bench.crash                 # 20 kills
    .venv/bin/python -m bench.crash --kills 50 --seed 3

The Discord fake deduplicates no nonce (window 0), so only reading back prevents
repeats there; the figures are what the README's delivery guarantee rests on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.fakes.crash import crash_run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        figures = asyncio.run(crash_run(Path(workdir), kills=options.kills, seed=options.seed))
    print(figures)
    return 0 if (figures.lost, figures.repeated, figures.hidden) == (0, 0, 0) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
