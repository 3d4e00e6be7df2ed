"""`flask errors find` for a request another host served: through the shared store (Redis), or naming the hosts.

Two apps in one process stand for two hosts: each with its own HOST_NAME and log folder, both on the same real
Redis under a key prefix of the test's own. tests/test_two_hosts.py does the same with two real gunicorn hosts.
"""

import json
import time
import uuid

from app import create_app
from app.observability.failures import DAYS, Failure, FailureStore, failure_store
from tests.conftest import REDIS, config_for_tests
from tests.support.alerting import alert_settings
from tests.support.faulty_views import add_faulty_views
from tests.support.secrets import PLANTED_DB_PASSWORD
from tests.support.waiting import wait_until


def host(tmp_path, name: str, smtp_port: int = 0, **settings):
    """Build the app as host `name` runs it: its own log folder and alert state, logging on, with /boom; with an
    SMTP server's port, alerts on (and so the fault list)."""
    folder = tmp_path / name
    if smtp_port:
        settings = alert_settings(folder, smtp_port, **settings)
    own = {"LOG_IN_TESTS": True, "LOG_DIR": str(folder / "logs"), "ALERT_STATE_PATH": str(folder / "state.sqlite3")}
    app = create_app(config_for_tests(folder, **{**own, **settings, "HOST_NAME": name}))
    add_faulty_views(app)
    return app


def find(app, request_id: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["errors", "find", request_id])
    return result.exit_code, result.output  # stdout and stderr


def test_find_on_one_host_shows_the_failed_request_of_another_and_names_it(tmp_path, redis_prefix, smtp):
    shared = {"SHARED_STORE_URL": REDIS, "SHARED_STORE_PREFIX": redis_prefix, "HOSTS": ["web-a", "web-b"]}
    web_a, web_b = host(tmp_path, "web-a", smtp[1], **shared), host(tmp_path, "web-b", smtp[1], **shared)
    reference = web_b.test_client().get("/boom").headers["X-Request-ID"]
    wait_until(lambda: failure_store(web_b.config).find(reference), what="the failure record in the shared store")

    code, output = find(web_a, reference)

    assert code == 0, output
    assert f"Request {reference}: 0 record(s) in 0 of" in output and "on this host (web-a)" in output
    assert "Failed on host web-b at " in output and "(shared store): GET /boom, fault " in output
    assert "Its log records and traceback are on web-b: run this command there." in output
    assert "RuntimeError: Kaboom" in output and PLANTED_DB_PASSWORD not in output  # scrubbed as the log is
    smtp[0].wait_for(1)  # the alert: the fault list has it
    code, output = find(web_a, reference)
    assert "RuntimeError at tests/support/faulty_views.py:boom:" in output and "host(s) web-b" in output


def test_find_on_the_host_that_served_it_shows_its_records_and_the_shared_one(tmp_path, redis_prefix):
    web_b = host(tmp_path, "web-b", SHARED_STORE_URL=REDIS, SHARED_STORE_PREFIX=redis_prefix)
    reference = web_b.test_client().get("/boom").headers["X-Request-ID"]
    wait_until(lambda: failure_store(web_b.config).find(reference), what="the failure record in the shared store")

    code, output = find(web_b, reference)

    assert code == 0, output
    assert "app: Exception on /boom [GET]" in output  # this host's own log record
    assert "Failed on host web-b" in output and "run this command there" not in output


def test_without_a_shared_store_find_names_the_other_hosts_to_search(tmp_path):
    web_a = host(tmp_path, "web-a", HOSTS=["web-a", "web-b", "web-c"])

    code, output = find(web_a, uuid.uuid4().hex)

    assert code == 1
    assert "This is web-a; another host may have served it: run this command on web-b, web-c." in output


def test_with_a_shared_store_an_unknown_reference_says_where_else_to_look(tmp_path, redis_prefix):
    web_a = host(tmp_path, "web-a", SHARED_STORE_URL=REDIS, SHARED_STORE_PREFIX=redis_prefix, HOSTS=["web-a", "web-b"])

    code, output = find(web_a, uuid.uuid4().hex)

    assert code == 1
    assert "Nor among the failed requests of every host in the shared store (kept 14 days)." in output
    assert "in the logs of the host that served it: web-b besides this one (web-a)." in output


def test_with_the_shared_store_down_find_says_so_and_still_reads_this_hosts_logs(tmp_path):
    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    web_a = host(tmp_path, "web-a", SHARED_STORE_URL=down, ALERT_STATE_URL="", RATELIMIT_STORAGE_URI="memory://")
    reference = web_a.test_client().get("/boom").headers["X-Request-ID"]

    code, output = find(web_a, reference)

    assert code == 0, output
    assert "(The shared store cannot be read: ConnectionError" in output
    assert "app: Exception on /boom [GET]" in output


def test_the_shared_store_keeps_a_bounded_number_of_failures_none_older_than_its_days(redis_prefix):
    store = FailureStore(REDIS, redis_prefix + "failures", kept=3)
    weeks_ago_ms = int((time.time() - (DAYS + 1) * 86400) * 1000)
    store.client.xadd(store.key, {"record": json.dumps(failure("old").__dict__)}, id=f"{weeks_ago_ms}-0")

    store.add([failure(f"r{n}") for n in range(5)])

    assert [store.find(f"r{n}") != [] for n in range(5)] == [False, False, True, True, True]
    assert store.find("old") == [] and store.client.xlen(store.key) == 3


def failure(request_id: str) -> Failure:
    return Failure(request_id, "web-a", time.time(), "GET", "/boom", "f1", "Exception on /boom [GET]")
