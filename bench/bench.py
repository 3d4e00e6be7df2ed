"""`make bench`: serve the site with gunicorn (2 workers) on SQLite, PostgreSQL and behind nginx, load each page,
print the table.

Usage: python -m bench [--users 50] [--posts 1000] [--follows 10] [--growth-posts 1000000]
                       [--logged-in 50] [--duration 10] [--connections 16] [--skip-growth]
                       [--postgresql-url URL] [--only bare,home,pg_home,nginx_home,growth_home,...]

Pages are loaded the way people load the site: many users, each logged in once through the real
form with one browser (a stable session cookie, checked), requests taking their cookies in turn.
Each row's floor is a bare Flask page served the same way: directly, from the same database, behind nginx.
"""

import argparse
import os
import platform
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import load, report, site
from bench.relays import BlackHoleRelay, WorkingRelay
from tests.support import tools
from tests.support.nginx import Nginx, nginx
from tests.support.servers import ROOT, Server, free_port, gunicorn

RESULTS = ROOT / "bench" / "results"
WORKERS = 2
ADMIN = "oncall@example.com"
POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BEHIND_NGINX = {"PROXY_FIX_X_FOR": "1", "PROXY_FIX_X_PROTO": "1", "PROXY_FIX_X_HOST": "1"}
ROWS = (
    "bare",
    "bare404",
    "home",
    "one_user",
    "explore",
    "profile",
    "profile2",
    "404",
    "explore_anon",
    "404_anon",
    "nginx_bare",
    "nginx_home",
    "pg_bare",
    "pg_home",
    "pg_explore",
    "pg_profile",
    "growth_home",
    "growth_home_deep",
    "growth_explore",
    "growth_explore_deep",
    "growth_profile",
    "growth_profile_deep",
    "storm_relay",
    "storm_hole",
)
SITE_ROWS = {"home", "one_user", "explore", "profile", "profile2", "404", "explore_anon", "404_anon", "nginx_home"}
GROWTH_ROWS = {key for key in ROWS if key.startswith("growth")}
PG_ROWS = {key for key in ROWS if key.startswith("pg_")}


@dataclass
class Row:
    name: str
    result: load.LoadResult
    log_bytes: int = 0
    mails: int | None = None
    users: int = 0  # logged-in users whose cookies the load took in turn; 0 for anonymous
    resets_cookie: bool = False  # the answer carried a Set-Cookie: a session that is re-written on every request
    worker_cpu_ms: float = 0.0  # the workers' CPU time a request: a quieter figure than req/s on a shared machine
    found_midway: bool | None = None  # a storm's reference taken halfway was found by `flask errors find`
    proxy_cpu_ms: float | None = None  # nginx's workers' CPU time a request, for the rows loaded through it


