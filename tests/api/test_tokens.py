"""Tokens: HTTP Basic gets one (stored hashed, with an expiry), a bearer token opens the API, DELETE revokes it."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Token, utcnow
from tests.api.conftest import assert_problem, basic, bearer


def test_basic_auth_gets_a_token_that_expires_and_is_stored_only_hashed(client, app, ann):
    response = client.post("/api/tokens", headers=basic("ann"))

    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40
    with app.app_context():
        stored = db.session.scalars(sa.select(Token)).one()
        assert stored.token_hash != body["token"] and body["token"] not in stored.token_hash
        assert stored.token_hash == Token.digest(body["token"])
        assert timedelta(minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=1)
        assert body["expires_at"].startswith(stored.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_the_token_opens_the_api_and_sets_no_cookie(client, ann_auth):
    response = client.get("/api/timeline", headers=ann_auth)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [{}, basic("ann", "wrong password"), basic("nobody"), bearer("not-a-token"), basic("ann\x00")],
    ids=["none", "wrong-password", "unknown-user", "bearer-instead", "nul-in-name"],
)
def test_no_token_without_the_right_password(client, ann, headers):
    response = client.post("/api/tokens", headers=headers)
    assert_problem(response, 401)
    # The challenge names the scheme this operation reads (RFC 9110): a password, by HTTP Basic, in UTF-8.
    assert response.headers["WWW-Authenticate"] == 'Basic realm="microblog", charset="UTF-8"'


def test_a_revoked_token_stops_working_at_once(client, ann_auth):
    assert client.delete("/api/tokens", headers=ann_auth).status_code == 204

    response = client.get("/api/timeline", headers=ann_auth)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="microblog", error="invalid_token"'


def test_an_expired_token_is_refused(client, app, ann, get_token):
    token = get_token(ann)
    with app.app_context():
        db.session.execute(sa.update(Token).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert_problem(client.get("/api/timeline", headers=bearer(token)), 401)


@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_csrf_never_applies_to_the_api(client, ann, get_token):
    # With CSRF on, every site form POST without a token is refused; the API takes no cookie, so needs none.
    assert client.post("/login", data={"username": "ann"}).status_code == 400
    token = get_token(ann)
    assert client.post("/api/posts", json={"body": "no csrf here"}, headers=bearer(token)).status_code == 201
