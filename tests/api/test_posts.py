"""Posts: paginated lists with Link headers, writing (201 with Location), reading, deleting one's own."""

from datetime import datetime

import pytest

from app.main.pagination import cursor_for
from tests.api.conftest import assert_problem


@pytest.fixture
def config_overrides():
    return {"POSTS_PER_PAGE": 2}


def bodies(response) -> list[str]:
    return [post["body"] for post in response.get_json()["items"]]


def link(response, rel: str) -> str:
    """Return the address of the `rel` link in the Link header."""
    links = dict(reversed(part.split(">; rel=")) for part in response.headers["Link"].split(", "))
    return links[f'"{rel}"'].removeprefix("<")


def test_explore_pages_newest_first_with_link_headers_by_position(client, make_user, make_post):
    author = make_user()
    for n in range(5):
        make_post(author, f"post {n}", minutes_ago=n)

    first = client.get("/api/posts")
    second = client.get(link(first, "next"))
    last = client.get(link(second, "next"))

    assert bodies(first) == ["post 0", "post 1"] and 'rel="prev"' not in first.headers["Link"]
    older = first.get_json()["older"]
    assert link(first, "next") == first.get_json()["links"]["next"] == f"/api/posts?before={older}"
    assert bodies(second) == ["post 2", "post 3"]
    assert bodies(client.get(link(second, "prev"))) == ["post 0", "post 1"]
    assert bodies(last) == ["post 4"] and 'rel="next"' not in last.headers["Link"]
    assert last.get_json()["has_next"] is False and last.get_json()["links"]["next"] is None
    assert_problem(client.get("/api/posts?before=1.1"), 404)  # before the oldest post: no page


def test_an_old_page_number_is_sent_on_to_the_same_page_by_position(client, make_user, make_post):
    author = make_user()
    for n in range(5):
        make_post(author, f"post {n}", minutes_ago=n)

    moved = client.get("/api/posts?page=2")

    assert moved.status_code == 302 and "/api/posts?before=" in moved.headers["Location"]
    assert bodies(client.get(moved.headers["Location"])) == ["post 2", "post 3"]
    assert bodies(client.get("/api/posts?page=1")) == ["post 0", "post 1"]
    assert_problem(client.get("/api/posts?page=4"), 404)
    too_far = assert_problem(client.get("/api/posts?page=1001"), 404)
    assert "too far back" in too_far["detail"]


@pytest.mark.parametrize(
    "query", ["before=abc", "before=-1.5", "before=1234567890123456789.5", "after=1.2.3", "before=1.2&after=1.3"]
)
def test_a_damaged_cursor_is_a_400_in_plain_words(client, query):
    body = assert_problem(client.get(f"/api/posts?{query}"), 400)
    assert "page of posts" in body["detail"] and body["type"].endswith("/api/problems/bad-page-position")


def test_after_the_newest_post_is_an_empty_page_to_look_for_new_posts_from(client, make_user, make_post):
    make_post(make_user(), "the newest")
    newest = client.get("/api/posts").get_json()["items"][0]
    since = client.get(f"/api/posts?after={cursor_for(datetime.fromisoformat(newest['timestamp']), newest['id'])}")
    assert since.status_code == 200 and bodies(since) == []
    assert since.get_json()["has_prev"] is False


@pytest.mark.parametrize("page", ["0", "-1", "two", "99999999999999999999"])
def test_a_page_that_is_not_a_page_number_is_a_422_naming_the_parameter(client, page):
    body = assert_problem(client.get(f"/api/posts?page={page}"), 422)
    assert body["errors"][0]["parameter"] == "page"


def test_timeline_is_mine_and_followed_posts(client, make_user, make_post, ann, ann_auth):
    bea, cy = make_user("bea"), make_user("cy")
    make_post(ann, "mine", minutes_ago=3)
    make_post(bea, "bea's", minutes_ago=2)
    make_post(cy, "cy's", minutes_ago=1)
    client.put("/api/following/bea", headers=ann_auth)

    assert bodies(client.get("/api/timeline", headers=ann_auth)) == ["bea's", "mine"]


def test_a_users_posts(client, make_user, make_post):
    bea = make_user("bea")
    make_post(bea, "by bea")
    make_post(make_user(), "by someone else")
    assert bodies(client.get("/api/users/bea/posts")) == ["by bea"]
    assert_problem(client.get("/api/users/nobody/posts"), 404)


def test_writing_a_post_answers_201_with_location(client, ann_auth):
    response = client.post("/api/posts", json={"body": "Hello, API"}, headers=ann_auth)

    assert response.status_code == 201
    post = response.get_json()
    assert response.headers["Location"] == f"/api/posts/{post['id']}" == post["links"]["self"]
    assert (post["body"], post["author"]) == ("Hello, API", "ann")
    assert client.get(response.headers["Location"]).get_json() == post


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"body": ""}, "/body"),
        ({"body": "x" * 281}, "/body"),
        ({}, "/body"),
        ({"body": 5}, "/body"),
        ({"body": "ok", "extra": 1}, "/extra"),
        ({"body": "nul \x00"}, "/body"),
        ([], ""),
    ],
)
def test_a_wrong_post_is_a_422_pointing_at_the_field(client, ann_auth, body, pointer):
    problem = assert_problem(client.post("/api/posts", json=body, headers=ann_auth), 422)
    assert [error["pointer"] for error in problem["errors"]] == [pointer]


def test_deleting_my_post_is_a_204_and_it_is_gone(client, ann, ann_auth, make_post):
    post = make_post(ann)
    response = client.delete(f"/api/posts/{post.id}", headers=ann_auth)
    assert response.status_code == 204 and response.data == b"" and "Content-Type" not in response.headers
    assert_problem(client.get(f"/api/posts/{post.id}"), 404)


def test_deleting_someone_elses_post_is_a_403_and_it_stays(client, ann_auth, make_user, make_post):
    post = make_post(make_user())
    assert_problem(client.delete(f"/api/posts/{post.id}", headers=ann_auth), 403)
    assert client.get(f"/api/posts/{post.id}").status_code == 200


@pytest.mark.parametrize("post_id", ["12345", "0", "2147483648", "99999999999999999999999"])
def test_a_post_that_cannot_exist_is_a_404(client, post_id):
    assert_problem(client.get(f"/api/posts/{post_id}"), 404)
