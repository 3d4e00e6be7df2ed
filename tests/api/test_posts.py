"""Posts: paginated lists with Link headers, writing (201 with Location), reading, deleting one's own."""

import pytest

from tests.api.conftest import assert_problem


@pytest.fixture
def config_overrides():
    return {"POSTS_PER_PAGE": 2}


def bodies(response) -> list[str]:
    return [post["body"] for post in response.get_json()["items"]]


def test_explore_pages_newest_first_with_link_headers(client, make_user, make_post):
    author = make_user()
    for n in range(5):
        make_post(author, f"post {n}", minutes_ago=n)

    first = client.get("/api/posts")
    second = client.get("/api/posts?page=2")
    last = client.get("/api/posts?page=3")

    assert bodies(first) == ["post 0", "post 1"] and first.headers["Link"] == '</api/posts?page=2>; rel="next"'
    assert bodies(second) == ["post 2", "post 3"]
    assert second.headers["Link"] == '</api/posts?page=3>; rel="next", </api/posts?page=1>; rel="prev"'
    assert bodies(last) == ["post 4"] and last.headers["Link"] == '</api/posts?page=2>; rel="prev"'
    assert_problem(client.get("/api/posts?page=4"), 404)


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
