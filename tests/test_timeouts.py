"""The timeout ladder (app/ops/timeouts.py), the request deadline in process (app/ops/deadline.py), and the proxy's
pages."""

import io
import logging
import re
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ops.timeouts import Ladder, derive

UNSET = {"REQUEST_TIMEOUT": None, "DATABASE_TIMEOUT": None, "PROXY_READ_TIMEOUT": 35.0}


@pytest.mark.parametrize(
    ("worker", "expected"),
    [(30, Ladder(12.5, 25.0, 30.0, 35.0)), (3, Ladder(1.0, 2.0, 3.0, 35.0)), (None, Ladder(5.0, 0.0, 0.0, 35.0))],
)
def test_unset_rungs_are_derived_from_gunicorns_timeout(worker, expected):
    assert derive(UNSET, worker) == expected
    assert expected.problems() == []


def test_a_setting_that_breaks_the_ladder_is_named():
    ladder = derive({**UNSET, "DATABASE_TIMEOUT": 3.0, "PROXY_READ_TIMEOUT": 20.0}, 30)
    assert ladder.problems() == [
        "gunicorn's timeout (30 s) is not shorter than PROXY_READ_TIMEOUT (20 s)",
    ]
    assert derive({**UNSET, "DATABASE_TIMEOUT": 4.0}, 3).problems() == [
        "DATABASE_TIMEOUT (4 s) is not shorter than REQUEST_TIMEOUT (2 s)"
    ]


@pytest.fixture
def config_overrides():
    return {
        "REQUEST_TIMEOUT": 0.3,
        "DATABASE_TIMEOUT": 0.2,
        "RETRY_AFTER": 7,
        "PROXY_FIX_X_FOR": 1,
    }  # sets X-Request-ID


@pytest.fixture
def looping_view(app):
    def loop():
        while True:
            time.sleep(0.01)

    app.add_url_rule("/loop", "loop", loop)


def test_a_request_past_its_deadline_is_a_503_page_with_retry_after(client, looping_view, caplog):
    started = time.monotonic()
    response = client.get("/loop", headers={"X-Request-ID": "deadline-1"})

    assert time.monotonic() - started < 2
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    assert "took too long" in response.text and "deadline-1" in response.text
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == "Request deadline of 0.3 s exceeded on GET /loop"
    assert client.get("/explore").status_code == 200  # the next request is served normally


class SlowBody(io.BytesIO):
    """A request body that arrives a byte at a time, `pause` seconds apart, as from a client on a bad line.

    In process, the test client reads the body from this; tests/faults/test_worker_failures.py sends one slowly
    over a real socket to gunicorn.
    """

    def __init__(self, data: bytes, pause: float):
        super().__init__(data)
        self.pause = pause

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(self.pause)
        return super().read(min(size, 1) if size is not None and size >= 0 else 1)

    def readinto(self, buffer) -> int:
        time.sleep(self.pause)
        return super().readinto(memoryview(buffer)[:1])


def post_slowly(client, path: str, body: bytes, pause: float, request_id: str):
    return client.post(path, input_stream=SlowBody(body, pause), content_type="application/x-www-form-urlencoded",
                       headers={"X-Request-ID": request_id, "Accept": "text/html"})  # fmt: skip


def test_a_body_that_does_not_arrive_in_half_the_deadline_is_a_408_logged_at_info(client, caplog):
    caplog.set_level(logging.INFO, logger="app")
    started = time.monotonic()
    response = post_slowly(client, "/login", b"username=slow&password=" + b"x" * 20, 0.05, "slow-1")

    assert time.monotonic() - started < 0.3  # half the deadline (0.15 s), not the whole body's 2 s
    assert response.status_code == 408 and "What you sent arrived too slowly" in response.text
    assert "slow-1" in response.text
    [record] = [r for r in caplog.records if r.name == "app"]
    assert record.levelname == "INFO"
    assert record.getMessage() == "Request body too slow on POST /login: not all of its 43 bytes arrived within 0.15 s"


def test_once_the_body_is_in_the_view_keeps_the_rest_of_its_deadline(app, client, caplog):
    def loop():
        while True:
            time.sleep(0.01)

    app.add_url_rule("/loop", "loop_post", loop, methods=["POST"])

    started = time.monotonic()
    response = post_slowly(client, "/loop", b"a=1", 0.02, "in-time")  # 0.06 s, within the body's 0.15 s

    assert response.status_code == 503 and time.monotonic() - started < 1
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == "Request deadline of 0.3 s exceeded on POST /loop"


def test_the_database_waits_at_most_the_ladders_lowest_rung(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA busy_timeout")).scalar() == 200
        else:
            assert db.session.execute(sa.text("SHOW statement_timeout")).scalar() == "200ms"


def test_flask_errors_pages_writes_self_contained_pages(runner, tmp_path):
    result = runner.invoke(args=["errors", "pages", str(tmp_path / "pages")])

    assert result.exit_code == 0, result.output
    for code in (502, 503, 504):
        page = (tmp_path / "pages" / f"{code}.html").read_text()
        assert f"Error {code}" not in page and '<!--# echo var="request_id" default="-" -->' in page
        assert re.search(r"<title>[^<]+ · Microblog</title>", page)
        assert "<script" not in page and "<link" not in page and "sourceMappingURL" not in page
        assert ".navbar" in page  # Bootstrap's CSS, inline
