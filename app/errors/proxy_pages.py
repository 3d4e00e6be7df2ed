"""The pages nginx shows when the app cannot answer at all (502, 503, 504), rendered from the site's templates.

`flask errors pages DIR` writes them (the command is below; its group, `flask errors`, is the operator's, in
app/observability/cli.py); deploy/nginx/microblog-proxy.conf serves them with `error_page`.
Each is one self-contained file: the site's CSS inline, no script, no link to any other file, so it
shows while every worker is down. nginx's SSI fills in its `$request_id`, the id it also sent the app
in X-Request-ID, as the page's reference.
"""

from pathlib import Path

import click
from flask import Flask, current_app, render_template
from flask.cli import with_appcontext
from markupsafe import Markup

PAGES = {
    502: ("The site is not answering", "Our server is restarting or down for a moment. Please try again shortly."),
    503: ("The site is busy", "Too many people are here at once, or we are working on the site. Please try again."),
    504: ("That took too long", "The page did not come back in time, so we gave up waiting. Please try again."),
}


def site_css(app: Flask) -> str:
    """Return Bootstrap's CSS and the site's own, as one stylesheet with no reference to another file."""
    bootstrap = Path(app.blueprints["bootstrap"].static_folder) / "css" / "bootstrap.min.css"
    own = Path(app.static_folder) / "site.css"
    text = bootstrap.read_text(encoding="utf-8") + "\n" + own.read_text(encoding="utf-8")
    return text.replace("/*# sourceMappingURL=bootstrap.min.css.map */", "")


def render_proxy_pages(app: Flask) -> dict[str, str]:
    """Return {"502.html": page, ...}; the navigation bar shows only Home and Explore (no user, no database)."""
    css = Markup(site_css(app))  # noqa: S704 - our own files, read from the package
    pages = {}
    with app.test_request_context("/", base_url=site_address(app)):
        for code, (heading, text) in PAGES.items():
            html = render_template("errors/proxy_error.html", code=code, title=heading, heading=heading, text=text,
                                   inline_css=css, safe_mode=True)  # fmt: skip
            pages[f"{code}.html"] = html
    return pages


def site_address(app: Flask) -> str | None:
    """Return the address to render the pages under: SITE_URL (its path prefixes the links), else a name the
    site answers to. Any other, such as the test request's `localhost`, would be refused (TRUSTED_HOSTS)."""
    trusted = app.config.get("TRUSTED_HOSTS") or []
    return app.config.get("SITE_URL") or (f"http://{trusted[0].lstrip('.')}" if trusted else None)


def write_proxy_pages(app: Flask, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, html in render_proxy_pages(app).items():
        path = directory / name
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written


@click.command("pages")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def write_pages_command(directory: Path) -> None:
    """Write 502.html, 503.html and 504.html into DIRECTORY, for the proxy's error_page."""
    for path in write_proxy_pages(current_app, directory):
        click.echo(f"Wrote {path}")
