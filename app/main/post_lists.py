"""The lists of posts the pages and the API show: explore, a timeline, one user's posts.

They are read lean: one Core query of the seven columns a list shows, built once at import
with its values as bound parameters, and plain rows instead of ORM objects; each author's avatar is
worked out once per page, not once per post. Through the ORM, with a joined load of every author, a
page's query cost three times as much CPU as the database's own work on it.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.main.pagination import Page, check_page_number
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


def newest_first(*conditions) -> sa.Select:
    """Return the list query: posts matching `conditions` with their authors, newest first, one page."""
    return (
        sa.select(
            posts.c.id,
            posts.c.body,
            posts.c.timestamp,
            users.c.id,
            users.c.username,
            users.c.display_name,
            users.c.email,
        )  # fmt: skip
        .join_from(posts, users, posts.c.user_id == users.c.id)
        .where(*conditions)
        .order_by(posts.c.timestamp.desc(), posts.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


EXPLORE = newest_first()
BY_USER = newest_first(posts.c.user_id == sa.bindparam("user_id"))
# A user's posts and those of the users they follow. "Followed" is a correlated EXISTS, not an IN list:
# with an IN list SQLite fetches and sorts every post of every followed user (39 ms a query at 100,000
# posts); with EXISTS it walks the timestamp index newest first and stops when the page is full.
TIMELINE = newest_first(
    sa.or_(
        posts.c.user_id == sa.bindparam("user_id"),
        sa.select(followers.c.followed_id)
        .where(followers.c.follower_id == sa.bindparam("user_id"), followers.c.followed_id == posts.c.user_id)
        .exists(),
    )
)


def explore(number: int, per_page: int) -> Page:
    return page_of(EXPLORE, {}, number, per_page)


def timeline(user_id: int, number: int, per_page: int) -> Page:
    return page_of(TIMELINE, {"user_id": user_id}, number, per_page)


def by_user(user_id: int, number: int, per_page: int) -> Page:
    return page_of(BY_USER, {"user_id": user_id}, number, per_page)


def page_of(query: sa.Select, values: dict, number: int, per_page: int) -> Page:
    """Return page `number` of a list query as ListedPosts; a page past the end (or below 1) is a 404.

    One extra row is fetched to learn whether an older page exists.
    """
    check_page_number(number, per_page)
    values = {**values, "limit": per_page + 1, "offset": (number - 1) * per_page}
    rows = db.session.connection().execute(query, values).all()
    authors = {}
    items = []
    for post_id, body, timestamp, author_id, username, display_name, email in rows[:per_page]:
        author = authors.get(author_id)
        if author is None:
            author = authors[author_id] = Author(author_id, username, display_name, avatar_digest(email))
        items.append(ListedPost(post_id, body, timestamp, author))
    return Page.of(items, number, has_next=len(rows) > per_page)
