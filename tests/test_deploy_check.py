"""`flask check --deploy`: every setting a production host gets wrong, one line each with its fix.

Each test runs the real command in a subprocess on the committed example of a production host's settings
(deploy/microblog.env.example, its SECRET_KEY filled in the way docs/deployment.md tells the operator to) with
one thing changed, and reads the line that names it; the example alone is ready to deploy. The settings come
from the test alone: the variables config.py and gunicorn.conf.py read are taken out of the inherited
environment, and those a developer's .env sets are set empty (python-dotenv never replaces a variable that is
set), so neither the shell nor a .env can change a result. The folders are checked for another account than
root's, as the service runs under its own: `nobody` when the tests run as root, else the tests' own account.
"""

import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from dotenv import dotenv_values

from app.ops.checks import DEFAULT_PAGES

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")
EXAMPLE = ROOT / "deploy" / "microblog.env.example"
AS_ROOT = os.geteuid() == 0
SERVICE_USER = "nobody" if AS_ROOT else pwd.getpwuid(os.geteuid()).pw_name
SERVICE_UID = pwd.getpwnam(SERVICE_USER).pw_uid
PAGE_NAMES = ("502.html", "503.html", "504.html")
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"


def settings_read() -> set[str]:
    """Return every name config.py and gunicorn.conf.py quote in capitals: the variables they read, and more."""
    source = (ROOT / "config.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", source))


def systemd_environment(text: str) -> dict[str, str]:
    """Read NAME=value lines as systemd's EnvironmentFile= does: a comment is a whole line of its own."""
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def example_settings() -> dict[str, str]:
    """Return the committed example with a key made as the docs say, as `sed s/^SECRET_KEY=.*/...` puts it in."""
    filled = re.sub(r"^SECRET_KEY=.*$", f"SECRET_KEY={secrets.token_hex(32)}", EXAMPLE.read_text(), flags=re.M)
    return systemd_environment(filled)


