"""Planned downtime: `flask maintenance on --until TIME [--message TEXT]`, `flask maintenance off`, `... status`.

The window lives where every worker that must honour it can read it without the database, which may be
what is being worked on:
- on one host, a small JSON file (MAINTENANCE_FILE, by default instance/maintenance.json, readable by the
  service's group): a request costs one stat(), and the file is parsed again only when it changes;
- with SHARED_STORE_URL, in the shared store (Redis), so that `flask maintenance on` on any host closes
  every host within a second (each worker reads it at most once a second), with one pass cookie. Laravel's
  `artisan down` has the same choice (APP_MAINTENANCE_DRIVER: file or cache).
A window that cannot be read (a file another account wrote, a folder the service may not enter, the
shared store down) is logged once and taken as no window: the site keeps serving rather than answer 500.

While a window is on, every page answers 503 with Retry-After as an HTTP date and a page that says when
the site will be back, under a menu with no link (each would lead back to it); a form sent meanwhile gets
what was typed shown back to copy. The health checks
keep answering (the process is alive; /readyz still says whether the database is), and so do the static
files the page uses.

The team gets through from an address in MAINTENANCE_BYPASS_ADDRESSES (addresses or networks, as the
app sees them: behind a proxy, set PROXY_FIX_X_FOR), or with the pass cookie that `flask maintenance on`
prints: it holds a random token written with the window, so each maintenance window has its own.
"""

import ipaddress
import json
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app, request
from flask.cli import AppGroup
from werkzeug.exceptions import ServiceUnavailable

from app.errors.handlers import error_response, leave_user_unloaded
from app.errors.resubmit import typed_fields
from app.errors.text import ErrorText, duration_in_words

PASS_COOKIE = "microblog_maintenance_pass"
ALWAYS_SERVED = {"health", "static", "bootstrap", "favicon"}  # blueprints and endpoints that answer throughout
OVERRUN_RETRY = timedelta(minutes=5)  # past the announced end: ask clients back in a few minutes

maintenance_cli = AppGroup("maintenance", help="Take the site down for planned work, with an honest page.")


@dataclass(frozen=True)
class Window:
    """A planned downtime: when the site is back, what the team wants to say, and the team's pass."""

    until: datetime
    message: str = ""
    pass_token: str = ""

    def retry_at(self, now: datetime) -> datetime:
        return self.until if self.until > now else now + OVERRUN_RETRY

    def to_json(self) -> str:
        return json.dumps({"until": self.until.isoformat(), "message": self.message, "pass": self.pass_token})

    @classmethod
    def from_json(cls, text: str) -> "Window":
        data = json.loads(text)
        return cls(datetime.fromisoformat(data["until"]), str(data.get("message", "")), str(data.get("pass", "")))


class Unreadable:
    """Say once (per process) that the window cannot be read, and again once it can."""

    def __init__(self, where: str):
        self.where, self.said = where, False

    def __call__(self, error: Exception) -> None:
        if not self.said:
            logging.getLogger("app").warning("The maintenance window in %s cannot be read (%s: %s); serving as if "
                                             "there were none", self.where, type(error).__name__, error)  # fmt: skip
        self.said = True

    def readable(self) -> None:
        self.said = False


class FlagFile:
    """The window in a file on this host: the default, for a site on one host."""

    def __init__(self, path: Path):
        self.path = str(path)  # worked out once: a Path per request would cost more than the stat
        self.stamp, self.window = None, None
        self.unreadable = Unreadable(self.path)

    def read(self) -> Window | None:
        """Return the window in force, or None; the file is parsed only when it changed."""
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if self.stamp != stamp:
                self.window, self.stamp = Window.from_json(Path(self.path).read_text(encoding="utf-8")), stamp
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            self.unreadable(error)
            return None
        self.unreadable.readable()
        return self.window

    def write(self, window: Window) -> None:
        """Write the file atomically (a worker never reads half of it), readable by the service's group."""
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".maintenance-", delete=False) as temporary:
            temporary.write(window.to_json())
        # The temporary file's own 0600 would shut the workers out when another account (root, a deploy user)
        # runs the command: the service's group, the folder's, may read it.
        os.chmod(temporary.name, 0o640)
        try:
            os.chown(temporary.name, -1, os.stat(path.parent).st_gid)
        except PermissionError:  # not root, nor in that group: the file is the service's own already
            pass
        os.replace(temporary.name, path)

    def clear(self) -> bool:
        try:
            Path(self.path).unlink()
        except FileNotFoundError:
            return False
        return True


class SharedFlag:
    """The window in the shared store (SHARED_STORE_URL): every host reads it, at most a second late."""

    FRESH = 1.0  # seconds a worker keeps what it read

    def __init__(self, url: str, key: str):
        import redis  # only where the shared store is configured

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.key, self.read_at, self.window = key, float("-inf"), None
        self.unreadable = Unreadable(f"the shared store ({key})")

    def read(self) -> Window | None:
        now = time.monotonic()
        if now - self.read_at < self.FRESH:
            return self.window
        self.read_at = now
        try:
            text = self.client.get(self.key)
            self.window = Window.from_json(text) if text else None
        except Exception as error:  # the store down, or a value that is not a window
            self.unreadable(error)
            self.window = None
            return None
        self.unreadable.readable()
        return self.window

    def write(self, window: Window) -> None:
        self.client.set(self.key, window.to_json())
        self.read_at = float("-inf")

    def clear(self) -> bool:
        self.read_at = float("-inf")
        return bool(self.client.delete(self.key))


def init_app(app: Flask) -> None:
    app.before_request(answer_during_maintenance)
    app.cli.add_command(maintenance_cli)
    app.extensions["maintenance"] = flag_of(app)


