"""The log file stops taking writes while the site runs: every request is still answered, nothing crashes,
the alert mail still goes out, and logging resumes by itself once the file can be written again.

The tests run as root, for whom neither chmod on the directory nor on the file stops a write, and a
read-only mount needs privileges a CI container may not have. Two faults that stop root too, and that
the handler really meets (it checks the path's inode before each write and reopens when it changed):
- a directory where the log file was: opening the file fails, as on a read-only or vanished volume;
- the log file a link to /dev/full: every write fails with ENOSPC, as on a full disk.
"""

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.conftest import HTML
from tests.support.outages import replaced_by_directory
from tests.support.visitor import Visitor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
ALERT_WINDOW = 1  # seconds: each fault below gets its own alert mail rather than a follow-up


@contextmanager
def disk_full_under(path: Path):
    moved = path.with_name(path.name + ".away")
    os.rename(path, moved)
    path.symlink_to("/dev/full")
    try:
        yield
    finally:
        path.unlink()
        os.rename(moved, path)


@pytest.fixture(scope="module")
def site(serve, mail_inbox):
    _, port = mail_inbox
    return serve(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port), ADMINS="ops@example.com", ALERT_WINDOW=str(ALERT_WINDOW))


SUMMARY_NOT_WRITTEN = "Message: 'repeats of %s'"  # how logging names the record it could not write


@pytest.mark.parametrize("fault", [replaced_by_directory, disk_full_under], ids=["directory", "disk-full"])
def test_requests_are_answered_while_the_log_cannot_be_written(site, mail_inbox, fault):
    inbox, _ = mail_inbox
    visitor = Visitor(site.url)
    pids = site.worker_pids()
    mails_before = len(inbox.messages())
    summary_errors_before = site.server.output().count(SUMMARY_NOT_WRITTEN)
    name = fault.__name__

    site.log.repeats_path.touch()  # it may not be written yet; the fault needs a file to replace
    with fault(site.log.path), fault(site.log.repeats_path):
        for n in range(4):  # both workers
            assert visitor.get("/explore").status == 200
            answer = visitor.get("/demo/error", headers={**HTML, "X-Request-ID": f"{name}-{n}"})
            assert answer.status == 500 and '<code class="request-id">' in answer.body and f"{name}-{n}" in answer.body
        last_error = time.time()  # each worker's full record of the error was made before this
        mails = inbox.wait_for(mails_before + 1)[mails_before:]
        assert "DemoFailure" in mails[0]["Subject"]  # the operator still hears of the error
        # The handler meets the fault on each record it writes and says so on stderr, which gunicorn keeps. Four
        # errors on two workers: one worker at least repeated its fault (its full record may be from a moment
        # before), and repeats are written a second later as one summary line (app/observability/repeats.py).
        wait_until(lambda: site.server.output().count(SUMMARY_NOT_WRITTEN) > summary_errors_before, timeout=5,
                   what="the summary line's logging error")  # fmt: skip

    assert site.worker_pids() == pids
    lost = "\n".join(site.log.records())
    assert f"[{name}-0]" not in lost  # written nowhere while the file could not take it
    # Past the alert window of every full record so far, so that the next error is logged as a new occurrence.
    wait_until(lambda: time.time() >= last_error + ALERT_WINDOW, what="the end of the alert window")
    answer = visitor.get("/demo/error", headers={**HTML, "X-Request-ID": f"{name}-after"})
    assert answer.status == 500
    site.log.wait_for(rf"ERROR \S+ \[{name}-after\] app: Exception on /demo/error")  # logging resumed by itself
