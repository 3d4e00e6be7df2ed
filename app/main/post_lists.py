"""The lists of posts the pages and the API show: explore, a timeline, one user's posts.

They are read lean: one Core query of the seven columns a list shows, built once at import
with its values as bound parameters, and plain rows instead of ORM objects; each author's avatar is
worked out once per page, not once per post. Through the ORM, with a joined load of every author, a
page's query cost three times as much CPU as the database's own work on it.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import abort

from app.extensions import db
from app.main.pagination import Page, Place, Position, check_old_page_number, cursor_for
from app.models import Post, User, avatar_digest, followers

posts = Post.__table__
users = User.__table__


@dataclass(frozen=True, slots=True)
class Author:
    """What a list shows of a post's author."""

    id: int
    username: str
    display_name: str | None
    avatar_digest: str


@dataclass(frozen=True, slots=True)
class ListedPost:
    id: int
    body: str
    timestamp: datetime
    author: Author


class PostList:
    """One list of posts, newest first, a page at a time; each page seeks the index at its place (pagination.py).

    Its statements are built once, here, with bound parameters: the first page, the page before a position
    (newest first), the page after one (oldest first, shown reversed), and the positions at an OFFSET (index
    only) where an old `?page=N` starts.
    """

    def __init__(self, *conditions):
        shown = sa.select(
            posts.c.id,
            posts.c.body,
            posts.c.timestamp,
            users.c.id,
            users.c.username,
            users.c.display_name,
            users.c.email,
        ).join_from(posts, users, posts.c.user_id == users.c.id)  # fmt: skip
        # A row value, (timestamp, id) < (:timestamp, :id): both databases seek the (.., timestamp, id) index with
        # it, where the same condition spelled out with OR starts from the newest post on PostgreSQL (and on
        # SQLite for explore) and reads every post newer than the page.
        key = sa.tuple_(posts.c.timestamp, posts.c.id)
        at = sa.tuple_(sa.bindparam("timestamp", type_=posts.c.timestamp.type), sa.bindparam("id", type_=sa.Integer))
        newest_first = (posts.c.timestamp.desc(), posts.c.id.desc())
        limit = sa.bindparam("limit")
        self.newest = shown.where(*conditions).order_by(*newest_first).limit(limit)
        self.older = shown.where(*conditions, key < at).order_by(*newest_first).limit(limit)
        self.newer = shown.where(*conditions, key > at).order_by(posts.c.timestamp, posts.c.id).limit(limit)
        self.positions = (
            sa.select(posts.c.timestamp, posts.c.id)
            .where(*conditions)
            .order_by(*newest_first)
            .limit(limit)
            .offset(sa.bindparam("offset"))
        )

    def page(self, place: Place, per_page: int, **values) -> Page:
        """Return the page at `place` as ListedPosts; one before the oldest post is a 404.

        One extra row is fetched to learn whether a page exists further on. A page after a position always links
        to older posts, and one before a position to newer: the post it was reached from is there, unless it was
        deleted since (then the link leads to the posts around where it stood, or to none).
        """
        values["limit"] = per_page + 1
        if place.before is not None:
            rows = fetch(self.older, {**values, **place.before._asdict()})
            if not rows:
                abort(404)
            items = listed(rows[:per_page])
            return Page(items, newer=cursor_of(items[0]), older=cursor_of(items[-1], len(rows) > per_page))
        if place.after is not None:
            rows = fetch(self.newer, {**values, **place.after._asdict()})
            items = listed(rows[:per_page])[::-1]
            if not items:  # nothing newer yet
                return Page(items, newer=None, older=cursor_for(*place.after))
            return Page(items, newer=cursor_of(items[0], len(rows) > per_page), older=cursor_of(items[-1]))
        rows = fetch(self.newest, values)
        items = listed(rows[:per_page])
        return Page(items, newer=None, older=cursor_of(items[-1], len(rows) > per_page) if items else None)

    def start_of_old_page(self, number: int, per_page: int, **values) -> Position | None:
        """Return the position that old page `number` starts after (None for the first page).

        Page N of the numbered pages starts after the (N-1)*per_page-th post: one index-only read at an OFFSET,
        bounded by OLD_PAGES_ANSWERED. A page with no post on it is a 404, as it was.
        """
        check_old_page_number(number, per_page)
        if number == 1:
            return None
        rows = fetch(self.positions, {**values, "limit": 2, "offset": (number - 1) * per_page - 1})
        if len(rows) < 2:  # the last post of the page before, then the first of this one
            abort(404)
        return Position(*rows[0])


EXPLORE = PostList()
BY_USER = PostList(posts.c.user_id == sa.bindparam("user_id"))
# A user's posts and those of the users they follow. "Followed" is a correlated EXISTS, not an IN list:
# with an IN list SQLite fetches and sorts every post of every followed user (39 ms a query at 100,000
# posts); with EXISTS it walks the timestamp index newest first and stops when the page is full.
TIMELINE = PostList(
    sa.or_(
        posts.c.user_id == sa.bindparam("user_id"),
        sa.select(followers.c.followed_id)
        .where(followers.c.follower_id == sa.bindparam("user_id"), followers.c.followed_id == posts.c.user_id)
        .exists(),
    )
)


def fetch(query: sa.Select, values: dict) -> list:
    return db.session.connection().execute(query, values).all()


def listed(rows) -> list[ListedPost]:
    """Return the rows as ListedPosts, each author's avatar worked out once."""
    authors = {}
    items = []
    for post_id, body, timestamp, author_id, username, display_name, email in rows:
        author = authors.get(author_id)
        if author is None:
            author = authors[author_id] = Author(author_id, username, display_name, avatar_digest(email))
        items.append(ListedPost(post_id, body, timestamp, author))
    return items


def cursor_of(post: ListedPost, exists: bool = True) -> str | None:
    """Return the cursor of a post's position, or None when there is no page beyond it."""
    return cursor_for(post.timestamp, post.id) if exists else None
