"""What each error page says, in plain words: a title that says what happened, then what to do next.

In the manner of the GOV.UK Design System's error pages: no status number, no jargon, no blame. The same
`title` and `detail` go into the JSON answers (HTML-side JSON and the API's problem+json), so that a
client shows a person what the page would have shown.
"""

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app.errors.session_menu import session_user_name

# A 405 on a page that only takes its button's POST: the button that does it, as (someone logged in, a visitor)
# sees the site. A visitor's menu has no Log out button, and a profile shows them no Follow button.
BUTTON_HINTS = {
    "auth.logout": (
        "To log out, use the Log out button in the menu at the top of the page.",
        "You are not logged in, so there is nothing to log out of.",
    ),
    "main.follow": (
        "To follow someone, use the Follow button on their profile.",
        "To follow someone, log in, then use the Follow button on their profile.",
    ),
    "main.unfollow": (
        "To stop following someone, use the Unfollow button on their profile.",
        "To stop following someone, log in, then use the Unfollow button on their profile.",
    ),
    "feedback.send": ("To tell us what happened, use the form on the page that showed the problem.",) * 2,
}
ANY_BUTTON = "Go back to the page you came from and use its button."


@dataclass(frozen=True)
class ErrorText:
    """A page's words: `title` (also the <title> and the JSON title), `detail` (also the JSON detail), `advice`."""

    title: str
    detail: str
    advice: list[str] = field(default_factory=list)


def error_text(error: HTTPException, retry_after: int | None = None) -> ErrorText:
    """Return the plain words for `error`, for the current request; `retry_after` in seconds when known."""
    code = error.code or 500
    build = WORDS.get(code)
    own = own_description(error)
    if own and build is not None:
        return ErrorText(build(retry_after).title, own)
    if build is not None:
        return build(retry_after)
    if code >= 500:
        return ErrorText("Something went wrong", "It was a problem on our side. Please try again later.")
    name = HTTP_STATUS_CODES.get(code, "That did not work")
    return ErrorText(name, "The site could not do that. Go back and try again.")


def own_description(error: HTTPException) -> str | None:
    """Return the plain words an error class of this app brings (app/ops/deadline.py's TookTooLong, say), else None.

    The instance's words, which are the class's unless this app's code gave its own when raising it (the name of
    a user who does not exist); never those of Werkzeug's own errors, which can carry exception text.
    """
    for klass in type(error).__mro__:
        if klass.__module__.startswith("app.") and "description" in vars(klass):
            return error.description
    return None


def bad_request(_retry_after):
    return ErrorText(
        "We could not read what was sent",
        "Your browser sent something this site could not read, such as a form with broken characters. "
        "Nothing was saved.",
        ["Go back, check what you typed and send it again."],
    )


def unauthorized(_retry_after):
    return ErrorText("You need to log in", "This page is only for people who are logged in.")


def forbidden(_retry_after):
    return ErrorText("You cannot open this page", "Your account is not allowed to open this page.")


def not_found(_retry_after):
    return ErrorText(
        "Page not found",
        "There is nothing at this address.",
        [
            "If you typed the address, check it is correct. If you pasted it, check you copied all of it.",
            "It may also have moved, or the link you followed may be out of date.",
        ],
    )


def method_not_allowed(_retry_after):
    if request.path.startswith("/api/"):
        return ErrorText(
            "Method not allowed", f"This address does not take {request.method}; the Allow header lists what it takes."
        )
    if request.method in ("GET", "HEAD"):
        return ErrorText(
            "This page cannot be opened directly",
            "This address works only through a button on the site.",
            [button_hint()],
        )
    return ErrorText("This page cannot take what was sent", "This address does not take forms. Nothing was saved.")


def button_hint() -> str:
    """Point to the button that does what this address does, as the page's menu shows the site to whoever looks.

    The router's 405 is rendered without loading the user (safe_mode), so the menu, and these words, go by
    the name kept in the session.
    """
    logged_in, visitor = BUTTON_HINTS.get(endpoint_taking_post(), (ANY_BUTTON, ANY_BUTTON))
    return logged_in if session_user_name() else visitor


