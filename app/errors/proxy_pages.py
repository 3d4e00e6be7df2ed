"""The pages nginx shows when the app cannot answer at all (502, 503, 504), rendered from the site's templates.

`flask errors pages DIR` writes them (the command is below; its group, `flask errors`, is the operator's, in
app/observability/cli.py); deploy/nginx/microblog-proxy.conf serves them with `error_page`.
Each is one self-contained file: the site's CSS inline, no script, no link to any other file, so it
shows while every worker is down. nginx's SSI fills in its `$request_id`, the id it also sent the app
in X-Request-ID, as the page's reference.
"""

import os
import stat
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
# nginx's workers run as another account (www-data) and must read the pages. Nothing in them is secret (the
# site's look and these words, no data), so they are for every account to read whatever the umask: under the
# systemd unit's UMask=0027 they came out 0640 in a 0750 folder, and nginx answered its bare 403 instead.
PAGE_MODE = 0o644
FOLDER_MODE = 0o755


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
    """Write the pages into `directory` (made if missing), PAGE_MODE in a folder every account can read."""
    open_folder(directory)
    written = []
    for name, html in render_proxy_pages(app).items():
        path = directory / name
        path.write_text(html, encoding="utf-8")
        path.chmod(PAGE_MODE)  # write_text keeps the mode of a page written before, or takes the umask's
        written.append(path)
    return written


def open_folder(directory: Path) -> None:
    """Make `directory` and any missing parent FOLDER_MODE; an existing one of ours gains FOLDER_MODE's bits.

    A folder of another account keeps the mode its owner chose (see unreachable_folders).
    """
    missing = [folder for folder in (directory, *directory.parents) if not folder.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(FOLDER_MODE)
    if directory not in missing and (status := directory.stat()).st_uid == os.geteuid():
        directory.chmod(stat.S_IMODE(status.st_mode) | FOLDER_MODE)


def unreachable_folders(directory: Path) -> list[str]:
    """Return "folder (mode)" for each folder on the way to the pages that other accounts cannot pass through."""
    folders = [(directory, stat.S_IROTH | stat.S_IXOTH)] + [(parent, stat.S_IXOTH) for parent in directory.parents]
    return [f"{folder} ({stat.S_IMODE(mode):04o})" for folder, needed in folders
            if (mode := folder.stat().st_mode) & needed != needed]  # fmt: skip


@click.command("pages")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def write_pages_command(directory: Path) -> None:
    """Write 502.html, 503.html and 504.html into DIRECTORY, for the proxy's error_page."""
    for path in write_proxy_pages(current_app, directory):
        click.echo(f"Wrote {path}")
    if unreachable := unreachable_folders(directory.absolute()):
        click.echo(f"Warning: nginx's workers (another account) cannot reach the pages through: "
                   f"{', '.join(unreachable)}; it would answer 403 in their place.", err=True)  # fmt: skip
