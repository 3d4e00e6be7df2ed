"""The load benchmark's own machinery, so `make bench` keeps working between the runs that matter."""

import collections
import http.server
import re
import subprocess
import sys
import threading

import psycopg
import pytest

from bench import bench, load
from tests.support.servers import ROOT, gunicorn
from tests.support.tools import require

POSTGRESQL_URL = bench.POSTGRESQL_URL

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:34331/nope
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.70ms    2.50ms  27.96ms   97.30%
    Req/Sec     1.42k   255.32     1.77k    60.00%
  Latency Distribution
     50%  850.00us
     75%    1.50ms
     90%    1.73ms
     99%   17.84ms
  2824 requests in 1.00s, 0.99MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 2824
Requests/sec:   2820.03
"""


def test_wrk_output_is_read_with_its_units_and_unexpected_answers():
    result = load.parse_wrk(WRK_OUTPUT, expect_ok=False)
    assert (result.requests, result.seconds, result.p50_ms, result.p99_ms) == (2824, 1.0, 0.85, 17.84)
    assert result.unexpected == 3  # the timeouts; every answer was the expected error status
    assert load.parse_wrk(WRK_OUTPUT, expect_ok=True).unexpected == 2824 + 3


@pytest.mark.slow
def test_the_python_load_generator_measures_a_real_server(tmp_path):
    with gunicorn(tmp_path, {}, workers=1, app="bench.bare_app:app") as server:
        result = load.run_threads(server.url + "/", 1.0, 4, {}, expect_ok=True)
        missing = load.run_threads(server.url + "/missing", 0.5, 2, {}, expect_ok=True)
    assert result.requests > 20 and result.unexpected == 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert missing.unexpected == missing.requests > 0


def test_wrk_sends_each_users_cookie_in_turn_and_counts_any_other_status(tmp_path):
    """A real wrk against a loopback server that answers 200 to two of three users and 302 to the third
    (a lost session): each cookie arrives, and the 302s are counted though wrk calls 3xx a success."""
    require("wrk")
    seen = collections.Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            cookie = self.headers.get("Cookie")
            seen[cookie] += 1
            self.send_response(302 if cookie == "session=lost" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        cookies = ["session=a", "session=b", "session=lost"]
        result = load.run_wrk(url, 1, 3, {"User-Agent": "bench"}, True, cookies, status=200)
    finally:
        server.shutdown()
        server.server_close()
    assert set(seen) == set(cookies), seen  # no request went without a user's cookie
    assert result.requests > 30
    assert abs(result.unexpected - seen["session=lost"]) <= 3  # the 302s, give or take requests cut at the end
    assert seen["session=lost"] > 0


def test_wrk_sends_each_user_to_their_own_path():
    """The deep pages of the grown site differ by user (each has a timeline of their own): with `paths`, each
    cookie goes with its own path, and only there."""
    require("wrk")
    seen = collections.Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen[(self.headers.get("Cookie"), self.path)] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        cookies, paths = ["session=a", "session=b"], ["/?before=1.2", "/?before=3.4"]
        result = load.run_wrk(url, 1, 2, {"User-Agent": "bench"}, True, cookies, status=200, paths=paths)
    finally:
        server.shutdown()
        server.server_close()
    assert set(seen) == {("session=a", "/?before=1.2"), ("session=b", "/?before=3.4")}, seen
    assert result.requests > 30 and result.unexpected == 0


@pytest.mark.slow
def test_a_short_benchmark_run_prints_every_row_and_target(tmp_path, capsys):
    """Every row runs for real: SQLite, this machine's PostgreSQL (a database of the run's own, dropped after),
    nginx with the committed site file, a grown site with its pages some way back, and both storms."""
    bench.main(
        ["--duration=1", "--users=5", "--posts=200", "--follows=2", "--growth-posts=3000", "--pages-back=3",
         f"--results={tmp_path}", f"--postgresql-url={POSTGRESQL_URL}"]
    )  # fmt: skip
    table = capsys.readouterr().out
    assert "Partial run" not in table
    rows = {
        cells[0]: cells
        for cells in (line.strip("| ").split(" | ") for line in table.splitlines() if line.startswith("| "))
    }
    pages = [cells for cells in rows.values() if len(cells) == 12 and cells[0] != "page"]
    assert len(pages) == len(bench.ROWS)
    for cells in pages:
        assert cells[-1] == "0", f"{cells[0]} got answers it should not have"
    assert rows["home timeline"][1] == "5 logged in" and rows["404 page, anonymous"][1] == "anonymous"
    assert rows["home timeline, one user's cookie"][1] == "1 logged in"
    assert "nginx" in rows["home timeline behind nginx"][7]  # nginx's own CPU beside the workers'
    assert rows["logged-in pages keep their session cookie"][1:] == ["kept", "met"]
    assert int(rows["error storm, SMTP relay working"][-2]) >= 1  # the relay received the alert
    assert rows["error storm, SMTP relay a black hole"][-2] == "0"
    for storm in ("error storm, SMTP relay working", "error storm, SMTP relay a black hole"):
        assert rows[f"{storm}: a reference from its middle found by flask errors find"][1:] == ["found", "met"]
    assert "home timeline, 3,000 posts, 3 pages back: p50 at most 1.3 × the first page's" in rows
    assert "home behind nginx: at least 0.8 × home without it" in rows
    memory = next(line for line in table.splitlines() if line.startswith("Peak RSS of a worker (VmHWM)"))
    for server in ("site", "growth", "pg_site", "storm_relay", "storm_hole"):
        assert re.search(rf"\b{server} \d+\.\d MB \(\d+\.\d MB\)", memory)
    assert list(tmp_path.glob("bench-*.md"))
    # Its own database, by name: a run beside it (CI's other pass) has one of its own on the same server.
    own = re.search(r"seeded PostgreSQL database (microblog_bench_\w+) ", table).group(1)
    assert own not in bench_databases(), "the run left its PostgreSQL database behind"


def bench_databases() -> set[str]:
    """The benchmark's databases on the server (one a killed run left stays a day; the next run drops it)."""
    with psycopg.connect(POSTGRESQL_URL.replace("+psycopg", ""), autocommit=True) as server:
        names = server.execute("SELECT datname FROM pg_database WHERE datname LIKE 'microblog_bench_%'").fetchall()
    return {name for (name,) in names}


@pytest.mark.slow
def test_the_profile_tool_measures_each_page_as_a_logged_in_user():
    # Its own process, as it is run: the app reads its settings from the environment at import.
    command = [sys.executable, "-m", "bench.profile", "/", "/no/such/page", "--requests=5"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120).stdout
    # 200: logged in, not sent to /login
    assert re.search(r"^/ \(200\): \d+\.\d\d ms of CPU a request", out, re.MULTILINE)
    assert re.search(r"^/no/such/page \(404\): \d+\.\d\d ms", out, re.MULTILINE)
