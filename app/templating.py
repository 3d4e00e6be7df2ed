"""What the templates share: filters and globals, and the per-worker memos that keep a page cheap to render.

A listing page names the same addresses, the same CSRF token and the same rendered posts over and over;
each memo here keeps an answer that depends only on its key, bounded in size (`make_room`).
"""

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.routing import MapAdapter

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
    still runs its (lean) query; rendering the 25 posts was a sixth of a listing page's CPU.

    The one part that depends on the viewer, the Delete link on their own posts (`deletable`, the ids), is in
    the key too: a list with an author's links is kept for lists showing that author the same posts, never
    served to anyone else; everyone without a post on the page shares one copy.

    The key holds the posts' ids as they are, and the rest of what the list shows (bodies, times, authors, the
    relative times) as its hash: kept whole, those values took 11 KB a key, as much as the HTML kept for it.
    The hash is 64 bits, its strings' part seeded per process: for two of the 256 lists kept that differ only in
    what it covers (the same posts and Delete links, another name or minute) to meet on one hash is a chance
    of about one in 10^15.
    """

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, Markup] = OrderedDict()
        self.lock = threading.Lock()

    def render(self, page, endpoint: str, endpoint_args: dict | None = None, deletable=frozenset()) -> Markup:
        now = utc_now()
        shown = tuple(
            # The author is a frozen dataclass: equal, and hashed, by what the list shows of them.
            (post.id, post.body, post.timestamp, post.author, relative_time(post.timestamp, now))
            for post in page.items
        )
        where = (request.script_root, endpoint, tuple(sorted((endpoint_args or {}).items())))
        key = (*where, page.newer, page.older, tuple(post.id for post in page.items), hash(shown), deletable)
        with self.lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
                return html
        html = Markup(
            render_template(
                "_posts.html", page=page, now=now, endpoint=endpoint, endpoint_args=endpoint_args, deletable=deletable
            )  # fmt: skip
        )
        with self.lock:
            self.entries[key] = html
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return html


def init_app(app: Flask) -> None:
    """Give the templates their filters and globals, and this app its own memos."""
    app.extensions["remembered_urls"] = {}  # each app has its own routes
    app.extensions["site_url_adapter"] = site_url_adapter(app)
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


def profile_url(user) -> str:
    return remembered_url_for("main.user", username=user.username)


def avatar_url(user, size: int) -> str:
    """Return the avatar address for `user`: our own identicon (app/main/avatars.py), or Gravatar when switched on."""
    if current_app.config["AVATAR_GRAVATAR"]:
        return f"https://www.gravatar.com/avatar/{user.avatar_digest}?d=identicon&s={size}"
    return remembered_url_for("main.avatar", digest=user.avatar_digest, s=size)


REMEMBERED = 4096  # addresses kept per worker process: about 0.5 MB; past that the oldest half is forgotten


def remembered_url_for(endpoint: str, **values) -> str:
    """`url_for` for pages, remembered across requests.

    A page names the same few addresses over and over (each author's profile and avatar, the menu's links),
    and Werkzeug builds each one anew: about 15 µs a call, a tenth of a listing page's CPU. A relative
    address depends only on the endpoint, its values and the script root the app is mounted at, so the
    answer is kept for those. Anything else (outside a request; an external address, which names the
    request's host; an endpoint relative to the current blueprint; a value that cannot be a key) is built
    each time and never kept, so a kept answer is always one of the first kind.
    """
    if not has_request_context():
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, *values.items())  # the values in the order given: a call site's own
    kept = current_app.extensions["remembered_urls"]
    try:
        return kept[key]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key
        return url_for(endpoint, **values)
    address = url_for(endpoint, **values)
    if not endpoint.startswith(".") and not any(name.startswith("_") for name in values):
        make_room(kept, REMEMBERED)
        kept[key] = address
    return address


def site_url_adapter(app: Flask) -> MapAdapter | None:
    """Return the app's routes bound to SITE_URL's scheme, host and path (None without SITE_URL)."""
    site = urlsplit(app.config.get("SITE_URL") or "")
    if not site.netloc:
        return None
    return app.url_map.bind(site.netloc, script_name=site.path.rstrip("/") or "/", url_scheme=site.scheme)


def site_url_for(endpoint: str, **values) -> str:
    """Return the absolute address of `endpoint` on SITE_URL, for whatever leaves the site: a link in a mail,
    a problem's `type`.

    Never on the request's host: `url_for(..., _external=True)` names the Host header the client sent, even one
    TRUSTED_HOSTS lets through, so a forged Host would mail someone a reset link to the sender's own server.
    Without SITE_URL (development, `flask run` on a laptop) the request's host is all there is.
    """
    adapter = current_app.extensions["site_url_adapter"]
    if adapter is None:
        return url_for(endpoint, _external=True, **values)
    return adapter.build(endpoint, values, force_external=True)


CSRF_TOKENS_KEPT = 4096  # sessions per worker process; past that the oldest half is forgotten


class CsrfTokens:
    """The CSRF token a page's plain forms carry (the menu's log-out on every page), signed once a minute per
    session rather than on every page.

    Flask-WTF keeps a random token in the session and signs it with a timestamp for each page: about 50 µs
    a page under load, for a token that changes only with the session. Any signed copy of the session's token
    is valid until WTF_CSRF_TIME_LIMIT (an hour) after its signing, so one is handed out again for a sixtieth
    of that (a minute) at most: a form's life is shortened by that much. Form classes still sign their own
    (flask_wtf.FlaskForm).
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.signed: dict[str, tuple[str, float]] = {}  # the session's token: (its signed copy, when signed)
        self.lock = threading.Lock()

    def __call__(self) -> str:
        config = current_app.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        limit = config.get("WTF_CSRF_TIME_LIMIT", 3600)
        reuse = 60.0 if limit is None else min(60.0, limit / 60)
        secret = session.get(field)
        now = self.clock()
        kept = self.signed.get(secret) if secret else None
        if kept is not None and now - kept[1] < reuse:
            return kept[0]
        token = generate_csrf()  # puts a token in a session that has none
        with self.lock:
            make_room(self.signed, CSRF_TOKENS_KEPT)
            self.signed.pop(session[field], None)  # re-inserted last: the newest
            self.signed[session[field]] = (token, now)
        return token


def make_room(kept: dict, bound: int) -> None:
    """Once `kept` holds `bound` entries, forget its oldest half (a dict keeps the order of insertion)."""
    if len(kept) >= bound:
        for old in list(kept)[: bound // 2]:
            kept.pop(old, None)  # another thread may have dropped it first
