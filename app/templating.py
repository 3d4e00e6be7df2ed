"""Jinja filters and globals the templates share."""

import threading
from collections import OrderedDict
from datetime import UTC, datetime

from flask import Flask, current_app, has_request_context, render_template, request
from markupsafe import Markup

from app import urls
from app.avatars import avatar_url
from app.security import CsrfTokens
from app.urls import remembered_url_for

UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def utc_now() -> datetime:
    """Return the time relative times are counted from: one function, so that a test can set the clock."""
    return datetime.now(UTC)


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago `moment` was, in words: "3 minutes ago", "just now"."""
    if moment is None:
        return "never"
    seconds = int(((now or utc_now()) - moment).total_seconds())
    for name, length in UNITS:
        count = seconds // length
        if count > 0:
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"


def timeago(moment: datetime | None, now: datetime | None = None) -> Markup:
    """Render a <time> element showing the relative time, with the exact UTC time on hover."""
    if moment is None:
        return Markup("never")
    iso = moment.astimezone(UTC).isoformat()  # digits and -:.+T only: nothing to escape
    exact = f"{iso[:10]} {iso[11:19]} UTC"
    return Markup(f'<time datetime="{iso}" title="{exact}">{relative_time(moment, now)}</time>')


def profile_url(user) -> str:
    return remembered_url_for("main.user", username=user.username)


def bootstrap_css() -> Markup:
    """Bootstrap-Flask's stylesheet link: the same on every page, so built once per place the app is mounted."""
    kept = current_app.extensions["bootstrap_css"]
    root = request.script_root if has_request_context() else ""
    if root not in kept:
        kept[root] = current_app.extensions["bootstrap"].load_css()
    return kept[root]


class RenderedLists:
    """Rendered lists of posts (_posts.html), the most recently used kept, keyed by everything a list shows.

    A list is the same HTML for everyone who sees the same posts, by the same names, at the same relative
    times ("3 minutes ago"), so the key is that content: a new or deleted post, a changed name or a minute
    passing makes a new key, and nothing needs invalidating; an entry no longer asked for ages out. The page
    still runs its (lean) query; rendering the 25 posts was a sixth of a listing page's CPU (issue 15).
    """

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, Markup] = OrderedDict()
        self.lock = threading.Lock()

    def render(self, page, endpoint: str, endpoint_args: dict | None = None) -> Markup:
        now = utc_now()
        shown = tuple(
            (post.id, post.body, post.timestamp, post.author.username, post.author.avatar_digest)
            + (relative_time(post.timestamp, now),)
            for post in page.items
        )
        where = (request.script_root, endpoint, tuple(sorted((endpoint_args or {}).items())))
        key = (*where, page.number, page.has_next, shown)
        with self.lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
                return html
        html = Markup(
            render_template("_posts.html", page=page, now=now, endpoint=endpoint, endpoint_args=endpoint_args)
        )
        with self.lock:
            self.entries[key] = html
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return html


def register_template_helpers(app: Flask) -> None:
    urls.init_app(app)
    app.extensions["bootstrap_css"] = {}
    app.add_template_global(bootstrap_css)
    # In place of Flask-WTF's, which signs on every call: its global, and its context processor (a later one wins).
    tokens = CsrfTokens()
    app.add_template_global(tokens, "csrf_token")
    app.context_processor(lambda: {"csrf_token": tokens})
    app.add_template_global(RenderedLists(app.config["RENDERED_LISTS_KEPT"]).render, "posts_list")
    app.add_template_filter(timeago)
    app.add_template_global(avatar_url)
    app.add_template_global(profile_url)
    app.add_template_global(remembered_url_for, "url_for")
