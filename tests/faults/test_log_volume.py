"""An error storm cannot rotate away the log's history: under real gunicorn, a storm several times the size
of the whole rotation set leaves the lines written before it in place, and each failing request its line.

Scaled down: a 8 KB file and 2 backups (24 KB in all) against 300 failing requests, which in the format
of before (one full line each, about 330 bytes) would have written 99 KB into the same files.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import HTML
from tests.support.visitor import Visitor

pytestmark = pytest.mark.slow
STORM = 300


@pytest.fixture(scope="module")
def site(serve):
    return serve(LOG_MAX_BYTES="8000", LOG_BACKUP_COUNT="2")


def test_a_storm_leaves_the_lines_before_it_and_a_line_for_each_failing_request(site):
    visitor = Visitor(site.url)
    marker = "/before-the-storm-7d1e"
    assert visitor.get(marker, headers={**HTML, "Referer": f"{site.url}/explore"}).status == 404
    site.log.wait_for(r"WARNING .* Broken link to '/before-the-storm-7d1e'")

    ids = [f"storm-{n}" for n in range(STORM)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda rid: visitor.get("/demo/error", headers={"X-Request-ID": rid}).status, ids))

    assert statuses == [500] * STORM
    logs = site.log.path.parent
    history = "".join(path.read_text() for path in logs.glob("microblog.log*"))
    assert f"Broken link to '{marker}'" in history  # the lines from before the storm are still there
    repeats = sorted(logs.glob("microblog-repeats.log*"))
    assert len(repeats) == 3, "the storm must fill the whole rotation set of the repeats"
    everything = history + "".join(path.read_text() for path in repeats)
    for request_id in ids[-5:]:  # the latest requests' lines, the full record or the short one of a repeat
        short = rf"\[{request_id}\] GET /demo/error 500 repeat of \w+, first logged at "
        assert re.search(short, everything) or f"[{request_id}] app: Exception on /demo/error" in everything
