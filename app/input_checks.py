"""Refuse input that cannot be read as sent, rather than store something the user did not write.

Werkzeug decodes leniently: an undecodable `%FF` escape is kept as the literal text and an
undecodable byte becomes U+FFFD. For a query string or a form that would silently alter what
was typed, so such requests get a 400 before any view (or the CSRF check) reads them.
"""

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request

# Our forms are plain text: no file uploads, so a whole multipart body must be UTF-8 too.
TEXT_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A "%" that starts no %XX escape: browsers never send one in a form body (they write "%25").
BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def init_app(app: Flask) -> None:
    app.before_request(refuse_undecodable_input)


def refuse_undecodable_input() -> None:
    if not is_utf8(unquote_to_bytes(request.query_string)):
        abort(400)
    if request.mimetype in TEXT_BODIES and not body_is_utf8():
        abort(400)


def body_is_utf8() -> bool:
    """Read the body once (kept for the form parser; over MAX_CONTENT_LENGTH is a 413) and check its encoding."""
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(body) >= limit:
        # A chunked body is cut at the limit without a word; reading past it raises the 413.
        request.stream.read(1)
    if request.mimetype == "application/x-www-form-urlencoded":
        if BROKEN_ESCAPE.search(body):
            return False
        body = unquote_to_bytes(body)
    return is_utf8(body)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
