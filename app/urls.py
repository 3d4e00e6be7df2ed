"""`url_for` for pages, remembered across requests.

A page names the same few addresses over and over (each author's profile and avatar, the menu's links),
and Werkzeug builds each one anew: about 15 µs a call, a tenth of a listing page's CPU (issue 15). A
relative address depends only on the endpoint, its values and the script root the app is mounted at, so
the answer is kept for those. Anything else (outside a request; an external address, which names the
request's host; an endpoint relative to the current blueprint; a value that cannot be a key) is built
each time and never kept, so a kept answer is always one of the first kind.
"""

from flask import Flask, current_app, has_request_context, request, url_for

from app.kept import make_room

REMEMBERED = 4096  # addresses kept per worker process: about 0.5 MB; past that the oldest half is forgotten


def remembered_url_for(endpoint: str, **values) -> str:
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


def init_app(app: Flask) -> None:
    """Give `app` its own remembered addresses (each app has its own routes)."""
    app.extensions["remembered_urls"] = {}
