"""`make bench`: seed SQLite, serve it with gunicorn (2 workers), load each page, print the table.

Usage: python -m bench [--users 50] [--posts 1000] [--follows 10] [--growth-posts 100000]
                       [--logged-in 50] [--duration 10] [--connections 16] [--skip-growth]
                       [--only bare,404,storm_relay,storm_hole]

Pages are loaded the way people load the site: many users, each logged in once through the real
form with one browser (a stable session cookie, checked), requests taking their cookies in turn.
The anonymous rows are the ones earlier runs measured as "explore" and "404 page".
"""

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import load, report, site
from bench.relays import BlackHoleRelay, WorkingRelay
from tests.support.servers import ROOT, Server, free_port, gunicorn

RESULTS = ROOT / "bench" / "results"
WORKERS = 2
ADMIN = "oncall@example.com"
ROWS = (
    "bare",
    "bare404",
    "home",
    "growth",
    "explore",
    "profile",
    "profile2",
    "404",
    "explore_anon",
    "404_anon",
    "storm_relay",
    "storm_hole",
)
SITE_ROWS = {"home", "growth", "explore", "profile", "profile2", "404", "explore_anon", "404_anon"}


@dataclass
class Row:
    name: str
    result: load.LoadResult
    log_bytes: int = 0
    mails: int | None = None
    users: int = 0  # logged-in users whose cookies the load took in turn; 0 for anonymous
    resets_cookie: bool = False  # the answer carried a Set-Cookie: a session that is re-written on every request
    worker_cpu_ms: float = 0.0  # the workers' CPU time a request: a quieter figure than req/s on a shared machine


