"""`flask check [--deploy]`: name every setting this host gets wrong, each on one line with its fix.

Django's `manage.py check --deploy` is the model. Plain `flask check` runs the checks that hold on any machine:
the timeout ladder, the folders the app writes in, the proxy's error pages. `--deploy` adds those of a production
host: the secret key, debug, the site's address, the proxy counts, and what several hosts (HOSTS) must share.
A line is an ERROR when the deployment is wrong (the command then exits 1) and a WARNING when it is dubious; the
last line counts them, or says the host is ready.

The settings are read as the app reads them (config.py, from the environment and .env, then `settle`), and
nothing is built: no log file opened, no alert worker started, no database or Redis connected. microblog.py gives
`flask check` an app with this command alone (asked_for_checks), so it also runs where the site refuses to start,
which is when it is wanted most. The folders are judged for one account (--user; by default the one running this)
and for nginx (any other account) from owners, groups and modes, every folder above included; ACLs and read-only
mounts are not seen.
"""

import grp
import ipaddress
import os
import pwd
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup
from flask.helpers import get_debug_flag
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.errors.proxy_pages import PAGES
from app.observability.gunicorn import settings
from app.observability.logs import LOG_FILE_NAME, REPEATS_FILE_NAME
from app.ops.timeouts import derive
from app.security import PROXY_FIX_SETTINGS, SECRET_KEY_MIN_LENGTH, secret_key_weakness

ERROR, WARNING = "ERROR", "WARNING"
# Where the systemd unit writes the proxy's error pages and nginx serves them from (deploy/).
DEFAULT_PAGES = Path("/srv/microblog/error-pages")
MAKE_A_KEY = "`python -c 'import secrets; print(secrets.token_hex(32))'`"
GUNICORN_DEFAULT_TIMEOUT = 30  # gunicorn.conf.py's, when GUNICORN_TIMEOUT is unset
READ, WRITE, ENTER = 4, 2, 1
# The settings behind the ladder's rungs, for the fix (app/ops/timeouts.py names the rungs).
RUNG_SETTINGS = {
    "gunicorn's timeout": "GUNICORN_TIMEOUT",
    "PROXY_READ_TIMEOUT": "nginx's proxy_read_timeout (and PROXY_READ_TIMEOUT with it)",
}
# A host name, `.example.org` for its subdomains, or an address, with or without a port (Flask's TRUSTED_HOSTS).
HOST_NAME = re.compile(r"\.?[\w-]+(\.[\w-]+)*\.?(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?")
# Flask's own options that take a value, before the command's name on its command line.
FLASK_OPTIONS_WITH_A_VALUE = frozenset({"-A", "--app", "-e", "--env-file"})


@dataclass(frozen=True)
class Problem:
    """One thing the settings get wrong: an ERROR (the deployment is wrong) or a WARNING (dubious)."""

    level: str
    setting: str
    words: str  # what is wrong and what follows from it, after the setting's name
    fix: str

    def line(self) -> str:
        return f"{self.level} {self.setting} {self.words}: {self.fix}"


def error(setting: str, words: str, fix: str) -> Problem:
    return Problem(ERROR, setting, words, fix)


def warning(setting: str, words: str, fix: str) -> Problem:
    return Problem(WARNING, setting, words, fix)


@dataclass(frozen=True)
class Account:
    """Whom a folder is checked for: the service's account, or nginx's (any other: no uid, no group of ours)."""

    name: str
    uid: int
    group: str
    gids: frozenset[int]

    @classmethod
    def named(cls, name: str) -> "Account":
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, group_name(entry.pw_gid), frozenset(os.getgrouplist(name, entry.pw_gid)))

    @classmethod
    def running(cls) -> "Account":
        uid, gid = os.geteuid(), os.getegid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:  # a container's user without an entry in /etc/passwd
            name = str(uid)
        return cls(name, uid, group_name(gid), frozenset({gid, *os.getgroups()}))

    def may(self, path: Path, access: int) -> bool:
        """Tell whether this account may read, write or enter `path`, from its owner, group and mode."""
        if self.uid == 0:
            return True
        try:
            status = path.stat()
        except OSError:
            return False
        shift = 6 if status.st_uid == self.uid else 3 if status.st_gid in self.gids else 0
        return (status.st_mode >> shift) & access == access

    def stopped_at(self, path: Path) -> Path | None:
        """Return the first folder above `path` this account cannot pass through, or None."""
        return next((parent for parent in reversed(path.parents) if not self.may(parent, ENTER)), None)


