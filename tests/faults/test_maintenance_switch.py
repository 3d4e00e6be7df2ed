"""`flask maintenance on/off` against real gunicorn: every worker answers the planned-downtime 503
at its next request, without a restart; the health checks keep answering; the team's cookie passes."""

import os
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from app.ops.maintenance import PASS_COOKIE
from tests.faults.conftest import HTML, site_env
from tests.support.servers import ROOT
from tests.support.visitor import Visitor, page_text

pytestmark = pytest.mark.slow
FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture(scope="module")
def switch_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("maintenance") / "maintenance.json"


@pytest.fixture(scope="module")
def site(serve, switch_file):
    return serve(workers=2, MAINTENANCE_FILE=str(switch_file))


@pytest.fixture
def flask_maintenance(site, site_database, switch_file):
    """Run `flask maintenance ARGS` as an operator would, with the site's settings; return its output."""
    env = {**os.environ, "FLASK_APP": "microblog.py", **site_env(site_database, site.folder)}
    env["MAINTENANCE_FILE"] = str(switch_file)

    def run(*args: str) -> str:
        result = subprocess.run([str(FLASK), "maintenance", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    yield run
    switch_file.unlink(missing_ok=True)


def statuses(site, path: str, count: int = 8, **headers: str) -> set[int]:
    """Return the statuses of `count` requests on new connections (so both workers answer some)."""
    return {Visitor(site.url).get(path, headers=headers).status for _ in range(count)}


def test_on_and_off_under_gunicorn(site, flask_maintenance):
    assert statuses(site, "/explore") == {200}

    output = flask_maintenance("on", "--until", "+20m", "--message", "New disks for the database.")
    answer = Visitor(site.url).get("/explore", headers=HTML)
    assert answer.status == 503
    retry_at = parsedate_to_datetime(answer.header("Retry-After"))
    assert f"It will be back in about 20 minutes ({retry_at:%H:%M} UTC" in page_text(answer.body)
    assert "New disks for the database." in page_text(answer.body)
    assert statuses(site, "/explore") == {503} and statuses(site, "/login") == {503}
    assert statuses(site, "/healthz") == {200} and statuses(site, "/readyz") == {200}
    token = output.rsplit(f"{PASS_COOKIE}=", 1)[1].strip()
    assert statuses(site, "/explore", Cookie=f"{PASS_COOKIE}={token}") == {200}

    flask_maintenance("off")
    assert statuses(site, "/explore") == {200}