def run_check(cwd: Path, settings: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `flask check ARGS` with these settings and no others."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in settings_read() and not name.startswith("FLASK_")
    }
    from_dotenv = dict.fromkeys(dotenv_values(ROOT / ".env"), "")
    # Flask's own loading of .env and .flaskenv is off; RATELIMIT_ENABLED is its default, written out in case a .env
    # has it (an empty yes/no reads as no).
    launch = {"FLASK_APP": str(ROOT / "microblog.py"), "FLASK_SKIP_DOTENV": "1", "RATELIMIT_ENABLED": "1"}
    env = kept | from_dotenv | launch | settings
    return subprocess.run([str(FLASK), "check", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def folder(path: Path, mode: int = 0o750, owner: int | None = None) -> Path:
    """Make a folder of this mode, whatever the umask, owned by `owner` (only root can give it away)."""
    path.mkdir()
    path.chmod(mode)
    if owner is not None and AS_ROOT:
        os.chown(path, owner, owner)
    return path


def service_folder(path: Path, mode: int = 0o750) -> Path:
    """Make a folder the service's account may write in."""
    return folder(path, mode, owner=SERVICE_UID)


def locked_folder(path: Path) -> Path:
    """Make a folder the service's account may read but not write in (root's, or its own at 0555)."""
    return folder(path, 0o555)


def error_pages(path: Path, folder_mode: int = 0o755, page_mode: int = 0o644) -> Path:
    """Make the proxy's error pages as `flask errors pages` leaves them for nginx: 0644 in a 0755 folder."""
    service_folder(path, folder_mode)
    for name in PAGE_NAMES:
        page = path / name
        page.write_text("<!doctype html><title>The site is not answering</title>")
        page.chmod(page_mode)
        if AS_ROOT:
            os.chown(page, SERVICE_UID, SERVICE_UID)
    return path


@pytest.fixture
def place():
    """A folder every account may enter (pytest's tmp_path is 0700 under root), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="deploy-check-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def deploy(place):
    """Run `flask check --deploy` for the service's account on the example host with these settings changed."""
    logs = service_folder(place / "logs")
    pages = error_pages(place / "error-pages")

    def run(*args: str, **changes: str) -> subprocess.CompletedProcess:
        settings = example_settings() | {"LOG_DIR": str(logs)} | changes
        return run_check(place, settings, "--deploy", "--user", SERVICE_USER, "--pages", str(pages), *args)

    return run


def lines(result: subprocess.CompletedProcess, level: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(level + " ")]


def line(result: subprocess.CompletedProcess, start: str) -> str:
    """Return the one line that starts so, failing with the whole output when there is none."""
    found = [text for text in result.stdout.splitlines() if text.startswith(start)]
    assert len(found) == 1, f"no single line starts with {start!r}:\n{result.stdout}{result.stderr}"
    return found[0]


def assert_error(result: subprocess.CompletedProcess, start: str, fix: str) -> None:
    """The command names the error with its fix, on one line, and fails."""
    found = line(result, "ERROR " + start)
    assert fix in found.partition(": ")[2], found
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^\d+ errors?, \d+ warnings?$", result.stdout.splitlines()[-1]), result.stdout


def assert_warning_alone(result: subprocess.CompletedProcess, start: str, fix: str) -> None:
    """The command names the warning with its fix, and a warning alone does not fail it."""
    found = line(result, "WARNING " + start)
    assert fix in found.partition(": ")[2], found
    assert lines(result, "ERROR") == [], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "0 errors, 1 warning", result.stdout


# The example


def test_the_committed_example_with_its_key_filled_in_is_ready_to_deploy(deploy):
    result = deploy()

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "Ready to deploy.\n", result.stdout


def test_the_examples_placeholder_key_is_refused_until_it_is_filled_in(deploy):
    placeholder = systemd_environment(EXAMPLE.read_text())["SECRET_KEY"]

    assert_error(deploy(SECRET_KEY=placeholder), "SECRET_KEY is a placeholder", MAKE_A_KEY)


def test_the_check_builds_no_site(deploy, place):
    """No log file is opened, no alert worker started: the site, which would open its log, is never built."""
    deploy()

    assert list((place / "logs").iterdir()) == []


# The secret key


def test_a_missing_secret_key_is_an_error(deploy):
    assert_error(deploy(SECRET_KEY=""), "SECRET_KEY is not set", MAKE_A_KEY)


def test_a_short_secret_key_is_an_error_that_does_not_show_the_key(deploy):
    result = deploy(SECRET_KEY="a1b2c3d4e5f6")

    assert_error(result, "SECRET_KEY is 12 characters", MAKE_A_KEY)
    assert "a1b2c3d4e5f6" not in result.stdout


@pytest.mark.parametrize("source", ["change-me", "dev", ".env.example"])
def test_a_placeholder_secret_key_is_an_error(deploy, source):
    key = dotenv_values(ROOT / ".env.example")["SECRET_KEY"] if source == ".env.example" else source

    assert_error(deploy(SECRET_KEY=key), "SECRET_KEY is a placeholder", MAKE_A_KEY)


# The site's address, debug


def test_no_site_url_is_an_error(deploy):
    assert_error(deploy(SITE_URL=""), "SITE_URL is not set", "https://")


def test_a_site_url_that_is_not_https_is_an_error(deploy):
    result = deploy(SITE_URL="http://microblog.example.com")

    assert_error(
        result, "SITE_URL is http://microblog.example.com, not https", "SITE_URL=https://microblog.example.com"
    )


def test_a_site_url_that_is_not_an_address_is_an_error(deploy):
    result = deploy(SITE_URL="microblog.example.com")

    assert_error(result, "SITE_URL is 'microblog.example.com', which is not an address", "https://")


def test_a_site_url_naming_this_machine_is_an_error(deploy):
    assert_error(deploy(SITE_URL="https://localhost:8000"), "SITE_URL names this machine", "address")


def test_a_trusted_host_that_is_not_a_host_name_is_a_warning(deploy):
    result = deploy(TRUSTED_HOSTS="10.0.0.5,https://lb.example.com")

    assert_warning_alone(result, "TRUSTED_HOSTS has 'https://lb.example.com'", "lb.example.com")


def test_debug_on_is_an_error(deploy):
    assert_error(deploy(FLASK_DEBUG="1"), "FLASK_DEBUG is on", "FLASK_DEBUG=0")


def test_demo_errors_on_is_an_error(deploy):
    assert_error(deploy(DEMO_ERRORS="1"), "DEMO_ERRORS is on", "DEMO_ERRORS")


# Several hosts


@pytest.mark.parametrize("url", ["", "sqlite:////srv/microblog/site.db"])
def test_sqlite_with_several_hosts_is_an_error(deploy, url):
    assert_error(deploy(DATABASE_URL=url), "DATABASE_URL is SQLite with 2 hosts in HOSTS", "postgresql://")


def test_no_shared_store_with_several_hosts_is_an_error(deploy):
    result = deploy(
        SHARED_STORE_URL="",
        ALERT_STATE_URL="redis://redis.internal:6379/1",
        RATELIMIT_STORAGE_URI="redis://redis.internal:6379/1",
    )

    assert_error(result, "SHARED_STORE_URL is not set with 2 hosts in HOSTS", "SHARED_STORE_URL=redis://")
    assert len(lines(result, "ERROR")) == 1, result.stdout


def test_an_empty_alert_state_url_with_several_hosts_is_an_error(deploy, place):
    result = deploy(SHARED_STORE_URL="", ALERT_STATE_PATH=str(place / "logs" / "alerts.sqlite3"))

    assert_error(result, "ALERT_STATE_URL is empty with 2 hosts in HOSTS", "redis://")


def test_rate_limits_in_memory_with_several_hosts_are_an_error(deploy):
    result = deploy(RATELIMIT_STORAGE_URI="memory://")

    assert_error(result, "RATELIMIT_STORAGE_URI is memory:// with 2 hosts in HOSTS", "RATELIMIT_STORAGE_URI")


def test_rate_limits_in_memory_on_one_host_are_a_warning(deploy, place):
    result = deploy(HOSTS="", SHARED_STORE_URL="", ALERT_STATE_PATH=str(place / "logs" / "alerts.sqlite3"))

    assert_warning_alone(result, "RATELIMIT_STORAGE_URI is memory://", "redis://")


def test_rate_limits_turned_off_are_a_warning(deploy):
    assert_warning_alone(deploy(RATELIMIT_ENABLED="0"), "RATELIMIT_ENABLED is off", "RATELIMIT_ENABLED")


def test_a_maintenance_file_with_several_hosts_is_a_warning(deploy, place):
    result = deploy(MAINTENANCE_FILE=str(place / "maintenance.json"))

    assert_warning_alone(result, "MAINTENANCE_FILE is set with 2 hosts in HOSTS", "unset MAINTENANCE_FILE")


def test_a_host_name_missing_from_hosts_is_a_warning(deploy):
    result = deploy(HOST_NAME="web-3")

    assert_warning_alone(result, "HOST_NAME web-3 is not one of HOSTS (web-1, web-2)", "HOST_NAME")


# Behind the proxy


def test_an_https_site_that_believes_no_forwarded_scheme_is_an_error(deploy):
    result = deploy(PROXY_FIX_X_PROTO="0")

    assert_error(result, "PROXY_FIX_X_PROTO is 0 while SITE_URL is https", "PROXY_FIX_X_PROTO=1")


def test_a_proxied_site_that_believes_no_forwarded_address_is_an_error(deploy):
    result = deploy(PROXY_FIX_X_FOR="0")

    assert_error(result, "PROXY_FIX_X_FOR is 0 behind a proxy", "PROXY_FIX_X_FOR=1")


def test_more_than_one_proxy_is_a_warning(deploy):
    assert_warning_alone(deploy(PROXY_FIX_X_FOR="2"), "PROXY_FIX_X_FOR is 2", "PROXY_FIX_X_FOR=1")


def test_an_https_site_without_secure_cookies_is_a_warning(deploy):
    result = deploy(SESSION_COOKIE_SECURE="0")

    assert_warning_alone(result, "SESSION_COOKIE_SECURE is off while SITE_URL is https", "SESSION_COOKIE_SECURE=1")


# The timeout ladder


@pytest.mark.parametrize(
    ("changes", "start", "fix"),
    [
        (
            {"PROXY_READ_TIMEOUT": "20"},
            "gunicorn's timeout (30 s) is not shorter than PROXY_READ_TIMEOUT (20 s)",
            "proxy_read_timeout",
        ),
        (
            {"GUNICORN_TIMEOUT": "60"},
            "gunicorn's timeout (60 s) is not shorter than PROXY_READ_TIMEOUT (35 s)",
            "GUNICORN_TIMEOUT",
        ),
        (
            {"DATABASE_TIMEOUT": "30"},
            "DATABASE_TIMEOUT (30 s) is not shorter than REQUEST_TIMEOUT (25 s)",
            "DATABASE_TIMEOUT",
        ),
    ],
)
def test_a_broken_timeout_ladder_is_an_error(deploy, changes, start, fix):
    assert_error(deploy(**changes), start, fix)


# Files and folders


def test_a_log_dir_the_service_cannot_write_in_is_an_error(deploy, place):
    logs = locked_folder(place / "locked-logs")

    result = deploy(LOG_DIR=str(logs))

    assert_error(result, f"LOG_DIR {logs} is not writable by {SERVICE_USER}", f"install -d -o {SERVICE_USER}")


def test_a_log_dir_the_service_cannot_make_is_an_error(deploy, place):
    logs = locked_folder(place / "locked") / "logs"

    result = deploy(LOG_DIR=str(logs))

    assert_error(result, f"LOG_DIR {logs} does not exist and {SERVICE_USER} cannot make it", "install -d")


def test_a_log_dir_under_a_folder_the_service_cannot_pass_through_is_an_error(deploy, place):
    closed = folder(place / "closed", 0o700)
    logs = service_folder(closed / "logs")

    result = deploy(LOG_DIR=str(logs))

    assert_error(result, f"LOG_DIR {logs} is under {closed}, which {SERVICE_USER} cannot pass through", "chmod o+x")


@pytest.mark.parametrize("setting", ["ACCESS_LOG", "ALERT_STATE_PATH", "DATABASE_URL"])
def test_a_file_the_service_writes_in_a_folder_it_cannot_write_in_is_an_error(deploy, place, setting):
    locked = locked_folder(place / "locked")
    path = locked / "file"
    value = f"sqlite:///{path}" if setting == "DATABASE_URL" else str(path)

    result = deploy(**{setting: value, "HOSTS": "", "SHARED_STORE_URL": "", "RATELIMIT_STORAGE_URI": "redis://r"})

    assert_error(result, f"{setting} {locked} is not writable by {SERVICE_USER}", f"install -d -o {SERVICE_USER}")


def test_a_log_file_the_service_cannot_write_is_an_error(deploy, place):
    log_file = place / "logs" / "microblog.log"
    log_file.write_text("")
    log_file.chmod(0o444)  # root's when the tests run as root, else read-only for its owner too

    result = deploy()

    assert_error(result, f"LOG_DIR file {log_file} is not writable by {SERVICE_USER}", f"chown {SERVICE_USER}")


def test_log_files_are_not_checked_when_the_log_goes_to_stdout(deploy, place):
    result = deploy(LOG_DIR=str(locked_folder(place / "locked-logs")), LOG_TO_STDOUT="1")

    assert result.stdout == "Ready to deploy.\n", result.stdout


@pytest.mark.skipif(not AS_ROOT, reason="the instance folder is the checkout's own; only root may check for nobody")
def test_an_instance_folder_the_service_cannot_write_in_is_an_error(deploy):
    """With one host and no shared store, the alert state is a file in the instance folder."""
    result = deploy(HOSTS="", SHARED_STORE_URL="", RATELIMIT_STORAGE_URI="redis://redis.internal:6379/0")

    assert_error(result, f"instance folder {ROOT / 'instance'} ", f"install -d -o {SERVICE_USER}")


def test_checking_for_root_is_a_warning(deploy):
    """root may write anywhere, so the folder checks would say nothing of the service's own account."""
    assert_warning_alone(deploy("--user", "root"), "--user is root", "--user microblog")


def test_an_account_that_does_not_exist_is_a_usage_error(deploy):
    result = deploy("--user", "no-such-account")

    assert result.returncode == 2 and "no account is named 'no-such-account'" in result.stderr, result.stderr


# The proxy's error pages


def test_error_pages_in_a_folder_nginx_cannot_enter_are_an_error(deploy, place):
    pages = error_pages(place / "closed-pages", folder_mode=0o750)

    assert_error(deploy("--pages", str(pages)), f"error pages folder {pages} is 0750", f"chmod 0755 {pages}")


def test_error_pages_nginx_cannot_read_are_an_error(deploy, place):
    pages = error_pages(place / "private-pages", page_mode=0o640)

    result = deploy("--pages", str(pages))

    assert_error(result, f"error pages file {pages / '502.html'} is 0640", f"chmod 0644 {pages}/*.html")


def test_error_pages_under_a_folder_nginx_cannot_pass_through_are_an_error(deploy, place):
    private = folder(place / "private", 0o700, owner=SERVICE_UID)
    pages = error_pages(private / "error-pages")

    assert_error(
        deploy("--pages", str(pages)), f"error pages folder {pages} is under {private}, 0700", f"chmod o+x {private}"
    )


def test_error_pages_the_service_cannot_rewrite_are_an_error(deploy, place):
    pages = error_pages(place / "root-pages")
    pages.chmod(0o555)  # the service writes the pages at every start

    result = deploy("--pages", str(pages))

    assert_error(result, f"error pages folder {pages} is not writable by {SERVICE_USER}", "install -d")


def test_an_error_page_the_service_cannot_rewrite_is_an_error(deploy, place):
    pages = error_pages(place / "old-pages")
    (pages / "504.html").chmod(0o444)  # read-only for its owner, the service

    result = deploy("--pages", str(pages))

    assert_error(result, f"error pages file {pages / '504.html'} is not writable by {SERVICE_USER}", "chown")


def test_a_pages_folder_that_does_not_exist_is_an_error(deploy, place):
    result = deploy("--pages", str(place / "nowhere"))

    assert_error(result, f"error pages folder {place / 'nowhere'} does not exist", "flask errors pages")


def test_missing_error_pages_are_a_warning(deploy, place):
    pages = error_pages(place / "some-pages")
    (pages / "503.html").unlink()

    result = deploy("--pages", str(pages))

    assert_warning_alone(result, f"error pages file {pages / '503.html'} is missing", "flask errors pages")


def test_the_default_pages_folder_is_the_one_the_systemd_unit_writes_and_nginx_serves():
    unit = (ROOT / "deploy" / "systemd" / "microblog.service").read_text()
    proxy = (ROOT / "deploy" / "nginx" / "microblog-proxy.conf").read_text()

    assert f"flask errors pages {DEFAULT_PAGES}\n" in unit
    assert f"alias {DEFAULT_PAGES}/;" in proxy


# Without --deploy


def test_plain_check_leaves_the_production_checks_out(place):
    data = service_folder(place / "data")
    settings = {
        "LOG_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'site.db'}",
        "ALERT_STATE_PATH": str(data / "alerts.sqlite3"),
    }  # not in the checkout's instance folder

    result = run_check(place, settings, "--user", SERVICE_USER)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("No problems found") and result.stdout.count("\n") == 1, result.stdout


def test_plain_check_checks_the_timeout_ladder_and_the_folders(place):
    settings = {"LOG_DIR": str(locked_folder(place / "logs")), "DATABASE_TIMEOUT": "9", "REQUEST_TIMEOUT": "8"}

    result = run_check(place, settings, "--user", SERVICE_USER)

    line(result, "ERROR DATABASE_TIMEOUT (9 s) is not shorter than REQUEST_TIMEOUT (8 s)")
    line(result, f"ERROR LOG_DIR {place / 'logs'} is not writable")
    assert result.returncode == 1