NGINX = Account("nginx", -1, "", frozenset())


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@dataclass(frozen=True)
class Host:
    """What the checks look at: the settings as the app reads them, and this machine's folders."""

    settings: Mapping[str, Any]
    instance_path: Path
    account: Account
    pages: Path | None  # the proxy's error pages
    pages_given: bool  # named with --pages: a folder that is not there is then an error
    debug: bool
    worker_timeout: float

    @property
    def hosts(self) -> list[str]:
        return self.settings["HOSTS"]

    @property
    def several(self) -> bool:
        return len(self.hosts) > 1

    @property
    def https(self) -> bool:
        return urlsplit(self.settings["SITE_URL"]).scheme == "https"


# Checks for a production host (--deploy)


def secret_key(host: Host) -> list[Problem]:
    key = (host.settings["SECRET_KEY"] or "").strip()
    fix = f"set it to what {MAKE_A_KEY} prints" + (", the same on every host" if host.several else "")
    words = {
        "missing": "is not set, so sessions and CSRF tokens could be forged",
        "placeholder": "is a placeholder known to the world, so sessions could be forged",
        "short": f"is {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}, so one signed cookie lets it be "
        "guessed",
    }
    weakness = secret_key_weakness(key)
    return [error("SECRET_KEY", words[weakness], fix)] if weakness else []


def debug_switches(host: Host) -> list[Problem]:
    problems = []
    if host.debug:
        words = "is on, so the Werkzeug debugger runs any code for whoever reaches it"
        fix = "unset FLASK_DEBUG (or set FLASK_DEBUG=0); `make dev` is the place for the debugger"
        problems.append(error("FLASK_DEBUG", words, fix))
    if host.settings["DEMO_ERRORS"]:
        words = "is on, so /demo/error fails on purpose for anyone who opens it"
        problems.append(error("DEMO_ERRORS", words, "unset DEMO_ERRORS (the app refuses it outside development)"))
    return problems


