"""The request a worker publishes in its slot, in this process as gunicorn's workers do (tests/faults and
tests/test_gunicorn.py run it under real gunicorn)."""

import json
import logging
import os
import urllib.parse

import pytest

from app import create_app
from app.observability import inflight
from tests.conftest import config_for_tests


@pytest.fixture
def publishing(tmp_path, monkeypatch):
    """An app that publishes into tmp_path/slots, as gunicorn.conf.py sets it up for its workers; its /echo
    view answers with the request it published."""
    folder = tmp_path / "slots"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv(inflight.DIRECTORY_ENV, str(folder))
    monkeypatch.setattr(inflight, "_slot", {})  # this process opens its slot afresh, in this folder
    app = create_app(config_for_tests(tmp_path))
    app.add_url_rule("/echo/<path:word>", "echo", lambda word: inflight.current_request() or {})
    return app, folder


def test_a_long_non_ascii_path_is_cut_and_the_record_still_parses(publishing):
    app, _ = publishing
    path = "/echo/" + "\u00e9" * 1000

    published = app.test_client().get(urllib.parse.quote(path), headers={"X-Request-ID": "long"}).get_json()

    assert published["path"].startswith("/echo/\u00e9\u00e9") and published["path"].endswith("\u2026")
    assert published["method"] == "GET" and published["request_id"] and published["user"] == "anonymous"
    assert len(json.dumps(published)) < inflight.SLOT_SIZE


def test_a_link_planted_at_the_slots_path_is_not_followed(publishing, tmp_path, caplog):
    app, folder = publishing
    target = tmp_path / "elsewhere.txt"
    inflight.slot_path(folder, os.getpid()).symlink_to(target)

    with caplog.at_level(logging.WARNING, logger="app"):
        answer = app.test_client().get("/echo/word")

    assert answer.status_code == 200 and answer.get_json() == {}  # served, without publishing
    assert not target.exists()
    assert any("not publishing" in record.getMessage().lower() for record in caplog.records)
