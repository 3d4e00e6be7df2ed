"""Login and registration are rate limited per client address; the errors module answers 429 with Retry-After."""

import re
import uuid

import pytest
import redis

from app import create_app
from app.extensions import db
from tests.conftest import config_for_tests
from tests.support.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = {"RATELIMIT_ENABLED": True, "ACCOUNT_RATE_LIMIT": "3 per minute"}


@pytest.fixture
def config_overrides():
    return dict(LIMIT)


@pytest.fixture
def another_client(tmp_path):
    """Return a function that builds another app on the same database (another worker, say) and its client."""
    apps = []

    def make(**settings):
        apps.append(create_app(config_for_tests(tmp_path, **settings)))
        return apps[-1].test_client()

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def wrong_login(client, **request_options):
    return client.post("/login", data={"username": "ann", "password": "wrong"}, **request_options)


def test_the_fourth_login_attempt_in_a_minute_is_refused_with_retry_after(client, make_user):
    make_user("ann")
    assert [wrong_login(client).status_code for _ in range(3)] == [200, 200, 200]

    refused = wrong_login(client)

    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert refused.mimetype == "text/html" and '<h1 class="h3">Too many attempts</h1>' in page
    assert re.search(r"Please wait \d+ seconds?, then try again\.", page)  # the wait of Retry-After
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_registration_is_limited_too(client):
    form = {"username": "", "email": "not-an-email", "password": "x", "password2": "y"}
    statuses = [client.post("/register", data=form).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_reading_the_forms_is_not_limited(client):
    form = {"username": "", "email": "not-an-email", "password": "x", "password2": "y"}
    for page in ("/login", "/register"):  # both submissions over their limit
        assert [client.post(page, data=form).status_code for _ in range(4)] == [200, 200, 200, 429], page

    assert {client.get(page).status_code for page in ["/login", "/register"] * 5} == {200}


def test_each_client_address_has_its_own_allowance(client, make_user):
    make_user("ann")
    for _ in range(4):
        wrong_login(client, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert wrong_login(client, environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 429
    assert wrong_login(client, environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 200


def test_an_api_client_gets_the_429_as_json(client):
    for _ in range(3):
        wrong_login(client)
    refused = wrong_login(client, headers={"Accept": "application/json"})
    assert refused.status_code == 429 and refused.json["code"] == 429
    assert "Retry-After" in refused.headers


@pytest.fixture
def redis_client():
    """The Redis server of this machine (started by .ci/run); a test that needs it fails if it is down."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


def test_limits_kept_in_redis_outlive_the_app_that_counted_them(another_client, make_user, redis_client):
    # A fresh app stands for another worker or host: with the in-memory default it would start from zero.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    settings = {**LIMIT, "RATELIMIT_STORAGE_URI": REDIS_URL}
    make_user("ann")
    first = another_client(**settings)
    assert [wrong_login(first, environ_base={"REMOTE_ADDR": address}).status_code for _ in range(3)] == [200] * 3

    second = another_client(**settings)

    assert wrong_login(second, environ_base={"REMOTE_ADDR": address}).status_code == 429
    keys = redis_client.keys(f"*{address}*")
    assert keys
    redis_client.delete(*keys)


def test_memory_limits_start_from_zero_in_a_fresh_app(another_client, make_user):
    make_user("ann")
    first = another_client(**LIMIT)
    assert [wrong_login(first).status_code for _ in range(4)] == [200, 200, 200, 429]
    second = another_client(**LIMIT)
    assert wrong_login(second).status_code == 200


class TestWhenOff:
    @pytest.fixture
    def config_overrides(self):
        return {}

    def test_the_test_suite_runs_without_limits_unless_a_test_turns_them_on(self, client):
        assert {wrong_login(client).status_code for _ in range(15)} == {200}


def test_with_the_shared_store_down_limits_count_per_worker_and_the_log_says_so(another_client, make_user, tmp_path):
    make_user("ann")
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = another_client(**LIMIT, SHARED_STORE_URL=down, LOG_IN_TESTS=True, LOG_DIR=str(tmp_path / "logs"))

    statuses = [wrong_login(client).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]  # still limited, in this worker's memory
    log = (tmp_path / "logs" / "microblog.log").read_text()
    assert log.count("flask-limiter: Rate limit storage unreachable - falling back to in-memory storage") == 1
