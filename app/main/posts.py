"""Who may delete a post, and deleting it: the one rule behind the site's Delete button and the API's DELETE.

Both doors call `delete_own_post` and let its refusals through: each is an error of this app carrying its own
plain words (app/errors/text.py), so the page, the JSON and the API's problem+json say the same sentence.
"""

import sqlalchemy as sa
from werkzeug.exceptions import Forbidden, NotFound

from app.extensions import db
from app.models import Post, User

LARGEST_ID = 2**31 - 1  # ids past a 32-bit integer cannot exist: a 404, not a database error
NONE: frozenset[int] = frozenset()


class NoSuchPost(NotFound):
    description = "There is no post with that id. It may have been deleted."


class NotYourPost(Forbidden):
    description = "You can delete only your own posts."


def may_delete(author_id: int, user_id: int | None) -> bool:
    """Say whether the user `user_id` (None: a visitor) may delete a post written by `author_id`: its author alone."""
    return user_id is not None and author_id == user_id


def deletable_by(items, user_id: int | None) -> frozenset[int]:
    """Return the ids of the listed posts the user may delete: the lists show a Delete link on those alone."""
    if user_id is None:
        return NONE
    return frozenset(post.id for post in items if may_delete(post.author.id, user_id))


def own_post(post_id: int, user: User) -> Post:
    """Return the post `user` may delete; a post that does not exist is a 404, someone else's a 403."""
    post = db.session.get(Post, post_id) if 0 < post_id <= LARGEST_ID else None
    if post is None:
        raise NoSuchPost()
    if not may_delete(post.user_id, user.id):
        raise NotYourPost()
    return post


def delete_own_post(post_id: int, user: User) -> None:
    """Delete the post if it is `user`'s, in one statement that also checks the author.

    A post deleted by another request between the check and the delete (the same button pressed twice) is
    the same 404 as one deleted long ago, not a 500.
    """
    own_post(post_id, user)
    deleted = db.session.execute(sa.delete(Post).where(Post.id == post_id, Post.user_id == user.id))
    if deleted.rowcount != 1:
        db.session.rollback()
        raise NoSuchPost()
    db.session.commit()
