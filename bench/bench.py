"""`make bench`: seed SQLite, serve it with gunicorn (2 workers), load each page, print the table.

Usage: python -m bench [--users 50] [--posts 1000] [--follows 10] [--growth-posts 100000]
                       [--duration 10] [--connections 16] [--skip-growth]
                       [--only bare,404,storm_relay,storm_hole]
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
from tests.support.servers import ROOT, Server, gunicorn

RESULTS = ROOT / "bench" / "results"
WORKERS = 2
ADMIN = "oncall@example.com"
ROWS = ("bare", "home", "growth", "explore", "profile", "profile2", "404", "storm_relay", "storm_hole")


@dataclass
class Row:
    name: str
    result: load.LoadResult
    log_bytes: int = 0
    mails: int | None = None


@dataclass
class Bench:
    """One benchmark run: its settings, its scratch folder and what it measured."""

    args: argparse.Namespace
    folder: Path
    rows: dict[str, Row] = field(default_factory=dict)
    memory_mb: dict[str, tuple[float, float]] = field(default_factory=dict)  # server: (peak, at the end)

    def measure(self, server: Server, key: str, name: str, path: str, status: int, log_dir: Path, headers=None):
        """Check `path` answers `status`, warm up, then load it and record the row."""
        if not self.wanted(key):
            return
        headers = headers or {}
        url = server.url + path
        answered = site.status_of(url, headers)
        if answered != status:
            raise SystemExit(f"{name}: {path} answered {answered}, expected {status}; see {server.output_path}")
        load.run_threads(url, min(2.0, self.args.duration / 5), self.args.connections, headers, status < 400)  # warm-up
        logged_before = site.bytes_in(log_dir)
        result = load.drive(url, self.args.duration, self.args.connections, headers, status < 400)
        self.rows[key] = Row(name, result, log_bytes=site.bytes_in(log_dir) - logged_before)
        print(f"  {name}: {result.rate:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms", flush=True)

    def wanted(self, key: str) -> bool:
        return key in self.args.only

    def serve(self, name: str, env: dict[str, str], app: str = "microblog:app"):
        (self.folder / name).mkdir(exist_ok=True)
        return gunicorn(self.folder / name, env, workers=WORKERS, app=app)

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
        with self.serve("bare", {}, app="bench.bare_app:app") as server:
            self.measure(server, "bare", "bare Flask page (3 KB)", "/", 200, self.folder / "bare-logs")

    def run_site(self, database: Path, grown: Path | None) -> None:
        log_dir = self.folder / "site-logs"
        with self.serve("small", site.app_env(database, log_dir)) as server:
            cookie = {"Cookie": site.log_in(server.url, "demo1")}
            author, _ = site.most_prolific_user(database)
            self.measure(server, "home", "home timeline (logged in)", "/", 200, log_dir, cookie)
            if grown:
                self.run_growth(grown)  # right after the small case, so both meet the same load on the machine
            self.measure(server, "explore", "explore", "/explore", 200, log_dir)
            self.measure(server, "profile", "profile", f"/user/{author}", 200, log_dir)
            self.measure(server, "profile2", "profile page 2", f"/user/{author}?page=2", 200, log_dir)
            self.measure(server, "404", "404 page", "/no/such/page", 404, log_dir)
            self.record_memory("site", server)

    def run_storm(self, database: Path, key: str, name: str, relay) -> None:
        if not self.wanted(key):
            return
        log_dir = self.folder / f"{key}-logs"
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(relay.port), "ADMINS": ADMIN, "MAIL_TIMEOUT": "5"}
        mail["ALERT_STATE_PATH"] = str(self.folder / f"{key}-alert-state.sqlite3")  # each storm starts ungrouped
        with self.serve(key, site.app_env(database, log_dir, **mail), app="bench.faulty_app:app") as server:
            self.measure(server, key, name, "/explore", 500, log_dir)
            self.record_memory(key, server)
        relay.wait_until_quiet()
        self.rows[key].mails = relay.mails_received

    def run_growth(self, database: Path) -> None:
        log_dir = self.folder / "growth-logs"
        with self.serve("large", site.app_env(database, log_dir)) as server:
            cookie = {"Cookie": site.log_in(server.url, "demo1")}
            name = f"home timeline, {self.args.growth_posts:,} posts"
            self.measure(server, "growth", name, "/", 200, log_dir, cookie)
            self.record_memory("growth", server)

    def run(self) -> None:
        self.run_bare()
        database = self.database("small", self.args.posts)
        grown = self.database("growth", self.args.growth_posts) if self.wanted("growth") else None
        if {"home", "growth", "explore", "profile", "profile2", "404"} & self.args.only:
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
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the saved table")
    parser.add_argument("--only", type=rows_named, default=",".join(ROWS), help="rows to run, comma-separated")
    args = parser.parse_args(argv)
    if args.skip_growth:
        args.only.discard("growth")
    args.only.add("bare")  # every ratio is to the bare page of the same run
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
    """Render the full report, or for a partial run (--only) the rows and the error targets it measured."""
    if set(ROWS) - {"growth"} <= args.only:
        return report.render(bench.rows, bench.memory_mb, args, machine(), load.generator_name())
    lines = [f"Partial run ({', '.join(bench.rows)}) on {machine()}.", "", *report.results_table(bench.rows)]
    if {"404", "storm_relay", "storm_hole"} <= bench.rows.keys():
        lines += ["", "| target | measured | verdict |", "|---|---:|---|"]
        for target, measured, met in report.error_checks(bench.rows):
            lines.append(f"| {target} | {measured} | {'met' if met else '**NOT met**'} |")
    return "\n".join(lines) + "\n"


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
