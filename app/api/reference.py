"""The API reference at /api/docs: Swagger UI over the OpenAPI document, served by the site itself.

Swagger UI's files come from the flask-swagger-ui package (its `dist` folder, not its blueprint, whose page
starts Swagger UI with an inline script the Content-Security-Policy forbids); the page is the site's own, and
a script of ours (static/reference.js) starts Swagger UI on the document. Nothing is fetched from another
host: the page works offline and under the site's CSP unchanged.
"""

from importlib import resources
from importlib.metadata import version
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

bp = Blueprint("reference", __name__)
SWAGGER_UI = Path(str(resources.files("flask_swagger_ui") / "dist"))
OURS = Path(__file__).with_name("static")
# Every file the page loads, and the folder it is in: nothing else of either folder is served.
ASSETS = {
    "swagger-ui.css": SWAGGER_UI,
    "swagger-ui-bundle.js": SWAGGER_UI,
    "reference.css": OURS,
    "reference.js": OURS,
}
SWAGGER_UI_VERSION = version("flask-swagger-ui")  # Swagger UI's own, which the package's number follows
YEAR = 365 * 24 * 3600


@bp.route("/docs")
def page():
    """Show every operation of the API, with its parameters, answers and schemas, and let a person try one."""
    return render_template("api/reference.html", title="API reference", version=SWAGGER_UI_VERSION)


@bp.route("/docs/<asset>")
def asset(asset: str):
    """Serve one of the page's scripts and stylesheets. Swagger UI's are asked for with its version in the URL
    (the template's `v`), so a browser may keep them a year; ours are checked again each time."""
    if asset not in ASSETS:
        abort(404)
    return send_from_directory(ASSETS[asset], asset, max_age=YEAR if ASSETS[asset] == SWAGGER_UI else None)
