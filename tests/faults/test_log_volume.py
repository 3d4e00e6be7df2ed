"""An error storm cannot rotate away the log's history: under real gunicorn, a storm twice the size of the
whole rotation set leaves the lines written before it in place, and each failing request its reference.

Scaled down: a 8 KB file and 2 backups (24 KB in all) against 1,500 failing requests. Each repeat costs
about its request id in a summary line (33 bytes), 50 KB in all; one full line each (about 330 bytes)
would have written 500 KB into the same files.
"""

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import HTML
from tests.support.visitor import Visitor
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
STORM = 1500


@pytest.fixture(scope="module")
def site(serve):
    return serve(LOG_MAX_BYTES="8000", LOG_BACKUP_COUNT="2")


def test_a_storm_leaves_the_lines_before_it_and_the_reference_of_each_failing_request(site):
    visitor = Visitor(site.url)
    marker = "/before-the-storm-7d1e"
    assert visitor.get(marker, headers={**HTML, "Referer": f"{site.url}/explore"}).status == 404
    site.log.wait_for(r"WARNING .* Broken link to '/before-the-storm-7d1e'")

    ids = [f"storm-{n:04d}-{uuid.uuid4().hex[:21]}" for n in range(STORM)]  # 32 characters, as the app's own ids
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda rid: visitor.get("/demo/error", headers={"X-Request-ID": rid}).status, ids))

    assert statuses == [500] * STORM
    logs = site.log.path.parent

    def everything() -> str:
        return "".join(
            path.read_text() for name in ("microblog.log*", "microblog-repeats.log*") for path in logs.glob(name)
        )

    def listed_or_full(request_id: str, text: str) -> bool:
        listed = rf"\[-\] \d+ repeats? of \w+ GET /demo/error 500 .*; requests: (.* )?{request_id}( |$)"
        return bool(re.search(listed, text, re.MULTILINE)) or f"[{request_id}] app: Exception on /demo/error" in text

    # The latest requests' references: on a summary of repeats (the last second's is written within about a
    # second, though no request follows), or on the full record.
    wait_for(lambda text: all(listed_or_full(request_id, text) for request_id in ids[-5:]), everything, 10.0)
    history = "".join(path.read_text() for path in logs.glob("microblog.log*"))
    assert f"Broken link to '{marker}'" in history  # the lines from before the storm are still there
    assert len(sorted(logs.glob("microblog-repeats.log*"))) == 3, "the storm must fill the rotation set of the repeats"
