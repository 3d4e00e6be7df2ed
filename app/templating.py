"""Jinja filters and globals the templates share."""

import functools
from datetime import UTC, datetime

from flask import Flask, g, url_for
from markupsafe import Markup, escape

from app.avatars import avatar_url

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
    exact = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    iso = moment.astimezone(UTC).isoformat()
    return Markup(f'<time datetime="{escape(iso)}" title="{escape(exact)}">{escape(relative_time(moment))}</time>')


def once_per_request(build_url):
    """Remember what `build_url` answered for the rest of the request: a page names the same authors many times."""

    @functools.wraps(build_url)
    def remembered(*args):
        answers = g.setdefault("url_answers", {})
        key = (build_url.__name__, *args)
        if key not in answers:
            answers[key] = build_url(*args)
        return answers[key]

    return remembered


def profile_url(user) -> str:
    return url_for("main.user", username=user.username)


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(timeago)
    app.add_template_global(once_per_request(avatar_url), "avatar_url")
    app.add_template_global(once_per_request(profile_url), "profile_url")
