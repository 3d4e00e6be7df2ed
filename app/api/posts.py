"""Posts: the explore list, a user's timeline and posts, writing, reading and deleting one."""

import sqlalchemy.orm as so
from flask import Blueprint, current_app, request, url_for

from app.api.auth import current_api_user, token_required
from app.api.errors import ApiError
from app.api.openapi import BEARER, body_errors, json_body, no_content, query_errors, responses, spec
from app.api.schemas import NewPost, PageLinks, PageQuery, PostLinks, PostOut, PostPage
from app.api.users import user_or_404
from app.extensions import db
from app.main import post_lists
from app.main.pagination import Place, cursor_for
from app.main.posts import LARGEST_ID, delete_own_post
from app.models import Post

bp = Blueprint("posts", __name__)
POST_ID = "<int:post_id>"
LIST_ERRORS = (400, 404)  # a damaged cursor or more than one place; a page past the oldest post
LIST_ANSWERS = {"HTTP_200": PostPage, "HTTP_302": None}
LIST_DOC = {"query": PageQuery, "before": query_errors, "tags": ["posts"]}


def post_out(post: Post | post_lists.ListedPost) -> PostOut:
    return PostOut(
        id=post.id,
        body=post.body,
        timestamp=post.timestamp,
        author=post.author.username,
        author_display_name=post.author.display_name,
        links=PostLinks(
            self=url_for("api.posts.get_post", post_id=post.id),
            author=url_for("api.users.get_user", username=post.author.username),
        ),
    )


def post_or_404(post_id: int) -> Post:
    post = db.session.get(Post, post_id, options=[so.joinedload(Post.author)]) if 0 < post_id <= LARGEST_ID else None
    if post is None:
        raise ApiError(404, "There is no post with that id.")
    return post


def posts_page(post_list: post_lists.PostList, **values):
    """Answer the page of a list the query asks for, with a Link header to the pages on either side.

    The same places as the site's pages (app/main/routes.py): the newest page, `before` or `after` a cursor, or an
    old `page` number, answered with a 302 to the same page by position. A page past the end is a 404; a page
    after the newest post is empty (a client asking for what is new since its last look).
    """
    query = request.context.query
    per_page = current_app.config["POSTS_PER_PAGE"]
    place = Place.from_query(query.before, query.after, query.page)
    if query.page is not None:
        start = post_list.start_of_old_page(query.page, per_page, **values)
        if start is not None:
            return "", 302, {"Location": page_url(before=cursor_for(*start))}
    page = post_list.page(place, per_page, **values)
    older = page_url(before=page.older) if page.has_next else None
    newer = page_url(after=page.newer) if page.has_prev else None
    links = [f'<{url}>; rel="{rel}"' for url, rel in ((older, "next"), (newer, "prev")) if url]
    body = PostPage(
        items=[post_out(post) for post in page.items],
        has_next=page.has_next,
        has_prev=page.has_prev,
        older=page.older,
        newer=page.newer,
        links=PageLinks(next=older, prev=newer),
    )
    return body, 200, {"Link": ", ".join(links)} if links else {}


def page_url(**place) -> str:
    return url_for(request.endpoint, **request.view_args, **place)


@bp.get("/posts")
@spec.validate(resp=responses(errors=LIST_ERRORS, **LIST_ANSWERS), **LIST_DOC)
def explore():
    """Every post, newest first."""
    return posts_page(post_lists.EXPLORE)


@bp.get("/timeline")
@token_required
@spec.validate(resp=responses(errors=(401, *LIST_ERRORS), **LIST_ANSWERS), security=BEARER, **LIST_DOC)
def timeline():
    """Your posts and those of the people you follow, newest first."""
    return posts_page(post_lists.TIMELINE, user_id=current_api_user().id)


@bp.get("/users/<username>/posts")
@spec.validate(resp=responses(errors=LIST_ERRORS, **LIST_ANSWERS), **LIST_DOC)
def user_posts(username: str):
    """One user's posts, newest first."""
    return posts_page(post_lists.BY_USER, user_id=user_or_404(username).id)


@bp.post("/posts")
@token_required
@json_body
@spec.validate(
    json=NewPost,
    resp=responses(body=True, errors=(401,), HTTP_201=PostOut),
    before=body_errors,
    security=BEARER,
    tags=["posts"],
)
def create_post():
    """Write a post (1 to 280 characters)."""
    post = Post(body=request.context.json.body, author=current_api_user())
    db.session.add(post)
    db.session.commit()
    return post_out(post), 201, {"Location": url_for("api.posts.get_post", post_id=post.id)}


@bp.get(f"/posts/{POST_ID}")
@spec.validate(resp=responses(errors=(404,), HTTP_200=PostOut), tags=["posts"])
def get_post(post_id: int):
    """Read one post."""
    return post_out(post_or_404(post_id))


@bp.delete(f"/posts/{POST_ID}")
@token_required
@spec.validate(resp=responses(errors=(401, 403, 404), HTTP_204=None), security=BEARER, tags=["posts"])
def delete_post(post_id: int):
    """Delete one of your own posts; someone else's is a 403."""
    delete_own_post(post_id, current_api_user())  # the site's Delete button goes through the same rule
    return no_content()
