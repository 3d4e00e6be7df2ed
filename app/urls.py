"""`url_for` for pages, remembered across requests.

A page names the same few addresses over and over (each author's profile and avatar, the menu's links),
and Werkzeug builds each one anew: about 15 µs a call, a tenth of a listing page's CPU (issue 15). A
relative address depends only on the endpoint, its values and the script root the app is mounted at, so
the answer is kept for those. Anything else (outside a request; an external address, which names the request's host; an
endpoint relative to the current blueprint; a value that cannot be a key) is built each time.
"""

import functools

from flask import Flask, current_app, has_request_context, request, url_for

REMEMBERED = 4096  # addresses kept per worker process: about 0.5 MB


def remembered_url_for(endpoint: str, **values) -> str:
    if not has_request_context() or endpoint.startswith(".") or any(name.startswith("_") for name in values):
        return url_for(endpoint, **values)
    try:
        key = tuple(sorted(values.items()))
        hash(key)
    except TypeError:
        return url_for(endpoint, **values)
    return current_app.extensions["remembered_urls"](request.script_root, endpoint, key)


def built_url(script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def init_app(app: Flask) -> None:
    """Give `app` its own remembered addresses (each app has its own routes)."""
    app.extensions["remembered_urls"] = functools.lru_cache(maxsize=REMEMBERED)(built_url)
