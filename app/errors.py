"""Every error the site can answer with, rendered in the site's look."""

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_exception)


def handle_http_error(error: HTTPException):
    template = "404.html" if error.code == 404 else "error.html"
    return render_template(template, error=error), error.code


def handle_exception(error: Exception):
    db.session.rollback()
    return render_template("500.html", error=InternalServerError(), safe_mode=True), 500
