"""Keyset pages: a page starts from the position of a post on the page beside it, never from a count of rows.

A list is ordered newest first by (timestamp, id). The Older link carries the position of the last post shown
(`?before=`), the Newer link that of the first (`?after=`), and the query seeks the index to that position: a page
a thousand pages back costs what the first one costs, where `?page=N` made the database read and throw away
(N-1) pages of rows, which any visitor could ask for.

A position travels as a cursor, `<microseconds since 1970-01-01 UTC>.<post id>` such as `1733500651123456.1234`:
digits and one dot, safe in any URL, and exact, since timestamps are stored to the microsecond. Every text of
that shape is a position a list can start from (up to 17 digits of microseconds reach the year 5138); anything
else is a 400. Old `?page=N` addresses are still answered, up to OLD_PAGES_ANSWERED (app/main/post_lists.py).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from flask import abort
from werkzeug.exceptions import BadRequest, NotFound

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
CURSOR = re.compile(r"\A([0-9]{1,17})\.([0-9]{1,10})\Z")
CURSOR_PATTERN = r"^[0-9]{1,17}\.[0-9]{1,10}$"  # the same, as the OpenAPI document states it
# Old `?page=N` links past this page are a 404: finding such a page means counting past its rows, the cost
# keyset pages exist to avoid, and no one pages a thousand pages back by hand.
OLD_PAGES_ANSWERED = 1000
# Past this many rows no page exists; it also keeps OFFSET inside a 32-bit integer on every database.
MAX_OFFSET = 2**31 - 1


class Position(NamedTuple):
    """Where a post stands in a list: the list is ordered by (timestamp, id), newest first."""

    timestamp: datetime
    id: int


class BadCursor(BadRequest):
    problem = "bad-page-position"  # the API's problem type (app/errors/problem_details.py)
    description = (
        "That link to a page of posts is damaged or was changed by hand. "
        "Go back to the first page of the list and use its Older posts and Newer posts links."
    )


class TwoPositions(BadRequest):
    problem = "bad-page-position"
    description = "A page of posts starts from one place: give only one of page, before and after."


class TooFarBack(NotFound):
    description = (
        f"That page is too far back: numbered pages go up to {OLD_PAGES_ANSWERED}. "
        "Start from the first page and use the Older posts links."
    )


def cursor_for(timestamp: datetime, post_id: int) -> str:
    """Return the cursor of a post's position: microseconds since the epoch in UTC, a dot, the post's id."""
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)  # stored naive on SQLite, always UTC
    return f"{(timestamp - EPOCH) // MICROSECOND}.{post_id}"


def parse_cursor(cursor: str) -> Position:
    """Return the position a cursor names; anything but a cursor is a 400 in plain words."""
    match = CURSOR.match(cursor)
    if match is None:
        raise BadCursor()
    micros, post_id = match.groups()
    return Position(EPOCH + int(micros) * MICROSECOND, int(post_id))


@dataclass(frozen=True)
class Place:
    """Where a page starts: before a position (older posts), after one (newer posts), or at the newest post."""

    before: Position | None = None
    after: Position | None = None

    @classmethod
    def from_query(cls, before: str | None, after: str | None, page: str | None = None) -> "Place":
        """Read a page's place from its query parameters; more than one of them is a 400."""
        if sum(value is not None for value in (before, after, page)) > 1:
            raise TwoPositions()
        return cls(
            before=parse_cursor(before) if before is not None else None,
            after=parse_cursor(after) if after is not None else None,
        )


@dataclass(frozen=True)
class Page:
    """One page of posts, newest first, with the cursors of the links to the pages on either side (None: no link)."""

    items: list
    newer: str | None  # the first post's cursor, for ?after=, when newer posts exist
    older: str | None  # the last post's cursor, for ?before=, when older posts exist

    @property
    def has_prev(self) -> bool:
        return self.newer is not None

    @property
    def has_next(self) -> bool:
        return self.older is not None


def check_old_page_number(number: int, per_page: int) -> None:
    """Answer 404 for an old page number below 1, and in plain words for one past OLD_PAGES_ANSWERED."""
    if number < 1:
        abort(404)
    if number > OLD_PAGES_ANSWERED or (number - 1) * per_page > MAX_OFFSET:
        raise TooFarBack()
