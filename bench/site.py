"""The site under load: a seeded database, the server's settings, a logged-in session, worker memory."""

import html
import http.cookiejar
import os
import re
import secrets
import sqlite3
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from tests.support.servers import ROOT
from tests.support.visitor import csrf_token

FLASK = Path(sys.executable).with_name("flask")
SECRET_KEY = secrets.token_hex(32)
DEMO_PASSWORD = "microblog-demo"  # what `flask seed` gives every demo user
# One browser, sent at login and with every loaded request: Flask-Login's session protection
# compares a hash of it, and a session loaded with another agent is marked not fresh and re-set.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) microblog-bench/1"
OLDER_LINK = re.compile(r'href="([^"]+)"[^>]*>\s*Older posts')
UNVERIFIED = ssl._create_unverified_context()  # nginx serves the tests' self-signed certificate


def app_env(database: Path | str, log_dir: Path, **extra: str) -> dict[str, str]:
    """Production-like settings: debugger off, the given database, logs in `log_dir`, no mail unless asked."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url(database),
        "LOG_DIR": str(log_dir),
        "FLASK_DEBUG": "0",
        "DEMO_ERRORS": "0",
        "MAIL_SERVER": "",
        # The bench logs its users in from one address; the login limits per address would refuse
        # them. Only those are raised: the limiter stays on, as in production.
        "ACCOUNT_RATE_LIMIT": "10000 per minute",
        "LOGIN_ATTEMPT_LIMIT": "10000 per minute",
        **extra,
    }


def database_url(database: Path | str) -> str:
    """Return the SQLAlchemy URL of a SQLite file, or `database` itself when it is a URL already."""
    return database if isinstance(database, str) else f"sqlite:///{database}"


def seed_database(database: Path | str, users: int, posts: int, follows: int, folder: Path) -> None:
    """Migrate a fresh database (a SQLite file or a URL) and fill it through `flask seed`."""
    seeding = ["seed", f"--users={users}", f"--posts={posts}", f"--follows={follows}"]
    for command in (["db", "upgrade"], seeding):
        run_with_site(database, folder, [str(FLASK), *command])


def grow_database(database: Path | str, args, folder: Path) -> None:
    """Migrate a fresh database and grow it with bench/grow.py as the bench's settings say."""
    run_with_site(database, folder, [str(FLASK), "db", "upgrade"])
    grow = [sys.executable, "-m", "bench.grow", f"--users={args.growth_users}", f"--posts={args.growth_posts}",
            f"--logged-in={min(args.logged_in, args.users)}", f"--star-posts={args.star_posts}",
            f"--follows={args.growth_follows}"]  # fmt: skip
    run_with_site(database, folder, grow)


def run_with_site(database: Path | str, folder: Path, command: list[str]) -> None:
    env = {**os.environ, "FLASK_APP": "microblog.py", **app_env(database, folder / "seed-logs")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[-3:])} failed:\n{done.stderr[-3000:]}")


def most_prolific_user(database: Path | str) -> tuple[str, int]:
    """Return the username with the most posts and their count (their profile has the most pages)."""
    query = 'SELECT u.username, COUNT(*) AS n FROM post p JOIN "user" u ON u.id = p.user_id GROUP BY u.id'
    query += " ORDER BY n DESC LIMIT 1"
    if isinstance(database, Path):
        with sqlite3.connect(database) as connection:
            return connection.execute(query).fetchone()
    import psycopg  # only for the PostgreSQL rows

    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        return connection.execute(query).fetchone()


def log_in(base_url: str, username: str, password: str = DEMO_PASSWORD, follow: bool = True) -> str:
    """Log in through the real form once, as USER_AGENT; return the Cookie header value that carries the session.

    `follow`: go on to the page the login sends to, keeping the cookies it answers with, as a browser does;
    False keeps the login's own cookie, as a client that does not update its cookies would (a load harness).
    """
    jar = http.cookiejar.CookieJar()
    handlers = [urllib.request.HTTPCookieProcessor(jar), urllib.request.HTTPSHandler(context=UNVERIFIED)]
    opener = urllib.request.build_opener(*handlers, *([] if follow else [NoRedirects]))
    # The CSRF check over https wants a same-origin Referer, as a browser sends from the login page.
    opener.addheaders = [("User-Agent", USER_AGENT), ("Referer", base_url + "/login")]
    page = opener.open(base_url + "/login", timeout=10).read().decode()
    form = urlencode({"username": username, "password": password, "csrf_token": csrf_token(page)}).encode()
    try:
        opener.open(base_url + "/login", form, timeout=30).read()
    except urllib.error.HTTPError as answer:
        if follow or answer.code != 302:
            raise
    cookie = "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)
    if "session=" not in cookie:
        raise SystemExit(f"could not log in as {username} at {base_url}")
    return cookie