def flag_of(app: Flask) -> FlagFile | SharedFlag:
    """Return where this site keeps its window: the shared store when there is one, else a file on this host."""
    config = app.config
    if config.get("SHARED_STORE_URL") and not config.get("MAINTENANCE_FILE"):
        return SharedFlag(config["SHARED_STORE_URL"], config["SHARED_STORE_PREFIX"] + "maintenance")
    return FlagFile(Path(config.get("MAINTENANCE_FILE") or Path(app.instance_path) / "maintenance.json"))


def current_window(app: Flask) -> Window | None:
    return app.extensions["maintenance"].read()


def answer_during_maintenance():
    window = current_window(current_app)
    if window is None or request.blueprint in ALWAYS_SERVED or request.endpoint in ALWAYS_SERVED:
        return None
    if team_may_pass(window):
        return None
    leave_user_unloaded()
    now = datetime.now(UTC)
    error = ServiceUnavailable(retry_after=window.retry_at(now))
    fields = typed_fields() if request.method == "POST" else []
    # Planned work is no fault: nothing in the log to find, so the page shows no reference.
    return error_response(error, "errors/maintenance.html", maintenance_text(window, now), fields=fields,
                          window=window, safe_mode=True, show_reference=False)  # fmt: skip


def maintenance_text(window: Window, now: datetime) -> ErrorText:
    """Say when the site is back, then the team's own words, then what became of a form sent meanwhile."""
    if window.until > now:
        detail = f"We are doing planned work on Microblog. It will be back {back_in_words(window.until, now)}."
    else:
        expected = clock_in_words(window.until, now)
        detail = (f"We are doing planned work on Microblog. We expected to be back by {expected} and are nearly "
                  "done: please try again in a few minutes.")  # fmt: skip
    advice = [window.message] if window.message else []
    if request.method == "POST":
        advice.append("What you sent was not saved.")
    return ErrorText("Microblog is closed for planned work", detail, advice)


def back_in_words(until: datetime, now: datetime) -> str:
    """Say when the site is back as a person reads it, "in about 30 minutes (11:17 UTC)": the wait first, since
    few readers live on UTC, and the time beside it for those who plan by the clock."""
    return f"in about {duration_in_words(int((until - now).total_seconds()))} ({clock_in_words(until, now)})"


def clock_in_words(moment: datetime, now: datetime) -> str:
    """Say a time in UTC, naming the day when it is not today's: "11:17 UTC", "06:00 UTC on Tuesday 1 December"."""
    moment, now = moment.astimezone(UTC), now.astimezone(UTC)
    return f"{moment:%H:%M} UTC" if moment.date() == now.date() else f"{moment:%H:%M} UTC on {moment:%A %-d %B}"


def team_may_pass(window: Window) -> bool:
    """Let the team through: from an address of MAINTENANCE_BYPASS_ADDRESSES, or with this window's pass cookie."""
    token = request.cookies.get(PASS_COOKIE, "")
    if window.pass_token and token and secrets.compare_digest(token, window.pass_token):
        return True
    networks = current_app.config.get("MAINTENANCE_BYPASS_ADDRESSES") or []
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def switch_on(app: Flask, until: datetime, message: str = "") -> Window:
    """Open a window until `until`, with a pass of its own, where every worker reads it; return it."""
    window = Window(until.astimezone(UTC), message, secrets.token_urlsafe(24))
    app.extensions["maintenance"].write(window)
    return window


def switch_off(app: Flask) -> bool:
    return app.extensions["maintenance"].clear()


def where(app: Flask) -> str:
    flag = app.extensions["maintenance"]
    return flag.path if isinstance(flag, FlagFile) else f"the shared store, {flag.key}: every host"


RELATIVE = re.compile(r"\+(\d+)([mh])")


def parse_until(text: str, now: datetime) -> datetime:
    """Read when the site is back: "+45m" or "+2h", "22:30" (UTC, the next such time), or an ISO date and time."""
    text = text.strip()
    if match := RELATIVE.fullmatch(text):
        amount, unit = int(match.group(1)), match.group(2)
        return now + (timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount))
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hour, minute = map(int, text.split(":"))
        moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return moment if moment > now else moment + timedelta(days=1)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@maintenance_cli.command("on")
@click.option("--until", "until_text", required=True,
              help='When the site is back: "+45m", "+2h", "22:30" (UTC) or "2026-12-01T06:00Z".')  # fmt: skip
@click.option("--message", default="", help="A sentence for the page, e.g. what the work is.")
def maintenance_on(until_text: str, message: str) -> None:
    """Answer every page with the planned-downtime page (503) until `flask maintenance off`."""
    now = datetime.now(UTC)
    try:
        until = parse_until(until_text, now)
    except ValueError:
        raise click.BadParameter(f"{until_text!r} is not a time; try +45m, 22:30 or 2026-12-01T06:00Z.") from None
    if until <= now:
        raise click.BadParameter(f"{until:%Y-%m-%d %H:%M} UTC has passed; give a time to come.")
    window = switch_on(current_app, until, message)
    click.echo(f"Maintenance on until {window.until:%Y-%m-%d %H:%M} UTC ({where(current_app)}).")
    click.echo(f"The team gets through with the cookie {PASS_COOKIE}={window.pass_token}")


@maintenance_cli.command("off")
def maintenance_off() -> None:
    """Serve the site again."""
    was_on = switch_off(current_app)
    click.echo("Maintenance off: the site answers again." if was_on else "Maintenance was not on.")


@maintenance_cli.command("status")
def maintenance_status() -> None:
    """Say whether the site is down for planned work, and until when."""
    window = current_window(current_app)
    if window is None:
        click.echo("Maintenance is off.")
    else:
        click.echo(f"Maintenance is on until {window.until:%Y-%m-%d %H:%M} UTC. {window.message}".rstrip())