@dataclass
class Bench:
    """One benchmark run: its settings, its scratch folder and what it measured."""

    args: argparse.Namespace
    folder: Path
    rows: dict[str, Row] = field(default_factory=dict)
    memory_mb: dict[str, tuple[float, float]] = field(default_factory=dict)  # server: (peak, at the end)

    def measure(self, server: Server, key: str, name: str, path: str, status: int, log_dir: Path, cookies=()):
        """Check `path` answers `status` (as each user), warm up, then load it and record the row."""
        if not self.wanted(key):
            return
        headers = {"User-Agent": site.USER_AGENT}
        url = server.url + path
        resets_cookie = False
        for cookie in cookies or [None]:
            answered, set_cookie = site.probe(url, {**headers, "Cookie": cookie} if cookie else headers)
            if answered != status:
                raise SystemExit(f"{name}: {path} answered {answered}, expected {status}; see {server.output_path}")
            resets_cookie |= bool(cookie and set_cookie)
        expect_ok = status < 400
        load.run_threads(url, min(2.0, self.args.duration / 5), self.args.connections, headers, expect_ok, cookies)
        logged_before = site.bytes_in(log_dir)
        cpu_before = site.workers_cpu_seconds(server.process.pid)
        result = load.drive(url, self.args.duration, self.args.connections, headers, status, cookies)
        cpu_ms = (site.workers_cpu_seconds(server.process.pid) - cpu_before) * 1000 / max(result.requests, 1)
        logged = site.bytes_in(log_dir) - logged_before
        row = Row(name, result, logged, users=len(cookies), resets_cookie=resets_cookie, worker_cpu_ms=cpu_ms)
        self.rows[key] = row
        print(
            f"  {name}: {result.rate:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"worker CPU {cpu_ms:.2f} ms a request",
            flush=True,
        )

    def wanted(self, key: str) -> bool:
        return key in self.args.only

    def serve(self, name: str, env: dict[str, str], app: str = "microblog:app", port: int | None = None):
        (self.folder / name).mkdir(exist_ok=True)
        return gunicorn(self.folder / name, env, workers=WORKERS, app=app, port=port)

    def record_memory(self, name: str, server: Server) -> None:
        self.memory_mb[name] = site.workers_memory_mb(server.process.pid)

    def database(self, name: str, posts: int) -> Path:
        path = self.folder / name / "microblog.db"
        path.parent.mkdir(parents=True)
        started = time.monotonic()
        site.seed_database(path, self.args.users, posts, self.args.follows)
        print(f"seeded {name}: {self.args.users} users, {posts:,} posts in {time.monotonic() - started:.0f} s")
        return path

    def run_bare(self) -> None:
        """The floor: a bare Flask app under the same gunicorn settings (the project's gunicorn.conf.py)."""
        with self.serve("bare", {}, app="bench.bare_app:app") as server:
            self.measure(server, "bare", "bare Flask page (3 KB)", "/", 200, self.folder / "bare-logs")
            self.measure(server, "bare404", "bare Flask 404", "/no/such/page", 404, self.folder / "bare-logs")

    def run_site(self, database: Path, grown: Path | None) -> None:
        log_dir = self.folder / "site-logs"
        with self.serve("small", site.app_env(database, log_dir)) as server:
            users = site.log_in_many(server.url, self.logged_in)
            author, _ = site.most_prolific_user(database)
            self.measure(server, "home", "home timeline", "/", 200, log_dir, users)
            if grown:
                self.run_growth(grown)  # right after the small case, so both meet the same load on the machine
            self.measure(server, "explore", "explore", "/explore", 200, log_dir, users)
            self.measure(server, "profile", "profile", f"/user/{author}", 200, log_dir, users)
            self.measure(server, "profile2", "profile page 2", f"/user/{author}?page=2", 200, log_dir, users)
            self.measure(server, "404", "404 page", "/no/such/page", 404, log_dir, users)
            self.measure(server, "explore_anon", "explore, anonymous", "/explore", 200, log_dir)
            self.measure(server, "404_anon", "404 page, anonymous", "/no/such/page", 404, log_dir)
            self.record_memory("site", server)

    @property
    def logged_in(self) -> int:
        return min(self.args.logged_in, self.args.users)

    def run_storm(self, database: Path, key: str, name: str, relay) -> None:
        if not self.wanted(key):
            return
        log_dir = self.folder / f"{key}-logs"
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(relay.port), "ADMINS": ADMIN, "MAIL_TIMEOUT": "5"}
        mail["ALERT_STATE_PATH"] = str(self.folder / f"{key}-alert-state.sqlite3")  # each storm starts ungrouped
        port = free_port()
        mail["SITE_URL"] = f"http://127.0.0.1:{port}"  # required with mail in production (gunicorn's default)
        env = site.app_env(database, log_dir, **mail)
        with self.serve(key, env, app="bench.faulty_app:app", port=port) as server:
            self.measure(server, key, name, "/explore", 500, log_dir)
            self.record_memory(key, server)
        relay.wait_until_quiet()
        self.rows[key].mails = relay.mails_received

    def run_growth(self, database: Path) -> None:
        log_dir = self.folder / "growth-logs"
        with self.serve("large", site.app_env(database, log_dir)) as server:
            users = site.log_in_many(server.url, self.logged_in)
            name = f"home timeline, {self.args.growth_posts:,} posts"
            self.measure(server, "growth", name, "/", 200, log_dir, users)
            self.record_memory("growth", server)

    def run(self) -> None:
        self.run_bare()
        database = self.database("small", self.args.posts)
        grown = self.database("growth", self.args.growth_posts) if self.wanted("growth") else None
        if SITE_ROWS & self.args.only:
            self.run_site(database, grown)
        with WorkingRelay() as relay:
            self.run_storm(database, "storm_relay", "error storm, SMTP relay working", relay)
        with BlackHoleRelay() as relay:
            self.run_storm(database, "storm_hole", "error storm, SMTP relay a black hole", relay)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--follows", type=int, default=10, help="users each user follows")
    parser.add_argument("--growth-posts", type=int, default=100_000)
    parser.add_argument("--logged-in", type=int, default=50, help="users logged in for the load (at most --users)")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the saved table")
    parser.add_argument("--only", type=rows_named, default=",".join(ROWS), help="rows to run, comma-separated")
    args = parser.parse_args(argv)
    if args.skip_growth:
        args.only.discard("growth")
    args.only |= {"bare", "bare404"}  # every ratio is to the bare app of the same run
    return args


def rows_named(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    if unknown := names - set(ROWS):
        raise argparse.ArgumentTypeError(f"unknown rows {', '.join(sorted(unknown))}; choose from {', '.join(ROWS)}")
    return names


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    cores = len(os.sched_getaffinity(0))
    load_now = os.getloadavg()[0]
    return (
        f"{cpu}, {cores} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"load average {load_now:.1f} at the end (the machine is shared)"
    )


def render(bench: Bench, args: argparse.Namespace) -> str:
    """Render the report: every row measured and the targets those rows decide (a partial run says so)."""
    text = report.render(bench.rows, bench.memory_mb, args, machine(), load.generator_name())
    if missing := [key for key in ROWS if key not in bench.rows and (key != "growth" or not args.skip_growth)]:
        text = f"Partial run: without {', '.join(missing)}.\n" + text
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    print(
        f"Microblog benchmark: gunicorn {WORKERS} workers, SQLite, {args.connections} connections, "
        f"{args.duration:g} s per row, load by {load.generator_name()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="microblog-bench-") as folder:
        bench = Bench(args, Path(folder))
        bench.run()
    text = render(bench, args)
    print()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / time.strftime("bench-%Y%m%d-%H%M%S.md")
    path.write_text(text)
    print(f"Saved to {path}")
