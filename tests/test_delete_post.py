"""Deleting your own post: on the site (a confirmation page, then a POST) and through the API, by one rule."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Post
from tests.api.conftest import assert_problem, basic, bearer
from tests.conftest import PASSWORD
from tests.support.visitor import csrf_token

GONE = "There is no post with that id. It may have been deleted."
NOT_YOURS = "You can delete only your own posts."
LISTS = ("/", "/explore")


def post_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Post.id)))


def token_of(client, user) -> dict:
    response = client.post("/api/tokens", headers=basic(user.username))
    assert response.status_code == 201
    return bearer(response.get_json()["token"])


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_author_deletes_a_post_after_a_confirmation(client, auth, make_user, make_post, app):
    author = make_user()
    post = make_post(author, "a note to take back")
    auth.login(author)
    confirmation = client.get(f"/post/{post.id}/delete")
    assert confirmation.status_code == 200
    assert "Delete this post?" in text(confirmation) and "a note to take back" in text(confirmation)
    assert post_count(app) == 1  # opening the confirmation deletes nothing

    response = client.post(f"/post/{post.id}/delete", follow_redirects=True)
    assert response.status_code == 200 and "Your post was deleted." in text(response)
    assert post_count(app) == 0


def test_the_delete_link_leads_to_the_confirmation_from_every_list(client, auth, make_user, make_post):
    author = make_user()
    post = make_post(author, "mine")
    auth.login(author)
    for path in (*LISTS, f"/user/{author.username}"):
        link = re.search(r'href="(/post/(\d+)/delete[^"]*)"', text(client.get(path)))
        assert link and link.group(2) == str(post.id), path
        assert "Delete this post?" in text(client.get(link.group(1).replace("&amp;", "&")))


def test_a_deleted_post_is_gone_from_every_kept_list_and_the_api(client, auth, make_user, make_post):
    author = make_user()
    make_post(author, "stays")
    post = make_post(author, "goes")
    auth.login(author)
    pages = (*LISTS, f"/user/{author.username}")
    assert all("goes" in text(client.get(path)) for path in pages)  # each list rendered and kept
    client.post(f"/post/{post.id}/delete")
    for path in pages:
        page = text(client.get(path))
        assert "stays" in page and "goes" not in page, path
    assert_problem(client.get(f"/api/posts/{post.id}"), 404)
    bodies = [item["body"] for item in client.get("/api/posts").get_json()["items"]]
    assert bodies == ["stays"]


def test_a_second_delete_and_the_confirmation_of_a_deleted_post_say_it_is_gone(client, auth, make_user, make_post):
    author = make_user()
    post = make_post(author)
    auth.login(author)
    client.post(f"/post/{post.id}/delete")
    for response in (client.post(f"/post/{post.id}/delete"), client.get(f"/post/{post.id}/delete")):
        assert response.status_code == 404 and GONE in text(response)


@pytest.mark.parametrize("post_id", ["0", "2147483648", "99999999999999999999999"])
def test_a_post_that_cannot_exist_is_a_404_not_a_database_error(client, auth, make_user, post_id):
    auth.login(make_user())
    response = client.post(f"/post/{post_id}/delete")
    assert response.status_code == 404 and GONE in text(response)


def test_someone_elses_post_cannot_be_deleted_on_the_site(client, auth, make_user, make_post, app):
    post = make_post(make_user(), "not yours")
    auth.login(make_user())
    for response in (client.get(f"/post/{post.id}/delete"), client.post(f"/post/{post.id}/delete")):
        assert response.status_code == 403 and NOT_YOURS in text(response)
    assert post_count(app) == 1


def test_a_visitor_is_sent_to_log_in_and_nothing_is_deleted(client, make_user, make_post, app):
    post = make_post(make_user())
    for response in (client.get(f"/post/{post.id}/delete"), client.post(f"/post/{post.id}/delete")):
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert post_count(app) == 1


def test_the_delete_link_is_only_on_the_authors_own_posts_and_never_in_a_list_kept_for_others(
    app, client, auth, make_user, make_post
):
    """The lists are kept rendered and shared (app/templating.py): the author's copy must not reach anyone else."""
    author, reader = make_user(), make_user()
    post = make_post(author, "one post, three readers")
    delete_link = f"/post/{post.id}/delete"
    auth.login(author)
    for path in (*LISTS, f"/user/{author.username}"):
        assert delete_link in text(client.get(path)), path  # the author's copy is rendered first and kept
    reader_client, visitor = app.test_client(), app.test_client()
    reader_client.post("/login", data={"username": reader.username, "password": PASSWORD})
    for path in ("/explore", f"/user/{author.username}"):
        for someone in (reader_client, visitor):
            page = text(someone.get(path))
            assert "one post, three readers" in page and "/delete" not in page, path


def test_the_api_delete_goes_through_the_same_rule_as_the_site(client, auth, make_user, make_post, app):
    author, other = make_user(), make_user()
    theirs, mine = make_post(other, "theirs"), make_post(author, "mine")
    api = token_of(client, author)
    auth.login(author)
    assert "mine" in text(client.get("/explore"))  # kept before the API deletes it

    refused_by_api = assert_problem(client.delete(f"/api/posts/{theirs.id}", headers=api), 403)
    refused_on_site = client.post(f"/post/{theirs.id}/delete")
    assert refused_by_api["detail"] == NOT_YOURS and NOT_YOURS in text(refused_on_site)

    assert client.delete(f"/api/posts/{mine.id}", headers=api).status_code == 204
    assert "mine" not in text(client.get("/explore")) and "theirs" in text(client.get("/explore"))
    again_by_api = assert_problem(client.delete(f"/api/posts/{mine.id}", headers=api), 404)
    again_on_site = client.post(f"/post/{mine.id}/delete")
    assert again_by_api["detail"] == GONE and GONE in text(again_on_site)
    assert post_count(app) == 1


@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_the_delete_needs_the_confirmations_csrf_token(client, make_user, make_post, app):
    author = make_user()
    post = make_post(author)
    login_form = text(client.get("/login"))
    client.post("/login", data={"username": author.username, "password": PASSWORD,
                                "csrf_token": csrf_token(login_form)})  # fmt: skip
    assert client.post(f"/post/{post.id}/delete").status_code == 400
    assert post_count(app) == 1
    token = csrf_token(text(client.get(f"/post/{post.id}/delete")))
    assert client.post(f"/post/{post.id}/delete", data={"csrf_token": token}).status_code == 302
    assert post_count(app) == 0