def log_in_many(base_url: str, users: int) -> list[str]:
    """Log in demo1..demoN (each follows others after `flask seed`); return their Cookie header values."""
    return [log_in(base_url, f"demo{n}") for n in range(1, users + 1)]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def probe(url: str, headers: dict[str, str]) -> tuple[int, bool]:
    """Return the status one GET gets, without following redirects (a lost session shows as 302), and
    whether the answer sets a cookie (a session re-written on every request costs a signature each time)."""
    status, answered = get(url, headers)
    return status, "Set-Cookie" in answered


def get(url: str, headers: dict[str, str]) -> tuple[int, Message]:
    """Return the status and the headers of one GET, without following redirects."""
    opener = urllib.request.build_opener(NoRedirects, urllib.request.HTTPSHandler(context=UNVERIFIED))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
            response.read()
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def bytes_in(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0


def worker_pids(master_pid: int) -> list[int]:
    """Return the pids whose parent is `master_pid` (gunicorn's workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == master_pid:
            pids.append(int(stat.parent.name))
    return pids


def workers_cpu_seconds(master_pid: int) -> float:
    """Return the CPU time (user and system) gunicorn's workers have used so far."""
    ticks = 0
    for pid in worker_pids(master_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str) -> float:
    """Return one of the process's memory figures from /proc (VmHWM: peak resident, VmRSS: resident now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_memory_mb(master_pid: int) -> tuple[float, float]:
    """Return the highest peak and the highest current resident memory among gunicorn's workers."""
    pids = worker_pids(master_pid)
    peak = max((memory_mb(pid, "VmHWM") for pid in pids), default=0.0)
    now = max((memory_mb(pid, "VmRSS") for pid in pids), default=0.0)
    return peak, now


def older_page(base_url: str, path: str, cookie: str) -> str:
    """Return the address the page's "Older posts" link leads to, as `cookie`'s user sees it."""
    status, page = get_page(base_url + path, cookie)
    found = OLDER_LINK.search(page)
    if status != 200 or not found:
        raise SystemExit(f"{path} answered {status} with no Older posts link")
    return html.unescape(found.group(1))


def page_back(base_url: str, path: str, cookie: str, pages: int) -> str:
    """Return the address of the page `pages` pages older than `path`'s first, as `cookie`'s user sees it: where the
    old numbered address `?page=<pages>` leads, then its Older link (the way a reader gets there, one page on)."""
    status, answered = get(f"{base_url}{path}?page={pages}", {"User-Agent": USER_AGENT, "Cookie": cookie})
    if status not in (301, 302, 303, 307, 308):
        raise SystemExit(f"{path}?page={pages} answered {status}, not a redirect to its address")
    landed = urlsplit(urljoin(base_url + path, answered["Location"]))
    return older_page(base_url, landed._replace(scheme="", netloc="").geturl(), cookie)


def get_page(url: str, cookie: str | None) -> tuple[int, str]:
    headers = {"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})}
    opener = urllib.request.build_opener(NoRedirects, urllib.request.HTTPSHandler(context=UNVERIFIED))
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def reference_of(url: str) -> str:
    """Return the reference (request id) of one request to `url`: what a user would quote from the error page."""
    _, answered = get(url, {"User-Agent": USER_AGENT})
    return answered["X-Request-ID"]


def errors_find(env: dict[str, str], reference: str) -> bool:
    """Tell whether `flask errors find` on the site's own settings finds the request and the fault behind it."""
    command = [str(FLASK), "errors", "find", reference]
    full_env = {**os.environ, "FLASK_APP": "microblog.py", **env}
    done = subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)
    return done.returncode == 0 and reference in done.stdout and "InjectedFault" in done.stdout