def endpoint_taking_post() -> str:
    """Return the view this address would reach with a button's POST (a 405 leaves request.endpoint empty)."""
    try:
        endpoint, _arguments = current_app.create_url_adapter(request).match(request.path, method="POST")
    except HTTPException:
        return ""
    return endpoint


def request_timeout(_retry_after):
    return ErrorText(
        "What you sent arrived too slowly",
        "What you sent took too long to reach the site, so it stopped waiting. Nothing was saved.",
        ["Check your connection, then go back and send it again."],
    )


def gone(_retry_after):
    return ErrorText("This page has been removed", "What was here has been removed and will not come back.")


def too_large(_retry_after):
    limit = size_in_words(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
    return ErrorText(
        "What you sent is too large",
        f"What you sent is larger than this site takes. The limit is {limit}. Nothing was saved.",
        ["Go back, make it shorter and send it again."],
    )


def too_many_requests(retry_after):
    wait = f"Please wait {duration_in_words(retry_after)}, then try again." if retry_after else "Please wait a minute."
    return ErrorText(
        "Too many attempts",
        f"There have been too many attempts from your address in a short while. {wait}",
        ["We limit attempts so that nobody can guess passwords."],
    )


def server_error(_retry_after):
    return ErrorText(
        "Something went wrong",
        "It was a problem on our side, not something you did. The team has been told.",
        [what_happened_to_a_sent_form(), "Please try again in a few minutes."],
    )


def unavailable(retry_after):
    return ErrorText(
        "The site is busy",
        f"The site cannot answer just now. Nothing was changed. Please try again in {duration_in_words(retry_after)}.",
    )


def what_happened_to_a_sent_form() -> str:
    if request.method in ("GET", "HEAD"):
        return "Nothing was changed."
    return "What you sent was not saved. Go back: your browser may still have what you typed, to send it again."


WORDS = {
    400: bad_request,
    401: unauthorized,
    403: forbidden,
    404: not_found,
    405: method_not_allowed,
    408: request_timeout,
    410: gone,
    413: too_large,
    429: too_many_requests,
    500: server_error,
    503: unavailable,
}

# The words of the pages that say more than their status: a form given back, a busy database.
CONTROL_CHARACTERS = ErrorText(
    "The form held characters no one can type",
    "Something (often text pasted from a terminal or another program) put invisible control characters, "
    "such as NUL or ESC, into the form, so nothing was saved.",
)

EXPIRED_FORM = ErrorText(
    "This form has expired",
    "For your safety, a form stops working after a while, or when you log in or out in another tab.",
)

EXPIRED_FORM_PLAIN = ErrorText(
    "This form has expired",
    "For your safety, a form stops working after a while, or when you log in or out in another tab. Nothing was saved.",
    ["Go back to the page, reload it, and send the form again."],
)

DATABASE_BUSY = ErrorText(
    "The site is busy",
    "The site could not reach its database just now. Nothing was changed.",
    ["Please try again in a few seconds."],
)


def duration_in_words(seconds: int | None) -> str:
    """Say a wait for a person: "54 seconds", "3 minutes", "2 hours", "3 days"; "a few seconds" when unknown."""
    if not seconds or seconds <= 0:
        return "a few seconds"
    if seconds < 90:
        return plural(seconds, "second")
    if seconds < 90 * 60:
        return plural(math.ceil(seconds / 60), "minute")
    if seconds < 36 * 3600:
        return plural(math.ceil(seconds / 3600), "hour")
    return plural(round(seconds / 86400), "day")


def plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def size_in_words(size: int) -> str:
    """Say a byte count as people read it: 1048576 is "1 MB", 512000 is "500 KB"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return plural(size, "byte")


def seconds_until(moment: datetime | int | None) -> int | None:
    """Return the seconds a Retry-After asks for, from a number of seconds or a date."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return max(1, math.ceil(when.timestamp() - time.time()))
    return int(moment)
