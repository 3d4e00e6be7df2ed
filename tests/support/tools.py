"""The programs some tests drive, each from a Debian package, and what happens to a test when one is missing.

`make test` (and a plain `pytest`) runs every test: a test whose program is missing fails, naming the package
to install. `make test-quick` sets TEST_QUICK=1: such a test is skipped instead, and the run ends by counting
what it left out (tests/conftest.py). `make tools` installs the packages (.ci/tools).
"""

import os
import shutil
from collections import Counter

import pytest

QUICK = os.environ.get("TEST_QUICK") == "1"
# program: (where the tests look for it, "" when not on PATH; the Debian package that puts it there)
PROGRAMS = {
    "chromium": (os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), "chromium"),
    "nginx": (shutil.which("nginx") or "/usr/sbin/nginx", "nginx"),  # /usr/sbin is not on every user's PATH
    "wrk": (shutil.which("wrk") or "", "wrk"),
    "systemd-analyze": (shutil.which("systemd-analyze") or "", "systemd"),
}


def require(program: str) -> str:
    """Return the path of `program`; when it is missing, fail the test (skip it under make test-quick)."""
    path, package = PROGRAMS[program]
    if os.access(path, os.X_OK):
        return path
    if QUICK:
        pytest.skip(left_out_reason(program))
    where = f"not at {path}" if path else "not on PATH"
    pytest.fail(f"{program} is {where}: install it as root with `apt-get install {package}` (or `make tools`); "
                "`make test-quick` leaves out the tests that need it", pytrace=False)  # fmt: skip


def left_out_reason(program: str) -> str:
    return f"{program} is not installed: left out by make test-quick"


def left_out(skip_reports) -> Counter:
    """Count the skipped tests that make test-quick left out, by missing program."""
    programs = {f"Skipped: {left_out_reason(program)}": program for program in PROGRAMS}
    return Counter(
        programs[report.longrepr[2]]
        for report in skip_reports
        if isinstance(report.longrepr, tuple) and report.longrepr[2] in programs
    )


def left_out_summary(counts: Counter) -> str:
    """Say what make test-quick left out, and how to run it after all."""
    if not counts:
        return f"make test-quick left out no tests: {', '.join(PROGRAMS)} are all installed"
    programs = [program for program, _ in counts.most_common()]
    tests = ", ".join(tests_that_need(program, counts[program]) for program in programs)
    packages = " ".join(PROGRAMS[program][1] for program in programs)
    return f"make test-quick left out {tests} (as root, `apt-get install {packages}`, then `make test` runs them)"


def tests_that_need(program: str, count: int) -> str:
    return f"1 test that needs {program}" if count == 1 else f"{count} tests that need {program}"
