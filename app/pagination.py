"""Newer/older pagination that never counts the whole table."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort

from app.extensions import db

# Past this many rows no page exists; it also keeps OFFSET inside a 32-bit integer on every database.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Page:
    """One page of results and whether there are pages on either side."""

    items: list
    number: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def paginate(query: sa.Select, number: int, per_page: int) -> Page:
    """Return page `number` of `query`; a page past the end (or below 1) is a 404.

    One extra row is fetched to learn whether an older page exists, so the cost stays the
    same however many rows the query would match.
    """
    if number < 1 or (number - 1) * per_page > MAX_OFFSET:
        abort(404)
    rows = db.session.scalars(query.limit(per_page + 1).offset((number - 1) * per_page)).unique().all()
    if number > 1 and not rows:
        abort(404)
    return Page(items=list(rows[:per_page]), number=number, has_next=len(rows) > per_page)
