"""Where a page's time goes, inside one process: worker CPU per request and, with --profile, the top calls.

Usage: python -m bench.profile [/ /explore /user/demo7 /no/such/page] [--requests 400] [--profile]
                               [--postgresql-url postgresql+psycopg://postgres@127.0.0.1/postgres]
(PROFILE_SORT=tottime sorts the profile by time spent in each function itself.)

It seeds a fresh SQLite file (or a PostgreSQL database of its own, dropped at the end) as `make bench` does,
logs demo1 in through the real form with the Flask test client (no gunicorn, no sockets: the app's own cost),
and measures the thread CPU time of each request; a quiet figure on a shared machine, unlike wall time.
"""

import argparse
import atexit
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from bench import site
from tests.support.visitor import csrf_token

DEFAULT_PATHS = ("/", "/explore", "/user/demo1", "/no/such/page")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", action="store_true", help="print the 30 costliest calls of each page")
    parser.add_argument("--postgresql-url", help="profile on a database of its own on this PostgreSQL server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="microblog-profile-") as folder:
        if args.postgresql_url:
            from tests.support.postgres import create_own_database, drop_database

            admin, name, database = create_own_database(args.postgresql_url, "microblog_bench_")
            atexit.register(drop_database, admin, name)
        else:
            database = Path(folder) / "microblog.db"
        site.seed_database(database, users=50, posts=1000, follows=10, folder=Path(folder))
        os.environ.update(site.app_env(database, Path(folder) / "logs"))
        from app import create_app  # after the settings are in the environment

        client = create_app().test_client()
        client.environ_base["HTTP_USER_AGENT"] = site.USER_AGENT
        form = {"username": "demo1", "password": site.DEMO_PASSWORD, "csrf_token": csrf_token(login_page(client))}
        client.post("/login", data=form)
        for path in args.paths:
            measure(client, path, args.requests, args.profile)


def login_page(client) -> str:
    return client.get("/login").get_data(as_text=True)


def measure(client, path: str, requests: int, profile: bool) -> None:
    status = client.get(path).status_code
    for _ in range(50):  # warm up: compiled templates, cached statements
        client.get(path)
    started = time.thread_time()
    for _ in range(requests):
        client.get(path)
    cpu_ms = (time.thread_time() - started) / requests * 1000
    print(f"{path} ({status}): {cpu_ms:.2f} ms of CPU a request, {requests} requests", flush=True)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            client.get(path)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(30)


if __name__ == "__main__":
    main()
