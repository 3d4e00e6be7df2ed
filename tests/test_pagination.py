"""Keyset pages: Older and Newer links carry a post's position, old numbered links still lead to their page."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.main.pagination import EPOCH, cursor_for, parse_cursor
from app.models import Post


@pytest.fixture
def config_overrides():
    return {"POSTS_PER_PAGE": 2}


def bodies(page: str) -> list[str]:
    return re.findall(r'<p class="mb-0 post-body">([^<]*)</p>', page)


def link(page: str, words: str) -> str | None:
    """Return the address of the pagination link saying `words` (Older posts, Newer posts), or None."""
    found = re.search(rf'<a class="page-link" href="([^"]+)">[^<]*{words}', page)
    return unescape(found.group(1)) if found else None


def add_posts(app, author, *moments: tuple[str, datetime]) -> None:
    with app.app_context():
        db.session.add_all(Post(body=body, user_id=author.id, timestamp=moment) for body, moment in moments)
        db.session.commit()


def test_a_cursor_is_the_microseconds_and_the_id_and_parses_back():
    moment = datetime(2024, 12, 6, 14, 8, 15, 331518, tzinfo=UTC)
    assert cursor_for(moment, 1234) == "1733494095331518.1234"
    assert parse_cursor("1733494095331518.1234") == (moment, 1234)
    assert cursor_for(moment.replace(tzinfo=None), 1234) == "1733494095331518.1234"  # SQLite's naive UTC
    assert parse_cursor("0.1") == (EPOCH, 1)


def test_the_cursor_of_every_stored_post_leads_to_exactly_the_posts_after_it(app, client, make_user):
    """Stored and read back (microseconds; naive on SQLite, aware on PostgreSQL), each post's cursor starts the
    next page right after it, ties in time broken by id, on the way older and the way newer."""
    author = make_user()
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    add_posts(app, author, *[(f"post {n}", moment - timedelta(microseconds=n // 3)) for n in range(7)])
    with app.app_context():
        stored = db.session.execute(sa.select(Post.timestamp, Post.id, Post.body)).all()
    order = sorted(stored, key=lambda post: (post.timestamp, post.id), reverse=True)
    for at, (timestamp, post_id, _body) in enumerate(order):
        assert parse_cursor(cursor_for(timestamp, post_id)) == (timestamp, post_id)
        older = client.get(f"/explore?before={cursor_for(timestamp, post_id)}")
        if at + 1 < len(order):
            assert bodies(older.get_data(as_text=True)) == [post.body for post in order[at + 1 : at + 3]]
        else:
            assert older.status_code == 404  # nothing older than the oldest post
        newer = client.get(f"/explore?after={cursor_for(timestamp, post_id)}", follow_redirects=True)
        shown = [post.body for post in order[max(at - 2, 0) : at]] or [post.body for post in order[:2]]
        assert bodies(newer.get_data(as_text=True)) == shown


def test_older_then_newer_links_walk_the_whole_list_and_back(app, client, make_user):
    author = make_user()
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    add_posts(app, author, *[(f"post {n}", moment - timedelta(seconds=n // 2)) for n in range(7)])  # ties in pairs
    pages, address = [], "/explore"
    while address:
        page = client.get(address).get_data(as_text=True)
        pages.append(bodies(page))
        address = link(page, "Older posts")
    assert pages == [["post 1", "post 0"], ["post 3", "post 2"], ["post 5", "post 4"], ["post 6"]]  # ties: newest id
    back, address = [], link(page, "Newer posts")
    while address:
        page = client.get(address).get_data(as_text=True)
        back.append(bodies(page))
        address = link(page, "Newer posts")
    assert back == [["post 5", "post 4"], ["post 3", "post 2"], ["post 1", "post 0"]]
    assert link(page, "Older posts").startswith("/explore?before=")


@pytest.mark.parametrize("path", ["/explore", "/user/{name}", "/"])
def test_an_old_numbered_page_is_sent_on_to_the_same_posts_by_position(app, client, auth, make_user, make_post, path):
    me = make_user()
    auth.login(me)
    for n in range(5):
        make_post(me, f"post {n}", minutes_ago=n)
    path = path.format(name=me.username)
    moved = client.get(f"{path}?page=2")
    assert moved.status_code == 302 and "?before=" in moved.headers["Location"]
    assert bodies(client.get(moved.headers["Location"]).get_data(as_text=True)) == ["post 2", "post 3"]
    assert bodies(client.get(f"{path}?page=1").get_data(as_text=True)) == ["post 0", "post 1"]


def test_a_numbered_page_past_the_bound_is_a_404_that_says_so(client, make_user, make_post):
    make_post(make_user())
    response = client.get("/explore?page=1001")
    assert response.status_code == 404 and "That page is too far back" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["before=abc", "before=-1.5", "before=1234567890123456789.5", "before=1.99999999999", "after=1.2.3",
     "before=1.2&after=1.3", "page=2&before=1.2", "before=%D9%A1.2"],
)  # fmt: skip
def test_a_damaged_cursor_is_a_400_in_plain_words(client, make_user, make_post, query):
    make_post(make_user())
    response = client.get(f"/explore?{query}")
    assert response.status_code == 400
    assert "page of posts" in response.get_data(as_text=True)


def test_a_cursor_before_the_oldest_post_is_a_404(client, make_user, make_post):
    make_post(make_user())
    assert client.get("/explore?before=1.1").status_code == 404


def test_newer_than_the_newest_post_is_the_first_page(client, make_user, make_post):
    post = make_post(make_user(), "the only post")
    response = client.get(f"/explore?after={cursor_for(post.timestamp, post.id)}")
    assert response.status_code == 302 and response.headers["Location"] == "/explore"


def test_a_new_post_goes_to_the_first_page(client, auth, make_user):
    auth.login(make_user())
    response = client.post("/?before=1.1", data={"post": "fresh"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
