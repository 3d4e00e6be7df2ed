"""Schemathesis fuzzes every operation of the OpenAPI document against real gunicorn, valid and invalid data.

Every check schemathesis has runs on every answer (`--checks all`): no 5xx; a documented status code,
content type, body and headers; a request the document allows is taken (not a 400 or 422) and one it forbids
is refused, so the document says exactly what the rules of app/rules.py accept; an operation that needs a
token or a password refuses a request without one. One check of ours: every 422 says what is wrong in the
site's plain words, never the validator's.
"""

import uuid
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks

from app import create_app
from app.api.openapi import openapi_document
from config import TestConfig
from tests.api.conftest import VALIDATOR_WORDS, add_user_with_token, basic, bearer, gunicorn_env, served_database
from tests.support.servers import gunicorn

load_all_checks()


def plain_words_in_every_422(_ctx, response, _case) -> None:
    """Fail on a 422 whose `detail` for a field is the validator's own text ("Input should be...")."""
    if response.status_code == 422:
        details = [error["detail"] for error in response.json().get("errors", [])]
        assert [detail for detail in details if VALIDATOR_WORDS.search(detail)] == [], details


CHECKS = [*REGISTERED_CHECKS.get_all(), plain_words_in_every_422]  # `--checks all`, and ours
# Keeps the whole run near a minute on two cores: 13 operations, positive and negative data.
EXAMPLES_PER_OPERATION = 60


class LiveApi:
    """gunicorn serving the API on a SQLite file, and a user with a valid token."""

    def __init__(self, url: str, token: str, username: str):
        self.url, self.token, self.username = url, token, username

    def headers_for(self, case) -> dict:
        """Basic for getting a token; a fresh token for revoking one (the shared one must live); else the token."""
        if case.path == "/api/tokens" and case.method == "POST":
            return basic(self.username)
        if case.path == "/api/tokens" and case.method == "DELETE":
            fresh = requests.post(f"{self.url}/api/tokens", headers=basic(self.username), timeout=10)
            return bearer(fresh.json()["token"])
        return bearer(self.token)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'api.db'}"
    # Limits stay on (the 429 path is part of the contract) but high enough not to cut the run short.
    # Every case comes from one address, and the check of ignored auth sends wrong passwords for one account:
    # only the limits would answer.
    many = "100000 per minute"
    limits = {name: many for name in ("API_RATE_LIMIT", "ACCOUNT_RATE_LIMIT", "LOGIN_ATTEMPT_LIMIT",
                                      "LOGIN_ACCOUNT_FAILURE_LIMIT", "LOGIN_ADDRESS_FAILURE_LIMIT")}  # fmt: skip
    # Every POST /api/tokens checks a password, and the check of ignored auth sends each again with wrong ones:
    # the suite's one-iteration hash (tests/conftest.py) keeps that from being most of the run.
    env = gunicorn_env(url, folder, **limits, PASSWORD_HASH_METHOD=TestConfig.PASSWORD_HASH_METHOD)
    with served_database(folder, url) as app, gunicorn(folder, env) as server:
        username = "fuzz" + uuid.uuid4().hex[:8]
        yield LiveApi(server.url, add_user_with_token(app, username), username), server


def operation_labels() -> list[str]:
    """Return "METHOD /path" for every operation of the document the app generates (read here, in-process)."""
    app = create_app({})
    with app.test_request_context():
        paths = openapi_document()["paths"]
    return [f"{method.upper()} {path}" for path, item in paths.items() for method in item]


OPERATIONS = operation_labels()


@pytest.fixture(scope="module")
def api_schema(live):
    """The document as the live server serves it."""
    api, _server = live
    return schemathesis.openapi.from_url(f"{api.url}/api/openapi.json")


# GET /api/users/{username}: every string is a valid name (a missing one is a documented 404), so there is
# no invalid request to make; schemathesis says so with Unsatisfiable.
NO_INVALID_REQUEST = {("GET /api/users/{username}", GenerationMode.NEGATIVE)}


def one_place(case) -> bool:
    """Say whether a request names at most one place in a list (`page`, `before`, `after`): a rule the document
    states in words only, since OpenAPI's query parameters are independent of each other. Several are a 400."""
    return len({"page", "before", "after"} & set(case.query or {})) <= 1


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_conforms_and_never_fails(api_schema, live, label, mode):
    api, server = live
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is generated in-process but not served"
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode).filter(lambda case: mode.is_negative or one_place(case)))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def fuzz(case):
        calls.append(case.call_and_validate(base_url=api.url, headers=api.headers_for(case), checks=CHECKS).status_code)

    if (label, mode) in NO_INVALID_REQUEST:
        with pytest.raises(Unsatisfiable):  # checked, not skipped: the document leaves no invalid request to make
            fuzz()
        return
    fuzz()
    assert calls, f"no {mode.value} example was generated for {label}"
    print(f"{label} [{mode.value}]: {len(calls)} requests, statuses {dict(sorted(Counter(calls).items()))}")
