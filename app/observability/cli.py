"""`flask alerts test`: send a test alert through the same mail and SMTP transport as real alerts.

`flask errors`: find a request in the logs by its id; list, show, mute and resolve the faults. They
read the alert state and the log files only, never the application database, so they work while the
database is the fault. The error pages add `flask errors pages` (app/errors/proxy_pages.py).
"""

import json
import logging
import os
import re
import smtplib
import socket
import ssl
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.observability.alerts import mail_handler
from app.observability.alerts.mail import AlertMailHandler, capture
from app.observability.failures import DAYS, Failure, failure_store
from app.observability.fault_store import Fault
from app.observability.faults import (
    NoSuchFault,
    all_faults,
    as_dict,
    fault_store,
    find_fault,
    hourly_counts,
    mute,
    resolve,
    unmute,
)
from app.observability.log_search import Search, find_request, rotated_files
from app.observability.logs import LOG_FILE_NAME, REPEATS_FILE_NAME, one_line

alerts_cli = AppGroup("alerts", help="Check the alert mail.")
errors_cli = AppGroup("errors", help="Find a request in the logs; list, show, mute and resolve faults.")


@alerts_cli.command("test")
def send_test_alert() -> None:
    """Send a test alert to ADMINS now, through the same mail and SMTP transport as real alerts."""
    config = current_app.config
    if not config["MAIL_SERVER"] or not config["ADMINS"]:
        raise click.ClickException("Set MAIL_SERVER and ADMINS first (for local development: make mailserver).")
    mailer = mail_handler(config)
    try:
        mailer.send(mailer.message(test_record()))
    except Exception as error:
        click.echo(f"Could not send the test alert via {mailer.address}: {type(error).__name__}: {error}", err=True)
        click.echo(f"Hint: {delivery_hint(error, mailer)}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Sent a test alert to {', '.join(mailer.toaddrs)} via {mailer.address}.")


def test_record() -> logging.LogRecord:
    try:
        raise RuntimeError("Test alert from `flask alerts test`: if you read this, alert mail works")
    except RuntimeError:
        record = logging.LogRecord("app.alerts", logging.ERROR, __file__, 0, "Test alert", None, sys.exc_info())
    record = capture(record)
    record.fault, record.shared = Fault(record.fingerprint, "", time.time(), time.time()), True
    return record


def delivery_hint(error: Exception, mailer: AlertMailHandler) -> str:
    """Say what most likely went wrong, in the settings' terms."""
    text = str(error).lower()
    if isinstance(error, smtplib.SMTPNotSupportedError) and "starttls" in text:
        return "the server does not offer STARTTLS: unset MAIL_USE_TLS, or use MAIL_USE_SSL=1 for a port like 465."
    if isinstance(error, smtplib.SMTPNotSupportedError) and "auth" in text:
        return "the server does not offer login here: unset MAIL_USERNAME, or turn on MAIL_USE_TLS (many need TLS)."
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return "the server refused MAIL_USERNAME/MAIL_PASSWORD."
    if isinstance(error, ssl.SSLError):
        return "the TLS handshake failed: MAIL_USE_SSL is for implicit TLS (465); port 587 wants MAIL_USE_TLS."
    if isinstance(error, ConnectionRefusedError):
        return f"nothing listens on {mailer.address}; check MAIL_SERVER and MAIL_PORT (local: make mailserver)."
    if isinstance(error, TimeoutError | socket.timeout | smtplib.SMTPServerDisconnected):
        return f"the server did not answer within MAIL_TIMEOUT={mailer.timeout:g} s; wrong port or TLS setting?"
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused):
        return "the server refused the sender or the recipients: check ALERTS_SENDER and ADMINS."
    return "check MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL and the credentials."


# `flask errors`

DURATION = re.compile(r"(\d+)\s*([smhdw])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
BARS = "▁▂▃▄▅▆▇█"


def store():
    return fault_store(current_app)


def when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def shown_path(path: Path) -> str:
    """Say a path relative to the working directory when it lies below it."""
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def fault_or_exit(change, *args, **kwargs) -> Fault:
    try:
        return change(store(), *args, **kwargs)
    except NoSuchFault as error:
        raise click.ClickException(str(error)) from None


@errors_cli.command("find")
@click.argument("request_id")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), help="Instead of LOG_DIR.")
@click.option("--access-log", type=click.Path(dir_okay=False, path_type=Path), help="Instead of ACCESS_LOG.")
def find_command(request_id: str, log_dir: Path | None, access_log: Path | None) -> None:
    """Print every log record of a request (the "Reference" on the error page) and the fault it belongs to."""
    config = current_app.config
    folder = Path(log_dir or config["LOG_DIR"])
    app_logs = rotated_files(folder / LOG_FILE_NAME) + rotated_files(folder / REPEATS_FILE_NAME)
    access = access_log or (Path(config["ACCESS_LOG"]) if config["ACCESS_LOG"] else None)
    access_logs = rotated_files(access) if access else []
    search = find_request(request_id.strip(), app_logs, access_logs)
    failures = shared_failures(search.request_id)
    faults = related_faults(search, failures)
    if not search.records and not failures and not faults:
        where = ", ".join(shown_path(path) for path in search.files[-1:] + search.files[:-1][:2]) or "no log file"
        click.echo(f"No record of request {request_id} in {len(search.files)} log file(s) ({where}).", err=True)
        click.echo("Check LOG_DIR and ACCESS_LOG, or whether the files were rotated away.", err=True)
        click.echo(other_hosts_hint(config), err=True)
        raise SystemExit(1)
    print_search(search, faults)
    print_failures(failures, config["HOST_NAME"])