@dataclass
class Bench:
    """One benchmark run: its settings, its scratch folder and what it measured."""

    args: argparse.Namespace
    folder: Path
    rows: dict[str, Row] = field(default_factory=dict)
    memory_mb: dict[str, tuple[float, float]] = field(default_factory=dict)  # server: (peak, at the end)
    left_out: dict[str, str] = field(default_factory=dict)  # rows not run: why

    def measure(self, server: Server, key: str, name: str, path: str, status: int, log_dir: Path, cookies=(), *,
                proxy: Nginx | None = None, paths=(), midway=None):  # fmt: skip
        """Check `path` answers `status` (as each user, at each user's own path of `paths`), warm up, then load it
        and record the row. `proxy`: nginx in front of the server, loaded instead of it (its CPU is counted); `midway`:
        something to do halfway through the load (take a reference from the middle of a storm)."""
        if not self.wanted(key):
            return
        base = proxy.https_url if proxy else server.url
        headers = {"User-Agent": site.USER_AGENT}
        url = base + path
        resets_cookie = False
        for n, cookie in enumerate(cookies or [None]):
            at = base + paths[n] if paths else url
            answered, set_cookie = site.probe(at, {**headers, "Cookie": cookie} if cookie else headers)
            if answered != status:
                raise SystemExit(f"{name}: {at} answered {answered}, expected {status}; see {server.output_path}")
            resets_cookie |= bool(cookie and set_cookie)
        warm_up = min(2.0, self.args.duration / 5)
        load.run_threads(url, warm_up, self.args.connections, headers, status < 400, cookies, paths=paths)
        logged_before = site.bytes_in(log_dir)
        cpu_before = site.workers_cpu_seconds(server.process.pid)
        proxy_cpu_before = site.workers_cpu_seconds(proxy.master_pid()) if proxy else 0.0
        halfway = threading.Timer(self.args.duration / 2, midway or (lambda: None))
        halfway.start()
        result = load.drive(url, self.args.duration, self.args.connections, headers, status, cookies, paths)
        cpu_ms = (site.workers_cpu_seconds(server.process.pid) - cpu_before) * 1000 / max(result.requests, 1)
        proxy_ms = (
            (site.workers_cpu_seconds(proxy.master_pid()) - proxy_cpu_before) * 1000 / max(result.requests, 1)
            if proxy
            else None
        )
        logged = site.bytes_in(log_dir) - logged_before
        halfway.join()
        self.rows[key] = Row(name, result, logged, users=len(cookies), resets_cookie=resets_cookie,
                             worker_cpu_ms=cpu_ms, proxy_cpu_ms=proxy_ms)  # fmt: skip
        print(
            f"  {name}: {result.rate:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"worker CPU {cpu_ms:.2f} ms a request" + (f", nginx's {proxy_ms:.2f} ms" if proxy else ""),
            flush=True,
        )

    def wanted(self, key: str) -> bool:
        return key in self.args.only and key not in self.left_out

    def serve(self, name: str, env: dict[str, str], app: str = "microblog:app", port: int | None = None):
        (self.folder / name).mkdir(exist_ok=True)
        return gunicorn(self.folder / name, env, workers=WORKERS, app=app, port=port)

    def behind_nginx(self, name: str, server: Server):
        """Run nginx with the committed site file in front of `server` (tests/support/nginx.py)."""
        folder = self.folder / f"nginx-{name}"
        (folder / "pages").mkdir(parents=True)
        return nginx(folder, int(server.url.rsplit(":", 1)[1]), folder / "pages")

    def record_memory(self, name: str, server: Server) -> None:
        self.memory_mb[name] = site.workers_memory_mb(server.process.pid)

    def database(self, name: str, posts: int) -> Path:
        path = self.folder / name / "microblog.db"
        path.parent.mkdir(parents=True)
        started = time.monotonic()
        site.seed_database(path, self.args.users, posts, self.args.follows, path.parent)
        print(f"seeded {name}: {self.args.users} users, {posts:,} posts in {time.monotonic() - started:.0f} s")
        return path

    def run_bare(self) -> None:
        """The floor: a bare Flask app under the same gunicorn settings (the project's gunicorn.conf.py)."""
        with self.serve("bare", {}, app="bench.bare_app:app") as server:
            self.measure(server, "bare", "bare Flask page (3 KB)", "/", 200, self.folder / "bare-logs")
            self.measure(server, "bare404", "bare Flask 404", "/no/such/page", 404, self.folder / "bare-logs")
            if self.wanted("nginx_bare"):
                with self.behind_nginx("bare", server) as proxy:
                    name = "bare Flask page behind nginx"
                    self.measure(server, "nginx_bare", name, "/", 200, self.folder / "bare-logs", proxy=proxy)

    def run_site(self, database: Path, grown: Path | None) -> None:
        """The small site's pages; the grown site's and nginx's rows right after the pages they compare with, so that
        both meet the same load on the machine."""
        log_dir = self.folder / "site-logs"
        with self.serve("small", site.app_env(database, log_dir, **BEHIND_NGINX)) as server:
            users = site.log_in_many(server.url, self.logged_in)
            author, _ = site.most_prolific_user(database)
            self.measure(server, "home", "home timeline", "/", 200, log_dir, users)
            if self.wanted("nginx_home"):
                with self.behind_nginx("site", server) as proxy:
                    name = "home timeline behind nginx"
                    self.measure(server, "nginx_home", name, "/", 200, log_dir, users, proxy=proxy)
            self.measure(server, "explore", "explore", "/explore", 200, log_dir, users)
            self.measure(server, "profile", "profile", f"/user/{author}", 200, log_dir, users)
            if grown:
                self.run_growth(grown)
            if self.wanted("one_user"):  # as a harness that logs one user in and keeps the login's own cookie
                kept = [site.log_in(server.url, "demo1", follow=False)]
                self.measure(server, "one_user", "home timeline, one user's cookie", "/", 200, log_dir, kept)
            if self.wanted("profile2"):  # the page its Older link leads to
                older = site.older_page(server.url, f"/user/{author}", users[0])
                self.measure(server, "profile2", "profile page 2", older, 200, log_dir, users)
            self.measure(server, "404", "404 page", "/no/such/page", 404, log_dir, users)
            self.measure(server, "explore_anon", "explore, anonymous", "/explore", 200, log_dir)
            self.measure(server, "404_anon", "404 page, anonymous", "/no/such/page", 404, log_dir)
            self.record_memory("site", server)

    @property
    def logged_in(self) -> int:
        return min(self.args.logged_in, self.args.users)

    def run_postgresql(self) -> None:
        """The bare page from the database and the site's pages, on a PostgreSQL database of this run's own."""
        from tests.support.postgres import create_own_database, drop_database

        try:
            admin, name, url = create_own_database(self.args.postgresql_url, "microblog_bench_")
        except Exception as error:  # no server here: the table says which rows are missing and why
            self.leave_out(PG_ROWS, f"PostgreSQL at {self.args.postgresql_url} did not answer ({error})")
            return
        try:
            started = time.monotonic()
            folder = self.folder / "postgresql"
            folder.mkdir()
            site.seed_database(url, self.args.users, self.args.posts, self.args.follows, folder)
            print(f"seeded PostgreSQL database {name} (dropped at the end): {self.args.users} users, "
                  f"{self.args.posts:,} posts in {time.monotonic() - started:.0f} s")  # fmt: skip
            self.run_postgresql_rows(url)
        finally:
            drop_database(admin, name)

    def run_postgresql_rows(self, url: str) -> None:
        log_dir = self.folder / "pg-logs"
        with self.serve("pg-bare", {"DATABASE_URL": url}, app="bench.bare_app:app") as server:
            self.measure(server, "pg_bare", "bare Flask page, one PostgreSQL read", "/db", 200, log_dir)
        with self.serve("pg-site", site.app_env(url, log_dir)) as server:
            users = site.log_in_many(server.url, self.logged_in)
            author, _ = site.most_prolific_user(url)
            self.measure(server, "pg_home", "home timeline, PostgreSQL", "/", 200, log_dir, users)
            self.measure(server, "pg_explore", "explore, PostgreSQL", "/explore", 200, log_dir, users)
            self.measure(server, "pg_profile", "profile, PostgreSQL", f"/user/{author}", 200, log_dir, users)
            self.record_memory("pg_site", server)

    def leave_out(self, keys: set[str], reason: str) -> None:
        print(f"  left out {', '.join(sorted(keys & self.args.only))}: {reason}", flush=True)
        self.left_out.update({key: reason for key in keys & self.args.only})

    def run_storm(self, database: Path, key: str, name: str, relay) -> None:
        if not self.wanted(key):
            return
        log_dir = self.folder / f"{key}-logs"
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(relay.port), "ADMINS": ADMIN, "MAIL_TIMEOUT": "5"}
        mail["ALERT_STATE_PATH"] = str(self.folder / f"{key}-alert-state.sqlite3")  # each storm starts ungrouped
        port = free_port()
        mail["SITE_URL"] = f"http://127.0.0.1:{port}"  # required with mail in production (gunicorn's default)
        env = site.app_env(database, log_dir, **mail)
        references = []
        with self.serve(key, env, app="bench.faulty_app:app", port=port) as server:

            def take_a_reference():
                references.append(site.reference_of(server.url + "/explore"))

            self.measure(server, key, name, "/explore", 500, log_dir, midway=take_a_reference)
            self.record_memory(key, server)
        relay.wait_until_quiet()
        self.rows[key].mails = relay.mails_received
        self.rows[key].found_midway = bool(references) and site.errors_find(env, references[0])

    def run_growth(self, database: Path) -> None:
        """Home, explore and the star's profile on the grown site: the first page and one --pages-back pages back."""
        log_dir = self.folder / "growth-logs"
        with self.serve("large", site.app_env(database, log_dir)) as server:
            users = site.log_in_many(server.url, self.logged_in)
            star = f"demo{self.args.growth_users}"
            for key, name, path in (
                ("growth_home", "home timeline", "/"),
                ("growth_explore", "explore", "/explore"),
                ("growth_profile", "profile of a user with 10,000 followers", f"/user/{star}"),
            ):
                name = f"{name}, {self.args.growth_posts:,} posts"
                self.measure(server, key, name, path, 200, log_dir, users)
                if self.wanted(key + "_deep"):
                    back = self.args.pages_back
                    deep = [site.page_back(server.url, path, cookie, back) for cookie in users]
                    deep_name = f"{name}, {back:,} pages back"
                    self.measure(server, key + "_deep", deep_name, path, 200, log_dir, users, paths=deep)
            self.record_memory("growth", server)

    def grown_database(self) -> Path:
        path = self.folder / "growth" / "microblog.db"
        path.parent.mkdir(parents=True)
        started = time.monotonic()
        site.grow_database(path, self.args, path.parent)
        print(f"grew the large site: {self.args.growth_users:,} users, {self.args.growth_posts:,} posts in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        return path

    def run(self) -> None:
        if not os.access(tools.PROGRAMS["nginx"][0], os.X_OK):
            self.leave_out({"nginx_bare", "nginx_home"}, "nginx is not installed (apt-get install nginx)")
        self.run_bare()
        database = self.database("small", self.args.posts)
        grown = self.grown_database() if GROWTH_ROWS & self.args.only else None
        if (SITE_ROWS | GROWTH_ROWS) & self.args.only:
            self.run_site(database, grown)
        if PG_ROWS & self.args.only:
            self.run_postgresql()
        with WorkingRelay() as relay:
            self.run_storm(database, "storm_relay", "error storm, SMTP relay working", relay)
        with BlackHoleRelay() as relay:
            self.run_storm(database, "storm_hole", "error storm, SMTP relay a black hole", relay)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--follows", type=int, default=10, help="users each user follows")
    parser.add_argument("--growth-posts", type=int, default=1_000_000)
    parser.add_argument("--pages-back", type=int, default=1000, help="how far back the grown site's deep pages are")
    parser.add_argument("--logged-in", type=int, default=50, help="users logged in for the load (at most --users)")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgresql-url", default=os.environ.get("BENCH_POSTGRESQL_URL", POSTGRESQL_URL),
                        help="a server where the run makes (and drops) a database of its own")  # fmt: skip
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the saved table")
    parser.add_argument("--only", type=rows_named, default=",".join(ROWS), help="rows to run, comma-separated")
    args = parser.parse_args(argv)
    if args.skip_growth:
        args.only -= GROWTH_ROWS
    args.only |= {"bare", "bare404"}  # every ratio is to the bare app of the same run
    # The grown site: 10,000 followers of the star and the star (fewer in a short run), the star writing 3% of the
    # posts (30,000 of a million: 1,200 pages), each logged-in user following 1,000 accounts.
    args.growth_users = min(10_000, max(args.growth_posts // 100, min(args.logged_in, args.users) + 1)) + 1
    args.star_posts = max(1, args.growth_posts * 3 // 100)
    args.growth_follows = min(1000, args.growth_users - 1)
    args.only |= {"home"} if GROWTH_ROWS & args.only else set()  # the grown site's rows compare with the small's
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
    skipped = ROWS if not args.skip_growth else [key for key in ROWS if key not in GROWTH_ROWS]
    if missing := [key for key in skipped if key not in bench.rows]:
        reasons = "".join(f"\n- {key}: {why}" for key, why in bench.left_out.items())
        text = f"Partial run: without {', '.join(missing)}.{reasons}\n" + text
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    print(
        f"Microblog benchmark: gunicorn {WORKERS} workers, {args.connections} connections, "
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
