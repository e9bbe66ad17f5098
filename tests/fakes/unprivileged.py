"""Run a program as an ordinary user would meet the file system, for storage tests.

    python tests/fakes/unprivileged.py [--file-size-limit BYTES] PROGRAM [ARGS...]

Run as root, it first gives up the capabilities that let root ignore file permissions
(``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ``CAP_FOWNER``, dropped from the bounding
set so that PROGRAM has them no more), so a ``chmod 444`` database is read-only to it.
``--file-size-limit`` sets ``RLIMIT_FSIZE``: a file may not grow past BYTES, and the write
that would fails with EFBIG, as writes fail on a full disk. Then it execs PROGRAM (same
process, so signals sent to it reach PROGRAM).

A launcher rather than a ``preexec_fn``: it runs in the new, single-threaded process, so
tests may start several at once.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def obey_file_permissions() -> None:
    if os.geteuid() != 0:
        return  # an ordinary user already
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file-size-limit", type=int)
    parser.add_argument("program")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    obey_file_permissions()
    if options.file_size_limit is not None:
        limit = options.file_size_limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    os.execv(options.program, [options.program, *options.args])


if __name__ == "__main__":
    main()