def shared_failures(request_id: str) -> list[Failure]:
    """Return the failures of this request that any host recorded in the shared store (none without one)."""
    failures = failure_store(current_app.config)
    if failures is None:
        return []
    try:
        return failures.find(request_id)
    except Exception as error:  # this host's logs still answer
        click.echo(f"(The shared store cannot be read: {type(error).__name__}: {error})", err=True)
        return []


def other_hosts_hint(config) -> str:
    """Say where else the request may be: every host's failures in the shared store, or the other hosts' logs."""
    others = [host for host in config["HOSTS"] if host != config["HOST_NAME"]]
    if config["SHARED_STORE_URL"]:
        return (f"Nor among the failed requests of every host in the shared store (kept {DAYS} days). "
                "A request that did not fail is in the logs of the host that served it"
                + (f": {', '.join(others)} besides this one ({config['HOST_NAME']})." if others else "."))  # fmt: skip
    if others:
        return (f"This is {config['HOST_NAME']}; another host may have served it: run this command on "
                f"{', '.join(others)}. With SHARED_STORE_URL set, every host's failed requests are found "
                "from any host.")  # fmt: skip
    return "With several hosts, set HOSTS to have this command name them (or SHARED_STORE_URL to search them all)."


def related_faults(search: Search, failures: list[Failure]) -> list[Fault]:
    """Return the faults this request ran into: by the fingerprints in its records, or its id in the state."""
    try:
        faults = all_faults(store())
    except Exception as error:  # the logs still answer
        click.echo(f"(The alert state cannot be read: {type(error).__name__}: {error})", err=True)
        return []
    fingerprints = set(search.fingerprints()) | {failure.fingerprint for failure in failures}
    return [f for f in faults if f.fingerprint in fingerprints or search.request_id in f.recent_ids + f.request_ids]


def print_failures(failures: list[Failure], this_host: str) -> None:
    """Print what the shared store keeps of the request's failures, and where its full records are."""
    for failure in failures:
        click.echo(f"\nFailed on host {failure.host} at {when(failure.at)} UTC (shared store): "
                   f"{one_line(failure.method)} {one_line(failure.path)}, fault {failure.fingerprint}")  # fmt: skip
        click.echo(f"  {one_line(failure.message)}")
        if failure.host != this_host:
            click.echo(f"  Its log records and traceback are on {failure.host}: run this command there.")


def print_search(search: Search, faults: list[Fault]) -> None:
    files = {record.path for record in search.records}
    click.echo(f"Request {search.request_id}: {len(search.records)} record(s) in {len(files)} of "
               f"{len(search.files)} log file(s) on this host ({current_app.config['HOST_NAME']})")  # fmt: skip
    for record in search.records:
        click.echo(f"\n{shown_path(record.path)}:{record.line}{' (access log)' if record.access else ''}")
        click.echo("\n".join("  " + line for line in record.text.split("\n")))
    for fingerprint in search.gated():
        located = search.tracebacks.get(fingerprint)
        click.echo(f"\nTraceback of fault {fingerprint}: logged once per window, ", nl=False)
        if located:
            click.echo(f"with request {located.request_id} at {shown_path(located.path)}:{located.line}")
            click.echo(f"  flask errors find {located.request_id}")
        else:
            click.echo("in a file rotated away since")
    now = time.time()
    for fault in faults:
        click.echo(f"\nFault {fault.fingerprint}: {fault.kind or '-'} at {fault.where or '-'}")
        click.echo(f"  {fault.state(now)}, {fault.count} occurrence(s), first seen {when(fault.first_seen)}, "
                   f"last seen {when(fault.last_seen)} (UTC), release {fault.release or '-'}, "
                   f"host(s) {', '.join(fault.seen_on()) or '-'}")  # fmt: skip
        click.echo(f"  flask errors show {fault.fingerprint}")
        for entry in fault.feedback:
            if entry["request_id"] == search.request_id:  # escaped to one line, as in `flask errors show`
                click.echo(f"  Feedback with this reference ({when(entry['at'])} UTC): {one_line(entry['text'])}")


