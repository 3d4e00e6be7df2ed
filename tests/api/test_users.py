"""Accounts: register (202 as the form answers, 409 for a taken name, even in a race), read and change a profile,
follow idempotently."""

import json
import threading
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import User
from config import TestConfig
from tests.api.conftest import assert_problem, count_users

NEW_USER = {"username": "bea", "email": "bea@example.com", "password": "long enough"}


def test_register_answers_202_with_the_way_to_a_token_and_the_account_is_there(client):
    response = client.post("/api/users", json={**NEW_USER, "about_me": "hi"})

    assert response.status_code == 202
    assert response.get_json()["links"] == {"token": "/api/tokens"}
    profile = client.get("/api/users/bea").get_json()
    assert profile["username"] == "bea" and profile["about_me"] == "hi"


def test_a_taken_username_is_a_409_pointing_at_it(client, make_user):
    make_user("bea")
    body = assert_problem(client.post("/api/users", json=NEW_USER), 409)
    assert body["errors"][0]["pointer"] == "/username"


def test_a_taken_email_gets_the_answer_of_a_free_one_and_no_account(client, app, make_user):
    """The registration form's rule: nobody learns from the answer which addresses have accounts."""
    make_user("owner", email="bea@example.com")
    free = client.post("/api/users", json={**NEW_USER, "username": "other", "email": "other@example.com"})
    taken = client.post("/api/users", json=NEW_USER)
    assert (taken.status_code, taken.get_json()) == (free.status_code, free.get_json()) == (202, free.get_json())
    assert count_users(app, "bea") == 0


def test_the_password_is_stored_hashed_and_logs_in(client, app):
    assert client.post("/api/users", json=NEW_USER).status_code == 202

    # Read before logging in: a login replaces a hash made another way, which would hide it.
    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).where(User.username == "bea"))
    assert stored.startswith(TestConfig.PASSWORD_HASH_METHOD + "$")
    assert NEW_USER["password"] not in stored
    assert check_password_hash(stored, NEW_USER["password"])
    response = client.post("/login", data={"username": "bea", "password": NEW_USER["password"]})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # home itself, not a way to the login page: logged in


def test_profile_has_the_counts(client, make_user, make_post, ann, ann_auth):
    bea = make_user("bea")
    make_post(bea)
    make_post(bea)
    client.put("/api/following/bea", headers=ann_auth)

    profile = client.get("/api/users/bea").get_json()
    with client.application.app_context():
        digest = bea.avatar_digest

    assert (profile["post_count"], profile["followers_count"], profile["following_count"]) == (2, 1, 0)
    assert profile["links"] == {
        "self": "/api/users/bea",
        "posts": "/api/users/bea/posts",
        "avatar": f"/avatar/{digest}.svg",
    }


@pytest.mark.parametrize("name", ["nobody", "bad name", "nul\x00"])
def test_an_unknown_user_is_a_404(client, name):
    assert_problem(client.get(f"/api/users/{name}"), 404)


def test_follow_and_unfollow_are_idempotent(client, make_user, ann, ann_auth):
    make_user("bea")
    assert [client.put("/api/following/bea", headers=ann_auth).status_code for _ in range(2)] == [204, 204]
    assert client.get("/api/users/bea").get_json()["followers_count"] == 1
    assert [client.delete("/api/following/bea", headers=ann_auth).status_code for _ in range(2)] == [204, 204]
    assert client.get("/api/users/bea").get_json()["followers_count"] == 0


def test_following_yourself_is_forbidden(client, ann, ann_auth):
    assert_problem(client.put("/api/following/ann", headers=ann_auth), 403)


def test_following_needs_a_token_and_a_real_user(client, ann_auth):
    assert_problem(client.put("/api/following/nobody", headers=ann_auth), 404)
    assert_problem(client.put("/api/following/nobody"), 401)


def post_json(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_two_requests_racing_for_a_name_get_one_202_and_one_409(live_api):
    """Both requests pass the "is it taken?" check at once; the unique constraint makes the loser a 409, not a 500."""
    server, app = live_api
    outcomes = []
    for round_number in range(12):
        name = f"racer{round_number}"
        statuses = []
        start = threading.Barrier(2)

        def register(email: str, name=name, statuses=statuses, start=start):
            start.wait()
            statuses.append(post_json(f"{server.url}/api/users", {**NEW_USER, "username": name, "email": email}))

        threads = [threading.Thread(target=register, args=(f"{name}-{n}@example.com",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes.append(sorted(statuses))
        assert count_users(app, name) == 1
    assert outcomes == [[202, 409]] * 12, server.output()