def site_url(host: Host) -> list[Problem]:
    url = host.settings["SITE_URL"]
    example = "such as SITE_URL=https://microblog.example.com"
    if not url:
        words = (
            "is not set, so the links the site mails (password resets) would name whatever host a client "
            "sends, and the site answers to any host name"
        )
        return [error("SITE_URL", words, f"set it to the site's address as its users know it, {example}")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [error("SITE_URL", f"is {url!r}, which is not an address", f"give its scheme and host, {example}")]
    problems = []
    if parts.scheme != "https":
        words = f"is {url}, not https, so passwords and session cookies would cross the network in clear"
        fix = f"end TLS at the proxy and set SITE_URL={parts._replace(scheme='https').geturl()}"
        problems.append(error("SITE_URL", words, fix))
    if names_this_machine(parts.hostname):
        words = f"names this machine ({parts.hostname}), so a mailed link opens the reader's own"
        problems.append(error("SITE_URL", words, "set it to the address people type to reach the site"))
    return problems


def names_this_machine(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def trusted_hosts(host: Host) -> list[Problem]:
    return [
        warning(
            "TRUSTED_HOSTS",
            f"has {name!r}, which is not a host name, so no request ever matches it",
            f"write the name alone{as_in(name)}, without scheme or path",
        )
        for name in host.settings["TRUSTED_HOSTS"]
        if not HOST_NAME.fullmatch(name)
    ]


def as_in(name: str) -> str:
    """Return ", as in <the host name inside this address>", or nothing when there is none."""
    try:
        found = urlsplit(name if "//" in name else "//" + name).hostname
    except ValueError:
        return ""
    return f", as in {found}" if found else ""


def proxy_counts(host: Host) -> list[Problem]:
    """SITE_URL https means a proxy ends TLS in front of the app (gunicorn.conf.py gives gunicorn no certificate);
    so does any PROXY_FIX_* above 0. Behind one, the app must believe its address and scheme headers."""
    counts = {name: host.settings[name] for name in PROXY_FIX_SETTINGS.values()}
    problems = []
    if host.https and not counts["PROXY_FIX_X_PROTO"]:
        words = (
            "is 0 while SITE_URL is https, so every request looks like plain http to the app, which sees only "
            "the proxy's connection (forms lose the Referer check Flask-WTF makes over https)"
        )
        fix = "set PROXY_FIX_X_PROTO=1 for nginx alone, 2 with a load balancer in front of it that sets it too"
        problems.append(error("PROXY_FIX_X_PROTO", words, fix))
    if (host.https or any(counts.values())) and not counts["PROXY_FIX_X_FOR"]:
        words = (
            "is 0 behind a proxy, so every request seems to come from the proxy's address, the login limits "
            "count all clients as one (one guesser locks everyone out), and the logs and alerts name the proxy"
        )
        fix = "set PROXY_FIX_X_FOR=1 for nginx alone, 2 with a load balancer in front of it that sets it too"
        problems.append(error("PROXY_FIX_X_FOR", words, fix))
    for name, count in counts.items():
        if count > 1:
            header = "X-Forwarded-" + name.removeprefix("PROXY_FIX_X_").capitalize()
            words = (
                f"is {count}, so the app believes {count} proxies' {header}, right with a load balancer in "
                "front of nginx; behind nginx alone a client's own forged entry would be believed"
            )
            problems.append(warning(name, words, f"set {name}=1 unless {count} proxies set {header}"))
    return problems


def secure_cookies(host: Host) -> list[Problem]:
    if not host.https or host.settings["SESSION_COOKIE_SECURE"]:
        return []
    words = (
        "is off while SITE_URL is https, so the session cookie also travels over plain http and no HSTS header is sent"
    )
    return [warning("SESSION_COOKIE_SECURE", words, "set SESSION_COOKIE_SECURE=1")]


def database_for_hosts(host: Host) -> list[Problem]:
    url = host.settings["SQLALCHEMY_DATABASE_URI"]
    if not host.several or not url.startswith("sqlite"):
        return []
    words = (
        f"is SQLite with {len(host.hosts)} hosts in HOSTS ({url}), so each host would serve a site of its "
        "own, with its own accounts and posts"
    )
    fix = "set it to the PostgreSQL every host uses, such as DATABASE_URL=postgresql://microblog@db.internal/microblog"
    return [error("DATABASE_URL", words, fix)]


def shared_state(host: Host) -> list[Problem]:
    """With several hosts, what each keeps on its own: the store's parts that have no setting of their own."""
    if not host.several:
        return []
    hosts, config, problems = f"with {len(host.hosts)} hosts in HOSTS", host.settings, []
    if not config["SHARED_STORE_URL"]:
        words = (
            f"is not set {hosts}, so each host keeps its own maintenance window and records of failed "
            "requests (`flask maintenance on` closes one host, `flask errors find` misses the others')"
        )
        fix = "set it to the Redis every host uses, such as SHARED_STORE_URL=redis://redis.internal:6379/0"
        problems.append(error("SHARED_STORE_URL", words, fix))
    if not config["ALERT_STATE_URL"]:
        words = (
            f"is empty {hosts}, so each host keeps its own alert state and fault list, and a fault seen on "
            "every host mails once per host"
        )
        fix = "set SHARED_STORE_URL (it defaults to it) or ALERT_STATE_URL to the Redis every host uses (redis://...)"
        problems.append(error("ALERT_STATE_URL", words, fix))
    if config["MAINTENANCE_FILE"]:
        words = f"is set {hosts}, so each host reads a maintenance window of its own (the file comes first)"
        fix = "unset MAINTENANCE_FILE, so that `flask maintenance on` on one host closes them all"
        problems.append(warning("MAINTENANCE_FILE", words, fix))
    return problems


def host_name(host: Host) -> list[Problem]:
    name = host.settings["HOST_NAME"]
    if not host.hosts or name in host.hosts:
        return []
    words = (
        f"{name} is not one of HOSTS ({', '.join(host.hosts)}), so this host's log lines, alerts and failed "
        "requests name a host the others do not know"
    )
    return [warning("HOST_NAME", words, "set HOST_NAME to this host's name in HOSTS")]


def rate_limits(host: Host) -> list[Problem]:
    config = host.settings
    if not config["RATELIMIT_ENABLED"]:
        words = "is off, so nothing is limited and passwords can be guessed as fast as the site answers"
        return [warning("RATELIMIT_ENABLED", words, "unset RATELIMIT_ENABLED")]
    if not config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        return []
    if host.several:
        words = (
            f"is memory:// with {len(host.hosts)} hosts in HOSTS, so each worker of each host allows every "
            "limit on its own, the login limits too"
        )
        fix = "set SHARED_STORE_URL (the limits default to it) or RATELIMIT_STORAGE_URI to the Redis every host uses"
        return [error("RATELIMIT_STORAGE_URI", words, fix)]
    words = "is memory://, so each gunicorn worker allows every limit on its own (WEB_CONCURRENCY times in all)"
    fix = "set SHARED_STORE_URL or RATELIMIT_STORAGE_URI to a Redis, such as redis://127.0.0.1:6379/0"
    return [warning("RATELIMIT_STORAGE_URI", words, fix)]


# Checks for any machine


def timeout_ladder(host: Host) -> list[Problem]:
    """The ladder's own rule (app/ops/timeouts.py), on gunicorn's timeout as gunicorn.conf.py reads it."""
    ladder = derive(host.settings, host.worker_timeout)
    return [
        error(
            inner,
            f"({inner_s:g} s) is not shorter than {outer} ({outer_s:g} s), so the outer layer gives up "
            "before the inner one can answer the user",
            f"lower {RUNG_SETTINGS.get(inner, inner)} or raise {RUNG_SETTINGS.get(outer, outer)}",
        )
        for (inner, inner_s), (outer, outer_s) in ladder.breaks()
    ]


def files_and_folders(host: Host) -> list[Problem]:
    """The service's account must write in the folders of the files the app writes, and the files themselves."""
    account, instance, problems, seen = host.account, host.instance_path.resolve(), [], set()
    for setting, path in written_files(host):
        path = path.resolve()
        if path.parent not in seen:
            seen.add(path.parent)
            label = "instance folder" if path.parent == instance else setting
            problems += unwritable_folder(label, path.parent, account)
        if path.exists() and not account.may(path, WRITE):
            words = f"{path} is not writable by {account.name}, so the app cannot write it (another account made it)"
            problems.append(error(f"{setting} file", words, f"run `chown {account.name} {path}` as root"))
    return problems


def written_files(host: Host) -> list[tuple[str, Path]]:
    """Return the files the service writes, each with the setting that puts it where it is."""
    config, files = host.settings, []
    if not config["LOG_TO_STDOUT"]:
        files += [("LOG_DIR", Path(config["LOG_DIR"]) / name) for name in (LOG_FILE_NAME, REPEATS_FILE_NAME)]
    if config["ACCESS_LOG"] not in ("", "-"):
        files.append(("ACCESS_LOG", Path(config["ACCESS_LOG"])))
    if not config["ALERT_STATE_URL"]:
        path = config["ALERT_STATE_PATH"] or host.instance_path / "alert-state.sqlite3"
        files.append(("ALERT_STATE_PATH", Path(path)))
    database = sqlite_file(config["SQLALCHEMY_DATABASE_URI"])
    if database:
        files.append(("DATABASE_URL", host.instance_path / database))  # a relative path is in instance/
    return files


def sqlite_file(url: str) -> str | None:
    """Return the file of a SQLite database URL, or None for a database of another kind (or in memory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:  # not a URL at all: the app says so when it starts
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def unwritable_folder(label: str, folder: Path, account: Account) -> list[Problem]:
    """Say why `account` cannot write files in `folder`, or make it where it is missing (the app makes it)."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    blocked = account.stopped_at(existing)
    if blocked is not None:
        words = f"{folder} is under {blocked}, which {account.name} cannot pass through"
        return [error(label, words, f"run `chmod o+x {blocked}` as root, or give {account.name} a way through")]
    make = f"run `install -d -o {account.name} -g {account.group} -m 0750 {folder}` as root"
    if existing != folder and not account.may(existing, WRITE | ENTER):
        return [error(label, f"{folder} does not exist and {account.name} cannot make it in {existing}", make)]
    if existing == folder and not (folder.is_dir() and account.may(folder, WRITE | ENTER)):
        return [error(label, f"{folder} is not writable by {account.name}, so the app cannot write its files", make)]
    return []


def error_pages(host: Host) -> list[Problem]:
    """The service's account writes the proxy's error pages at every start; nginx, another account, reads them."""
    folder = host.pages
    if folder is None or not (host.pages_given or folder.exists()):
        return []
    folder, command = folder.resolve(), f"`flask errors pages {host.pages}`"
    if not folder.is_dir():
        return [error("error pages folder", f"{folder} does not exist", f"run {command} as the service's account")]
    blocked = NGINX.stopped_at(folder)
    if blocked is not None:  # nginx sees nothing below it
        words = f"{folder} is under {blocked}, {mode(blocked)}, which nginx (another account) cannot pass through"
        return [error("error pages folder", words, f"run `chmod o+x {blocked}`")]
    problems = []
    if not NGINX.may(folder, ENTER):
        words = f"{folder} is {mode(folder)}, which nginx (another account) cannot enter"
        problems.append(error("error pages folder", words, f"run `chmod 0755 {folder}`"))
    if not host.account.may(folder, WRITE | ENTER):
        words = f"{folder} is not writable by {host.account.name}, who writes the pages at every start"
        fix = f"run `install -d -o {host.account.name} -g {host.account.group} -m 0755 {folder}` as root"
        problems.append(error("error pages folder", words, fix))
    for page in (folder / f"{code}.html" for code in PAGES):
        problems += error_page(page, host.account, command)
    return problems


def error_page(page: Path, account: Account, command: str) -> list[Problem]:
    if not page.exists():
        words = f"{page} is missing, so nginx shows its own bare page for that error"
        return [warning("error pages file", words, f"run {command} (the systemd unit does at every start)")]
    problems = []
    if not NGINX.may(page, READ):
        words = f"{page} is {mode(page)}, which nginx (another account) cannot read"
        problems.append(error("error pages file", words, f"run `chmod 0644 {page.parent}/*.html`"))
    if not account.may(page, WRITE):
        words = f"{page} is not writable by {account.name}, who writes it at every start"
        problems.append(error("error pages file", words, f"run `chown {account.name} {page}` as root"))
    return problems


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def checked_account(host: Host) -> list[Problem]:
    if host.account.uid != 0:
        return []
    words = "is root, who may write anywhere, so the folder checks say nothing of the service's own account"
    return [warning("--user", words, "name the service's account (the systemd unit's User=), as in --user microblog")]


FOR_DEPLOYMENT: tuple[Callable[[Host], list[Problem]], ...] = (
    secret_key,
    debug_switches,
    site_url,
    trusted_hosts,
    proxy_counts,
    secure_cookies,
    database_for_hosts,
    shared_state,
    host_name,
    rate_limits,
)
EVERYWHERE: tuple[Callable[[Host], list[Problem]], ...] = (
    timeout_ladder,
    files_and_folders,
    error_pages,
    checked_account,
)


def run_checks(host: Host, deploy: bool) -> list[Problem]:
    """Return every problem, the errors first."""
    checks = (*FOR_DEPLOYMENT, *EVERYWHERE) if deploy else EVERYWHERE
    problems = [problem for check in checks for problem in check(host)]
    return sorted(problems, key=lambda problem: problem.level != ERROR)


def summary(problems: list[Problem], deploy: bool) -> str:
    if not problems:
        return "Ready to deploy." if deploy else "No problems found (`flask check --deploy` checks a production host)."
    errors = sum(problem.level == ERROR for problem in problems)
    warnings = len(problems) - errors
    return f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"


@click.command("check")
@click.option("--deploy", is_flag=True, help="Also check what a production host must get right.")
@click.option(
    "--user",
    "user_name",
    metavar="NAME",
    help="The account the folders are checked for (default: the one running this), as the unit's User=.",
)
@click.option(
    "--pages",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"The proxy's error pages folder (default: {DEFAULT_PAGES}, when it exists).",
)
def check_command(deploy: bool, user_name: str | None, pages: Path | None) -> None:
    """Name every setting this host gets wrong, each with its fix; exit 1 on any error."""
    problems = run_checks(this_host(user_name, pages), deploy)
    for problem in problems:
        click.echo(problem.line())
    click.echo(summary(problems, deploy))
    if any(problem.level == ERROR for problem in problems):
        click.get_current_context().exit(1)


def this_host(user_name: str | None, pages: Path | None) -> Host:
    """Return what the checks look at, from the settings and the command's options."""
    try:
        account = Account.named(user_name) if user_name else Account.running()
    except KeyError:
        raise click.BadParameter(f"no account is named {user_name!r}.", param_hint="--user") from None
    return Host(
        settings=settings(),
        instance_path=Path(current_app.instance_path),
        account=account,
        pages=pages or DEFAULT_PAGES,
        pages_given=pages is not None,
        debug=get_debug_flag(),
        worker_timeout=float(os.environ.get("GUNICORN_TIMEOUT") or GUNICORN_DEFAULT_TIMEOUT),
    )


def asked_for_checks(argv: Sequence[str]) -> bool:
    """Tell whether this process is `flask check`, from its command line read as Flask's own reads it.

    Only under Flask's command line: gunicorn, the tests and scripts import microblog.py too.
    """
    context = click.get_current_context(silent=True)
    if context is None or not isinstance(context.command, FlaskGroup):
        return False
    words = iter(argv[1:])
    for word in words:
        if word in FLASK_OPTIONS_WITH_A_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word == "check"
    return False


def checking_app() -> Flask:
    """Return an app with `flask check` alone, named "app" like the site for the same instance folder."""
    app = Flask("app")
    app.cli.add_command(check_command)
    return app
