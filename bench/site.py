"""The site under load: a seeded database, the server's settings, a logged-in session, worker memory."""

import http.cookiejar
import os
import secrets
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from tests.support.servers import ROOT
from tests.support.visitor import csrf_token

FLASK = Path(sys.executable).with_name("flask")
SECRET_KEY = secrets.token_hex(32)
DEMO_PASSWORD = "microblog-demo"  # what `flask seed` gives every demo user
# One browser, sent at login and with every loaded request: Flask-Login's session protection
# compares a hash of it, and a session loaded with another agent is marked not fresh and re-set.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) microblog-bench/1"


def app_env(database: Path, log_dir: Path, **extra: str) -> dict[str, str]:
    """Production-like settings: debugger off, the given SQLite file, logs in `log_dir`, no mail unless asked."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{database}",
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


def seed_database(database: Path, users: int, posts: int, follows: int) -> None:
    """Migrate a fresh SQLite file and fill it through `flask seed`."""
    env = {**os.environ, "FLASK_APP": "microblog.py", **app_env(database, database.parent / "seed-logs")}
    for command in (["db", "upgrade"], ["seed", f"--users={users}", f"--posts={posts}", f"--follows={follows}"]):
        subprocess.run([str(FLASK), *command], cwd=ROOT, env=env, check=True, capture_output=True)


def most_prolific_user(database: Path) -> tuple[str, int]:
    """Return the username with the most posts and their count (their profile has the most pages)."""
    with sqlite3.connect(database) as connection:
        query = 'SELECT u.username, COUNT(*) AS n FROM post p JOIN "user" u ON u.id = p.user_id GROUP BY u.id'
        return connection.execute(query + " ORDER BY n DESC LIMIT 1").fetchone()


def log_in(base_url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log in through the real form once, as USER_AGENT; return the Cookie header value that carries the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    page = opener.open(base_url + "/login", timeout=10).read().decode()
    form = urlencode({"username": username, "password": password, "csrf_token": csrf_token(page)}).encode()
    opener.open(base_url + "/login", form, timeout=10).read()
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
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, "Set-Cookie" in response.headers
    except urllib.error.HTTPError as error:
        return error.code, "Set-Cookie" in error.headers


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