@errors_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array with every field.")
def list_command(as_json: bool) -> None:
    """List the faults, the most recently seen first."""
    faults, now = all_faults(store()), time.time()
    if as_json:
        click.echo(json.dumps([as_dict(fault, now) for fault in faults], indent=2, ensure_ascii=False))
        return
    if not faults:
        click.echo("No faults recorded.")
        return
    rows = [("FINGERPRINT", "STATUS", "COUNT", "LAST SEEN (UTC)", "RELEASE", "HOSTS", "TYPE", "WHERE")]
    for fault in faults:
        row = (fault.fingerprint, fault.state(now), str(fault.count), when(fault.last_seen), fault.release or "-")
        rows.append((*row, ",".join(fault.seen_on()) or "-", fault.kind or "-", fault.where or "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


@errors_cli.command("show")
@click.argument("fingerprint")
def show_command(fingerprint: str) -> None:
    """Show one fault: counts, the last day hour by hour, status, recent request ids and users' feedback."""
    fault, now = fault_or_exit(find_fault, fingerprint), time.time()
    counts = hourly_counts(fault, now)
    rows = {
        "Type": fault.kind or "-",
        "Where": fault.where or "-",
        "Subject": fault.subject or "-",
        "Status": describe_status(fault, now),
        "Occurrences": str(fault.count),
        "First seen": when(fault.first_seen) + " UTC",
        "Last seen": when(fault.last_seen) + " UTC",
        "Release": fault.release or "-",
        "Hosts": ", ".join(f"{host} (last {when(fault.hosts[host])} UTC)" for host in fault.seen_on()) or "-",
        "Last mail": when(fault.last_mail) + (" UTC" if fault.last_mail else ""),
        "Last 24 hours": f"{sparkline_text(counts)}  ({sum(counts)}; oldest hour first)",
        "Request ids": ", ".join(reversed(fault.recent_ids)) or "-",
    }
    click.echo(f"Fault {fault.fingerprint}")
    width = max(map(len, rows)) + 1
    for name, value in rows.items():
        click.echo(f"  {name + ':':<{width}} {value}")
    click.echo(f"Feedback from the 500 page ({len(fault.feedback)})")
    for entry in fault.feedback:
        # A user's words, line breaks and all: escaped to one line, so they cannot forge lines of this output.
        click.echo(f"  {when(entry['at'])} UTC, request {one_line(entry['request_id'])}: {one_line(entry['text'])}")


def describe_status(fault: Fault, now: float) -> str:
    state = fault.state(now)
    if state == "muted" and fault.mute_until and now < fault.mute_until:
        return f"muted until {when(fault.mute_until)} UTC (no mail; still counted)"
    if state == "muted":
        return f"muted for {fault.mute_left} more occurrence(s) (no mail; still counted)"
    if state == "resolved":
        return f"resolved in release {fault.resolved_in or '-'} (a newer release reopens it with one mail)"
    return state


def sparkline_text(counts: list[int]) -> str:
    top = max(counts) or 1
    return "".join(" " if n == 0 else BARS[min(len(BARS) - 1, n * len(BARS) // (top + 1))] for n in counts)


def parse_until(text: str) -> float:
    """Read an ISO time (UTC unless it says otherwise) as a timestamp."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use an ISO time such as 2026-12-01T18:00 (UTC unless it says otherwise)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_duration(text: str) -> float:
    parts = DURATION.findall(text.strip().lower())
    if not parts or DURATION.sub("", text.strip().lower()).strip():
        raise click.BadParameter("use a duration such as 30m, 1h, 2d or 1w")
    return sum(int(amount) * SECONDS[unit] for amount, unit in parts)


@errors_cli.command("mute")
@click.argument("fingerprint")
@click.option("--for", "for_", metavar="DURATION", help="For a while: 30m, 1h, 2d, 1w.")
@click.option("--until", metavar="TIME", help="Until an ISO time, UTC unless it says otherwise.")
@click.option("--count", type=click.IntRange(min=1), help="For this many occurrences.")
def mute_command(fingerprint: str, for_: str | None, until: str | None, count: int | None) -> None:
    """Send no mail of a fault for a while or a count; it is still counted and listed."""
    if sum(option is not None for option in (for_, until, count)) != 1:
        raise click.UsageError("Give exactly one of --for, --until and --count.")
    ends = time.time() + parse_duration(for_) if for_ else parse_until(until) if until else None
    fault = fault_or_exit(mute, fingerprint, until=ends, count=count)
    click.echo(f"Fault {fault.fingerprint} {describe_status(fault, time.time())}.")


@errors_cli.command("unmute")
@click.argument("fingerprint")
def unmute_command(fingerprint: str) -> None:
    """Mail a muted fault again."""
    fault = fault_or_exit(unmute, fingerprint)
    click.echo(f"Fault {fault.fingerprint} is {fault.state(time.time())} and mailed again.")


@errors_cli.command("resolve")
@click.argument("fingerprint")
def resolve_command(fingerprint: str) -> None:
    """Mark a fault fixed: a later occurrence in a newer release reopens it with one "regression" mail."""
    fault = fault_or_exit(resolve, fingerprint)
    click.echo(f"Fault {fault.fingerprint} {describe_status(fault, time.time())}.")
