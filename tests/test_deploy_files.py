"""The files under deploy/ that the README shows: the systemd units are checked by systemd itself.

nginx's files are run for real in tests/faults/test_nginx.py.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import ROOT
from tests.support.tools import require

SYSTEMD = ROOT / "deploy" / "systemd"
UNIT = SYSTEMD / "microblog.service"
MIGRATE_UNIT = SYSTEMD / "microblog-migrate.service"
# What both units share, so that the migrations run as the site runs: as its user, with its settings.
SHARED = ("User", "Group", "WorkingDirectory", "EnvironmentFile", "Environment", "UMask")


def service_directives(unit: Path) -> dict[str, list[str]]:
    """Return the [Service] section's settings, each with every value it is given (ExecStartPre may repeat)."""
    directives: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip()
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            directives.setdefault(name.strip(), []).append(value.strip())
    return directives


@pytest.mark.parametrize("path", [UNIT, MIGRATE_UNIT], ids=lambda path: path.name)
def test_systemd_accepts_the_unit(tmp_path, path):
    """`systemd-analyze verify`; the unit's paths point at a copy of this checkout's tools."""
    systemd_analyze = require("systemd-analyze")
    home = tmp_path / "srv"
    (home / ".venv" / "bin").mkdir(parents=True)
    for tool in ("gunicorn", "flask"):
        (home / ".venv" / "bin" / tool).symlink_to(Path(sys.executable).with_name(tool))
    (tmp_path / "microblog.env").touch()
    unit = path.read_text()
    for old, new in {"/srv/microblog": str(home), "/etc/microblog.env": str(tmp_path / "microblog.env")}.items():
        assert old in unit
        unit = unit.replace(old, new)
    (tmp_path / path.name).write_text(unit)

    result = subprocess.run([systemd_analyze, "verify", str(tmp_path / path.name)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip

    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_web_unit_does_not_migrate():
    """Every host starts the web unit, at boot and on each restart: a migration there runs per host, not per deploy."""
    web = service_directives(UNIT)
    commands = web.get("ExecStartPre", []) + web["ExecStart"]
    assert not [command for command in commands if "flask db" in command]
    assert "/srv/microblog/.venv/bin/flask errors pages /srv/microblog/error-pages" in web["ExecStartPre"]


def test_the_migrate_unit_is_a_one_shot_upgrade_run_as_the_site():
    migrate, web = service_directives(MIGRATE_UNIT), service_directives(UNIT)
    assert migrate["Type"] == ["oneshot"]
    assert migrate["ExecStart"] == ["/srv/microblog/.venv/bin/flask db upgrade"]
    assert {name: migrate.get(name) for name in SHARED} == {name: web.get(name) for name in SHARED}
    assert "[Install]" not in MIGRATE_UNIT.read_text()  # run once per deploy by the operator, never at boot


@pytest.mark.parametrize("path", [UNIT, MIGRATE_UNIT], ids=lambda path: path.name)
def test_each_unit_checks_the_deployment_before_it_starts(path):
    """`flask check --deploy` fails the start on a setting a production host gets wrong (tests/test_deploy_check.py)."""
    starts = service_directives(path)["ExecStartPre"]
    assert starts[-1] == "/srv/microblog/.venv/bin/flask check --deploy"  # after the pages it checks are written
