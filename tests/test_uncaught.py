"""Errors outside requests: a failing `flask` command and a failing background thread are logged in the
app's format and alerted once, scrubbed, like a failing request."""

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app import create_app
from config import Config
from tests.conftest import config_for_tests
from tests.support.alerting import alert_settings, subject
from tests.support.secrets import PLANTED_DB_PASSWORD, PLANTED_PASSWORD
from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.slow
FLASK = Path(sys.executable).with_name("flask")


def test_a_failing_flask_command_is_logged_and_alerted_once(tmp_path, smtp):
    inbox, port = smtp
    env = {**os.environ, "FLASK_APP": "microblog.py", "FLASK_DEBUG": "0",
           "SECRET_KEY": "cli-test-secret-key-0123456789abcdef",
           "DATABASE_URL": f"postgresql://app:{PLANTED_DB_PASSWORD}@127.0.0.1:{free_port()}/microblog",
           "LOG_DIR": str(tmp_path / "logs"), "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
           "ADMINS": "ops@example.com", "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3")}  # fmt: skip

    result = subprocess.run([str(FLASK), "seed", "--users", "1"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip

    assert result.returncode != 0
    log = (tmp_path / "logs" / "microblog.log").read_text()
    assert (
        f"ERROR {Config.HOST_NAME} [-] app: Uncaught OperationalError: (psycopg.OperationalError) connection failed"
        in log
    )
    assert "in seed\n" in log  # the traceback, down to the command
    [mail] = inbox.exactly(1)  # the command has exited: it sent what it was going to send
    assert mail["Subject"].startswith(subject("OperationalError: "))
    assert PLANTED_DB_PASSWORD not in log + mail.get_content() + mail["Subject"]


def fail_in_a_thread(tmp_path: Path, port: int) -> None:
    """In a process of its own: a background thread of the app fails; flush the alert as at exit."""
    app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, port)))

    def sync_feeds():
        raise ValueError(f"feed refused: password={PLANTED_PASSWORD}")

    thread = threading.Thread(target=sync_feeds, name="feed-sync")
    thread.start()
    thread.join()
    app.extensions["alerts"].close()


def test_a_failing_background_thread_is_logged_and_alerted_once(tmp_path, smtp):
    inbox, port = smtp
    child = multiprocessing.get_context("spawn").Process(target=fail_in_a_thread, args=(tmp_path, port))
    child.start()
    child.join(60)

    assert child.exitcode == 0
    log = (tmp_path / "logs" / "microblog.log").read_text()
    assert (
        f"ERROR {Config.HOST_NAME} [-] app: Uncaught ValueError in thread feed-sync: feed refused: password=********"
        in log
    )
    [mail] = inbox.exactly(1)  # the process has exited: it sent what it was going to send
    assert mail["Subject"] == subject("ValueError: feed refused: password=********")
    assert PLANTED_PASSWORD not in log + mail.get_content()
