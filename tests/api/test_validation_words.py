"""A 422 says what the site's forms say: every field a rule of app/rules.py covers is refused in that rule's plain
words, whatever was wrong with it (a value the rule refuses, a number, a list, null, nothing at all)."""

import pytest

from app import rules
from tests.api.conftest import VALIDATOR_WORDS, assert_problem

NEW_USER = {"username": "bea", "email": "bea@example.com", "password": "long enough"}
# Each operation's rule-covered fields and a body it takes; the fields that take null (to clear them) are nullable.
OPERATIONS = {
    "register": ("POST", "/api/users", NEW_USER, {"username", "email", "password", "about_me"}, {"about_me"}),
    "change profile": ("PATCH", "/api/users/me", {}, {"display_name", "about_me"}, {"display_name", "about_me"}),
    "post": ("POST", "/api/posts", {"body": "hello"}, {"body"}, set()),
}
NOT_TEXT = [5, 1.5, True, ["a"], {"a": "b"}, None]


def cases():
    for name, (method, path, body, fields, nullable) in OPERATIONS.items():
        for field in sorted(fields):
            for value in NOT_TEXT:
                if value is None and field in nullable:
                    continue  # null clears the field: a valid request
                yield pytest.param(method, path, {**body, field: value}, field, id=f"{name}-{field}-{value!r}")


def send(client, method, path, body, auth):
    headers = auth if path != "/api/users" else {}
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "field"), list(cases()))
def test_a_field_that_is_not_text_is_refused_in_plain_words(client, ann_auth, method, path, body, field):
    body = assert_problem(send(client, method, path, body, ann_auth), 422)
    assert body["errors"] == [{"pointer": f"/{field}", "detail": rules.NOT_TEXT}]


@pytest.mark.parametrize("field", sorted(NEW_USER))
def test_a_required_field_left_out_is_refused_as_the_form_refuses_an_empty_one(client, field):
    body = {name: value for name, value in NEW_USER.items() if name != field}
    problem = assert_problem(client.post("/api/users", json=body), 422)
    assert problem["errors"] == [{"pointer": f"/{field}", "detail": rules.FILL_IN}]


def test_a_post_left_out_is_refused_as_the_form_refuses_an_empty_one(client, ann_auth):
    problem = assert_problem(client.post("/api/posts", json={}, headers=ann_auth), 422)
    assert problem["errors"] == [{"pointer": "/body", "detail": rules.FILL_IN}]


RULE_BREAKS = [
    ("username", "a b", rules.USERNAME_LETTERS),
    ("username", "x" * 65, "Use 64 characters or fewer (this has 65)."),
    ("username", "", rules.FILL_IN),
    ("email", "p@8g1h.test", rules.EMAIL_UNREACHABLE),
    ("email", "nope", rules.EMAIL_WRONG),
    ("password", "short", "Use between 8 and 128 characters."),
    ("about_me", "nul\x00", rules.CONTROL_CHARACTERS),
]


@pytest.mark.parametrize(("field", "value", "words"), RULE_BREAKS, ids=[f"{f}-{v[:8]!r}" for f, v, _ in RULE_BREAKS])
def test_a_value_a_rule_refuses_gets_the_rules_own_words(client, field, value, words):
    problem = assert_problem(client.post("/api/users", json={**NEW_USER, field: value}), 422)
    assert problem["errors"] == [{"pointer": f"/{field}", "detail": words}]


def test_an_unknown_field_and_a_wrong_page_are_said_in_plain_words_too(client):
    extra = assert_problem(client.post("/api/users", json={**NEW_USER, "admin": True}), 422)
    pages = [assert_problem(client.get(f"/api/posts?page={page}"), 422) for page in ("0", "x", "1.5", "9" * 12)]
    for problem in (extra, *pages):
        assert [VALIDATOR_WORDS.search(error["detail"]) for error in problem["errors"]] == [None], problem
    assert extra["errors"][0]["pointer"] == "/admin"
