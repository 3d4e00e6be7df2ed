"""The site's icon: pages link /static/favicon.svg; /favicon.ico, which browsers and feed readers ask for
by habit, answers with the same picture rather than a logged 404."""

from flask import Flask, current_app


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)


def favicon():
    response = current_app.send_static_file("favicon.svg")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response
