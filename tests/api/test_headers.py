"""What API answers carry: no cookie ever, `no-store` where a credential was sent, Retry-After only to say wait."""

import pytest

from tests.api.conftest import basic, bearer

LIMITED = {"RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"}


def test_the_token_answer_and_every_answer_to_a_bearer_token_are_never_stored(client, ann, ann_auth):
    answers = {
        "token": client.post("/api/tokens", headers=basic("ann")),
        "wrong password": client.post("/api/tokens", headers=basic("ann", "wrong password")),
        "timeline": client.get("/api/timeline", headers=ann_auth),
        "a post": client.post("/api/posts", headers=ann_auth, json={"body": "hello"}),
        "someone": client.get("/api/users/ann", headers=ann_auth),
        "a revoked token": client.get("/api/timeline", headers=bearer("not-a-token")),
    }

    assert {name: answer.headers.get("Cache-Control") for name, answer in answers.items()} == dict.fromkeys(
        answers, "no-store"
    )


def test_an_api_request_with_a_web_login_s_cookies_gets_no_cookie_back(client, auth, make_user):
    auth.login(make_user("bea"), remember_me="y")
    client.get("/")  # a page of the site, as the browser showed after the login
    with_session = {path: client.get(path) for path in ("/api/posts", "/api/users/bea", "/api/problems/not-found")}
    client.delete_cookie("session")  # the browser closed: only the remember cookie is left
    remember_only = {path: client.get(path) for path in ("/api/posts", "/api/users/bea", "/api/problems/not-found")}

    for path, answer in [*with_session.items(), *remember_only.items()]:
        assert answer.status_code == 200, path
        assert "Set-Cookie" not in answer.headers, (path, answer.headers["Set-Cookie"])


@pytest.mark.parametrize("config_overrides", [LIMITED], indirect=True, ids=["limited"])
def test_retry_after_is_only_sent_with_a_429_or_a_503(client):
    answers = [client.get("/api/posts") for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers.get("Retry-After") is not None for answer in answers] == [False, False, False, True]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert answers[0].headers["X-RateLimit-Limit"] == "3"  # the limit's own headers stay, as docs/api.md says
