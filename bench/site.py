"""The site under load: a seeded database, the server's settings, a logged-in session, worker memory."""

import http.cookiejar
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from tests.support.servers import ROOT

FLASK = Path(sys.executable).with_name("flask")
SECRET_KEY = secrets.token_hex(32)
DEMO_PASSWORD = "microblog-demo"  # what `flask seed` gives every demo user


def app_env(database: Path, log_dir: Path, **extra: str) -> dict[str, str]:
    """Production-like settings: debugger off, the given SQLite file, logs in `log_dir`, no mail unless asked."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_DIR": str(log_dir),
        "FLASK_DEBUG": "0",
        "DEMO_ERRORS": "0",
        "MAIL_SERVER": "",
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
    """Log in through the real form once; return the Cookie header value that carries the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urlencode({"username": username, "password": password, "csrf_token": token}).encode()
    opener.open(base_url + "/login", form, timeout=10).read()
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_of(url: str, headers: dict[str, str]) -> int:
    """Return the status one GET gets, without following redirects (a lost session shows as 302)."""
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


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
