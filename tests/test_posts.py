"""Posting, the home timeline, explore and their pages."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import template_rendered

from app import templating
from app.extensions import db
from app.models import Post, utcnow


def test_a_visitors_first_page_says_what_microblog_is(client, app):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/welcome"
    page = client.get("/welcome").get_data(as_text=True)
    assert "Microblog is a small place to post short notes and follow people" in page
    assert 'href="/login"' in page and 'href="/register"' in page and 'href="/explore"' in page
    response = client.post("/", data={"post": "hello"})  # a post sent without a login: the login page
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Post.id))) == 0


def test_the_welcome_page_sends_a_logged_in_user_home(client, auth, make_user):
    auth.login(make_user())
    response = client.get("/welcome")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_an_empty_home_timeline_points_to_explore(client, auth, make_user, make_post):
    make_post(make_user(), "someone else's")
    auth.login(make_user())
    page = client.get("/").get_data(as_text=True)
    assert 'Nothing here yet: find people to follow on <a href="/explore">Explore</a>.' in page
    assert "No posts yet." not in page


def test_posting_shows_the_post_on_home_and_explore(client, auth, make_user, app):
    user = make_user()
    auth.login(user)
    response = client.post("/", data={"post": "My first post"})
    assert response.status_code == 302
    assert "My first post" in client.get("/").get_data(as_text=True)
    assert "My first post" in client.get("/explore").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Post.body)) == "My first post"


def test_empty_and_overlong_posts_are_refused_and_the_text_kept(client, auth, make_user, app):
    auth.login(make_user())
    assert "Please fill this in." in client.post("/", data={"post": ""}).get_data(as_text=True)  # plain
    long_text = "x" * 281
    page = client.post("/", data={"post": long_text}).get_data(as_text=True)
    assert "280" in page and long_text in page
    assert client.post("/", data={"post": "y" * 280}).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Post.id))) == 1


def test_timeline_has_own_and_followed_posts_newest_first(client, auth, make_user, make_post, app):
    me, friend, stranger = make_user(), make_user(), make_user()
    make_post(me, "mine, older", minutes_ago=10)
    make_post(friend, "friend's, newer", minutes_ago=1)
    make_post(stranger, "stranger's")
    auth.login(me)
    client.post(f"/follow/{friend.username}")
    page = client.get("/").get_data(as_text=True)
    assert page.index("friend&#39;s, newer") < page.index("mine, older")
    assert "stranger" not in page.split("<main")[1]


def test_explore_lists_every_post_newest_first(client, make_user, make_post):
    alice, bob = make_user(), make_user()
    make_post(alice, "older", minutes_ago=5)
    make_post(bob, "newer", minutes_ago=1)
    page = client.get("/explore").get_data(as_text=True)
    assert page.index("newer") < page.index("older")


def test_pagination_edges(client, app, make_user, make_post):
    app.config["POSTS_PER_PAGE"] = 2
    author = make_user()
    for n in range(5):
        make_post(author, f"post number {n}", minutes_ago=n)
    first = client.get("/explore").get_data(as_text=True)
    assert "post number 0" in first and "post number 2" not in first
    assert "/explore?before=" in first and "Newer posts" not in first  # no disabled link on the first page
    last = client.get("/explore?page=3", follow_redirects=True).get_data(as_text=True)  # an old numbered link
    assert "post number 4" in last and "/explore?before=" not in last and "Older posts" not in last
    assert client.get("/explore?page=4").status_code == 404
    assert client.get("/explore?page=0").status_code == 404
    assert client.get("/explore?page=-1").status_code == 404
    assert client.get("/explore?page=abc").status_code == 200  # not a number: the first page


def test_empty_explore_is_a_page_not_a_404(client):
    response = client.get("/explore")
    assert response.status_code == 200 and "No posts yet." in response.get_data(as_text=True)


def test_script_in_a_post_is_escaped(client, auth, make_user):
    auth.login(make_user())
    client.post("/", data={"post": "<script>alert('x')</script>"})
    page = client.get("/explore").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_times_are_relative_with_exact_utc_on_hover(client, make_user, make_post):
    make_post(make_user(), minutes_ago=3)
    page = client.get("/explore").get_data(as_text=True)
    assert "3 minutes ago</time>" in page
    assert 'title="20' in page and ' UTC"' in page


@pytest.mark.parametrize("page", ["99999999999999999999", "9223372036854775807", "85899346"])
def test_absurd_page_numbers_are_404_not_500(client, page):
    assert client.get(f"/explore?page={page}").status_code == 404


def test_nul_character_is_a_400_that_says_so(client, auth, make_user, app):
    # Refused before any view or query (app/errors/input_checks.py).
    auth.login(make_user())
    response = client.post("/", data={"post": "before\x00after"})
    assert response.status_code == 400 and "control character" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Post.id))) == 0


def test_text_with_control_characters_comes_back_without_them_on_the_sites_own_page(app, client, auth, make_user):
    """Nothing typed is lost: the 400 gives the post back, control characters taken out, to send again."""
    auth.login(make_user())
    client.get("/")  # the page the post was typed on: it put a form token in the session
    typed = {"post": "ls\x1b[2K -la\x00 done"}
    response = client.post("/", data=typed, headers={"Sec-Fetch-Site": "same-origin"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "characters no one can type" in page
    assert ">ls[2K -la done</textarea>" in page and "\x1b" not in page
    assert client.post("/", data={"post": "ls[2K -la done"}).status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(Post.body)).all() == ["ls[2K -la done"]


def test_text_with_control_characters_from_another_site_is_not_given_back(client, auth, make_user):
    auth.login(make_user())
    client.get("/")
    response = client.post("/", data={"post": "planted\x00"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 400 and "planted" not in response.get_data(as_text=True)


def rendered_lists(app, client, path: str) -> tuple[str, int]:
    """Load `path`; return its page and how many times _posts.html was rendered for it."""
    renders = []

    def record(sender, template, context, **extra):
        if template.name == "_posts.html":
            renders.append(template)

    with template_rendered.connected_to(record, app):
        page = client.get(path).get_data(as_text=True)
    return page, len(renders)


def test_a_list_of_posts_is_rendered_once_and_kept_for_the_same_content(app, client, make_user, make_post):
    """Issue 15: the rendered list is kept; the same posts at the same relative times are not rendered again."""
    make_post(make_user(), "kept", minutes_ago=5)
    first, rendered = rendered_lists(app, client, "/explore")
    assert rendered == 1 and "kept" in first
    again, rendered = rendered_lists(app, client, "/explore")
    assert rendered == 0 and again == first


def test_a_kept_list_shows_a_new_post_a_new_name_and_no_deleted_post(app, client, auth, make_user, make_post):
    """The kept list is keyed by what it shows: each change below makes the page render it anew."""
    author = make_user("first_name")
    old = make_post(author, "an older post", minutes_ago=5)
    assert "an older post" in client.get("/explore").get_data(as_text=True)
    make_post(author, "a new post")
    page = client.get("/explore").get_data(as_text=True)
    assert "a new post" in page and "an older post" in page

    auth.login(author)
    client.post("/edit_profile", data={"username": "second_name", "about_me": ""})
    page = client.get("/explore").get_data(as_text=True)
    assert ">second_name</a>" in page and "first_name" not in page

    with app.app_context():
        db.session.execute(sa.delete(Post).where(Post.id == old.id))
        db.session.commit()
    assert "an older post" not in client.get("/explore").get_data(as_text=True)


def test_a_kept_list_says_how_long_ago_as_the_minutes_pass(app, client, make_user, monkeypatch):
    """The relative time is part of what a kept list shows: "just now" becomes "1 minute ago"."""
    posted = utcnow()
    with app.app_context():
        db.session.add(Post(body="timed", user_id=make_user().id, timestamp=posted))
        db.session.commit()
    clock = [posted + timedelta(seconds=59)]
    monkeypatch.setattr(templating, "utc_now", lambda: clock[0])  # the pages' clock, however slow the machine
    assert "just now</time>" in client.get("/explore").get_data(as_text=True)
    clock[0] += timedelta(seconds=1)
    assert "1 minute ago</time>" in client.get("/explore").get_data(as_text=True)
