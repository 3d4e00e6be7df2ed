"""Every API error is RFC 9457 problem details: one test per status, and a walk over every /api route."""

import re

import pytest
from werkzeug.routing import Rule

from tests.api.conftest import assert_problem, bearer
from tests.support.outages import database_unreachable

MARKER = "leak-marker-5e1d"


def test_400_malformed_json(client, ann_auth):
    response = client.post("/api/posts", data='{"body": ' + MARKER, content_type="application/json", headers=ann_auth)
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON" and MARKER not in response.get_data(as_text=True)


def test_400_json_nested_too_deep_for_the_parser(client, ann_auth):
    response = client.post("/api/posts", data="[" * 100_000, content_type="application/json", headers=ann_auth)
    assert_problem(response, 400)


def test_401_carries_a_bearer_challenge(client):
    response = client.post("/api/posts", json={"body": "hi"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="microblog"'


def test_403_for_someone_elses_post(client, ann_auth, make_user, make_post):
    assert_problem(client.delete(f"/api/posts/{make_post(make_user()).id}", headers=ann_auth), 403)


def test_404_from_routing(client):
    body = assert_problem(client.get("/api/no-such-thing"), 404)
    assert body["type"].endswith("/api/problems/not-found")


def test_405_keeps_allow(client):
    response = client.patch("/api/posts")
    assert_problem(response, 405)
    assert {method.strip() for method in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS", "POST"}


def test_409_for_a_taken_name(client, ann):
    assert_problem(
        client.post("/api/users", json={"username": "ann", "email": "x@example.com", "password": "x" * 8}), 409
    )


def test_413_for_a_body_over_the_limit(client, ann_auth):
    response = client.post("/api/posts", json={"body": "x" * (1024 * 1024)}, headers=ann_auth)
    assert_problem(response, 413)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_415_unless_the_body_says_it_is_json(client, ann_auth, content_type):
    response = client.post("/api/posts", data='{"body": "hi"}', content_type=content_type, headers=ann_auth)
    assert_problem(response, 415)


def test_422_lists_every_wrong_field_with_a_pointer(client):
    response = client.post("/api/users", json={"username": "a b", "email": "nope", "password": "short", "x": 1})
    body = assert_problem(response, 422)
    assert sorted(error["pointer"] for error in body["errors"]) == ["/email", "/password", "/username", "/x"]


@pytest.mark.parametrize("config_overrides", [{"RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"}])
def test_429_per_token_with_retry_after(client, ann_auth, make_user, get_token):
    bea_auth = bearer(get_token(make_user("bea")))
    assert [client.get("/api/timeline", headers=ann_auth).status_code for _ in range(3)] == [200] * 3

    refused = client.get("/api/timeline", headers=ann_auth)

    assert_problem(refused, 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/timeline", headers=bea_auth).status_code == 200  # another token, another allowance


@pytest.mark.parametrize("config_overrides", [{"PROPAGATE_EXCEPTIONS": False}])
def test_500_says_nothing_of_the_fault(client, app):
    def fail():
        raise RuntimeError(f"broken near {MARKER} in /srv/app.py")

    app.add_url_rule("/api/boom", "boom", fail)
    response = client.get("/api/boom")
    body = assert_problem(response, 500)
    assert body["type"].endswith("/api/problems/server-error")
    assert MARKER not in response.get_data(as_text=True) and "RuntimeError" not in response.get_data(as_text=True)


def test_503_with_retry_after_while_the_database_is_down_then_recovery(client, app, ann, ann_auth):
    with database_unreachable(app):
        reading = client.get("/api/posts")
        writing = client.post("/api/posts", json={"body": "during the outage"}, headers=ann_auth)
    for response in (reading, writing):
        assert_problem(response, 503)
        assert response.headers["Retry-After"] == str(app.config["RETRY_AFTER"])
    assert client.get("/api/posts").status_code == 200
    assert client.post("/api/posts", json={"body": "after"}, headers=ann_auth).status_code == 201


def test_every_problem_type_is_a_page_we_serve(client):
    for slug in ["malformed-json", "unauthorized", "not-found", "validation-failed", "unavailable", "http-418"]:
        page = client.get(f"/api/problems/{slug}")
        assert page.status_code == 200 and page.mimetype == "text/html"
    assert_problem(client.get("/api/problems/no-such-problem"), 404)


def sample_path(rule: Rule) -> str:
    """Fill a rule's variables with values that name nothing (a missing user, post or problem)."""
    values = {"username": "nobody", "post_id": "999999", "slug": "no-such-problem", "asset": "no-such-file.js"}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda match: values[match.group(1)], rule.rule)


def error_requests(rule: Rule) -> list[tuple[str, dict]]:
    """Return requests that must fail on `rule`: each method without a token and with a broken body, and PATCH."""
    requests = [("PATCH", {})]  # no /api route takes PATCH: a 405
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        requests.append((method, {"data": "{broken", "content_type": "application/json"}))
        requests.append((method, {"data": "x", "content_type": "text/plain", "headers": bearer("expired")}))
        requests.append((method, {"query_string": {"page": "-3"}}))
    return requests


def test_contract_every_api_error_is_one_problem_shape(client, app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(rules) >= 10
    seen = set()
    for rule in rules:
        path = sample_path(rule)
        for method, options in error_requests(rule):
            response = client.open(path, method=method, **options)
            if response.status_code >= 400:
                body = assert_problem(response, response.status_code)
                assert client.get(body["type"]).status_code == 200, body["type"]
                seen.add(response.status_code)
    assert {400, 401, 404, 405, 415, 422} <= seen


def test_a_problem_page_sets_code_in_code_not_in_backticks(client):
    page = client.get("/api/problems/unauthorized").get_data(as_text=True)
    assert "`" not in page
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in page and "<code>POST /api/tokens</code>" in page
