"""/admin/errors: the fault list for admins, with mute and resolve buttons; a 404 for everyone else.

The faults come from the fault store (app/observability/faults.py), not the application database;
only "who is an admin" needs the database, and while it is down the page answers 503.
"""

import time
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import ServiceUnavailable

from app.forms import EmptyForm
from app.observability.faults import NoSuchFault, all_faults, fault_store, hourly_counts, mute, resolve, unmute
from app.observability.logs import one_line

bp = Blueprint("admin", __name__, url_prefix="/admin", cli_group=None)  # `flask users` is top-level
MUTE_CHOICES = {"1h": ("1 hour", 3600), "1d": ("1 day", 86400), "1w": ("1 week", 7 * 86400)}
SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@bp.before_request
def admins_only() -> None:
    """Show the admin pages to admins; to anyone else they do not exist."""
    # Loading the user needs the database: while it is down this raises, and app/errors/handlers.py answers 503.
    if not (current_user.is_authenticated and current_user.is_admin):
        abort(404)


def sparkline_points(counts: list[int]) -> str:
    """Return the SVG polyline points of hourly counts, oldest at the left, scaled to the busiest hour."""
    top, step = max(counts) or 1, SPARK_WIDTH / max(len(counts) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - n * (SPARK_HEIGHT - 2) / top:.1f}" for i, n in enumerate(counts)
    )


@bp.route("/errors")
def errors():
    now = time.time()
    try:
        faults = all_faults(fault_store(current_app))
    except Exception as error:
        current_app.logger.warning("The alert state cannot be read: %s: %s", type(error).__name__, error)
        raise ServiceUnavailable(retry_after=current_app.config["RETRY_AFTER"]) from None
    rows = [(fault, fault.state(now), hourly_counts(fault, now)) for fault in faults]
    spark = {"width": SPARK_WIDTH, "height": SPARK_HEIGHT, "points": sparkline_points}
    return render_template("admin/errors.html", title="Errors", rows=rows, spark=spark, mute_choices=MUTE_CHOICES,
                           utc_time=utc_time, one_line=one_line)  # fmt: skip


def utc_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def change_fault(change, fingerprint: str, done: str, **options):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        fault = change(fault_store(current_app), fingerprint, **options)
    except NoSuchFault:
        abort(404)
    flash(done.format(fingerprint=fault.fingerprint))
    return redirect(url_for("admin.errors"))


@bp.route("/errors/<fingerprint>/mute", methods=["POST"])
def mute_fault(fingerprint: str):
    label, seconds = MUTE_CHOICES.get(request.form.get("duration", ""), (None, None))
    if seconds is None:
        abort(400)
    return change_fault(mute, fingerprint, f"Fault {{fingerprint}} is muted for {label}.", until=time.time() + seconds)


@bp.route("/errors/<fingerprint>/unmute", methods=["POST"])
def unmute_fault(fingerprint: str):
    return change_fault(unmute, fingerprint, "Fault {fingerprint} is mailed again.")


@bp.route("/errors/<fingerprint>/resolve", methods=["POST"])
def resolve_fault(fingerprint: str):
    done = "Fault {fingerprint} is resolved: a newer release that meets it again sends one regression mail."
    return change_fault(resolve, fingerprint, done)
