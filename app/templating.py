"""Jinja filters and globals the templates share."""

from datetime import UTC, datetime

from flask import Flask
from markupsafe import Markup

from app.avatars import avatar_url
from app.urls import remembered_url_for

UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago `moment` was, in words: "3 minutes ago", "just now"."""
    if moment is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    for name, length in UNITS:
        count = seconds // length
        if count > 0:
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"


def timeago(moment: datetime | None) -> Markup:
    """Render a <time> element showing the relative time, with the exact UTC time on hover."""
    if moment is None:
        return Markup("never")
    iso = moment.astimezone(UTC).isoformat()  # digits and -:.+T only: nothing to escape
    exact = f"{iso[:10]} {iso[11:19]} UTC"
    return Markup(f'<time datetime="{iso}" title="{exact}">{relative_time(moment)}</time>')


def profile_url(user) -> str:
    return remembered_url_for("main.user", username=user.username)


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(timeago)
    app.add_template_global(avatar_url)
    app.add_template_global(profile_url)
    app.add_template_global(remembered_url_for, "url_for")
