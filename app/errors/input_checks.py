"""Refuse input that cannot be read as sent, rather than store something the user did not write.

Werkzeug decodes leniently: an undecodable `%FF` escape is kept as the literal text and an
undecodable byte becomes U+FFFD. For a query string or a form that would silently alter what
was typed, so such requests get a 400 before any view (or the CSRF check) reads them.

Control characters get the same 400, before any query: no one types NUL or ESC, PostgreSQL
refuses NUL in text (a 500 if it got that far), and in a log line or a redirect they forge
what an operator or a browser reads. A form may hold line breaks and tabs (a post's text);
a path, a query string and a field's name may not. A file sent to a form, which takes none, is refused too.
"""

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request
from werkzeug.exceptions import BadRequest

from app.rules import CONTROL, CONTROL_IN_TEXT

# Our forms are plain text: no file uploads, so a whole multipart body must be UTF-8 too.
TEXT_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A "%" that starts no %XX escape: browsers never send one in a form body (they write "%25").
BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class ControlCharacterRefused(BadRequest):
    description = (
        "The address or the form holds a control character (such as NUL or ESC) that no one can type, "
        "so nothing was saved. Please remove it and try again."
    )


class ControlCharacterInText(ControlCharacterRefused):
    """Only a form's values hold control characters: the error page can give the text back without them."""


class FileRefused(BadRequest):
    description = "This form takes text, not a file, so nothing was saved. Please type the text into the form."


def init_app(app: Flask) -> None:
    app.before_request(refuse_undecodable_input)


def refuse_undecodable_input() -> None:
    if not is_utf8(unquote_to_bytes(request.query_string)):
        abort(400)
    if request.mimetype in TEXT_BODIES:
        readable = body_is_utf8()  # first: it keeps the body, which the form parser then reads from there
        if request.mimetype == "multipart/form-data" and request.files:
            raise FileRefused()  # said before the encoding: a file's bytes are rarely UTF-8
        if not readable:
            abort(400)
    if request.path.startswith("/api/"):
        # The API validates its own input and answers in its documented problem types (an unknown
        # user, NUL and all, is a 404 there), so its paths are left to it.
        return
    if control_characters_in_address():
        raise ControlCharacterRefused()
    if control_characters_in_form_text():
        raise ControlCharacterInText()


def control_characters_in_address() -> bool:
    """Tell whether the path, the query string or a form field's name holds a control character."""
    if CONTROL.search(request.path):
        return True
    if any(CONTROL.search(name + value) for name, value in request.args.items(multi=True)):
        return True
    return request.mimetype in TEXT_BODIES and any(CONTROL.search(name) for name in request.form)


def control_characters_in_form_text() -> bool:
    """Tell whether a form's values hold a control character other than tab and line breaks."""
    if request.mimetype not in TEXT_BODIES:
        return False
    return any(CONTROL_IN_TEXT.search(value) for value in request.form.values())


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
