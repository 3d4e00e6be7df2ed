"""Planned downtime: `flask maintenance on --until TIME [--message TEXT]`, `flask maintenance off`, `... status`.

The switch is a small JSON file (MAINTENANCE_FILE, by default instance/maintenance.json), so that every
worker on the host sees it at its next request without the database, which may be what is being worked
on. A request costs one stat(): the file is parsed again only when it changes. While it is there every
page answers 503 with Retry-After as an HTTP date and a page that says when the site will be back; a
form sent meanwhile gets what was typed shown back to copy. The health checks keep answering (the
process is alive; /readyz still says whether the database is), and so do the static files the page uses.

The team gets through from an address in MAINTENANCE_BYPASS_ADDRESSES (addresses or networks, as the
app sees them: behind a proxy, set PROXY_FIX_X_FOR), or with the pass cookie that `flask maintenance on`
prints: it holds a random token written in the file, so each maintenance window has its own.
"""

import ipaddress
import json
import os
import re
import secrets
import tempfile
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


def init_app(app: Flask) -> None:
    app.before_request(answer_during_maintenance)
    app.cli.add_command(maintenance_cli)
    # The flag's path as a string, worked out once: a Path a request would cost more than the stat.
    app.extensions["maintenance"] = {"path": str(flag_path(app)), "stamp": None, "window": None}


def flag_path(app: Flask) -> Path:
    return Path(app.config.get("MAINTENANCE_FILE") or Path(app.instance_path) / "maintenance.json")


def current_window(app: Flask) -> Window | None:
    """Return the planned downtime now in force, or None; the file is parsed only when it changed."""
    cache = app.extensions["maintenance"]
    path = cache["path"]
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    if cache["stamp"] != stamp:
        cache["window"], cache["stamp"] = read_window(app, Path(path)), stamp
    return cache["window"]


def read_window(app: Flask, path: Path) -> Window:
    """Parse the flag file; one that cannot be read still means the site is down (for an hour, say the pages)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Window(datetime.fromisoformat(data["until"]), str(data.get("message", "")), str(data.get("pass", "")))
    except (OSError, ValueError, KeyError, TypeError):
        app.logger.warning("The maintenance file %s cannot be read; the site answers 503 until it is removed", path)
        return Window(datetime.now(UTC) + timedelta(hours=1))


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
    return error_response(error, "errors/maintenance.html", maintenance_text(window, now), fields=fields,
                          window=window, safe_mode=True)  # fmt: skip


def maintenance_text(window: Window, now: datetime) -> ErrorText:
    back = f"{window.until:%H:%M} UTC on {window.until:%A %-d %B}"
    if window.until > now:
        detail = f"We are doing planned work on Microblog. It will be back by {back}."
        advice = [f"That is in {duration_in_words(int((window.until - now).total_seconds()))}."]
    else:
        detail = f"We are doing planned work on Microblog. We expected to be back by {back}, and are nearly done."
        advice = ["Please try again in a few minutes."]
    if request.method == "POST":
        advice.insert(0, "What you sent was not saved.")
    return ErrorText("Microblog is closed for planned work", detail, advice)


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
    """Write the flag file (atomically: a worker never reads half of it) and return the window."""
    window = Window(until.astimezone(UTC), message, secrets.token_urlsafe(24))
    path = flag_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"until": window.until.isoformat(), "message": message, "pass": window.pass_token}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".maintenance-", delete=False) as temporary:
        json.dump(data, temporary)
    os.replace(temporary.name, path)
    return window


def switch_off(app: Flask) -> bool:
    try:
        flag_path(app).unlink()
    except FileNotFoundError:
        return False
    return True


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
    click.echo(f"Maintenance on until {window.until:%Y-%m-%d %H:%M} UTC ({flag_path(current_app)}).")
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
