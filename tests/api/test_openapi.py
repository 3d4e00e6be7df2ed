"""The OpenAPI 3.1 document covers every API route and method, with every error as problem+json."""

import re

import jsonschema_rs
import pydantic
import pytest
import schemathesis

from app.api import schemas

# The document itself and the pages for people (HTML): the problem pages, the reference and its files.
UNDOCUMENTED = {"/api/openapi.json", "/api/problems/<slug>", "/api/docs", "/api/docs/<asset>"}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_the_document_is_openapi_3_1_and_loads_in_schemathesis(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    assert len(list(schema.get_all_operations())) == 13


def test_every_api_route_and_method_is_documented(client, app):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in UNDOCUMENTED:
            continue
        documented = {method.upper() for method in paths[openapi_path(rule.rule)]}
        assert rule.methods - {"HEAD", "OPTIONS"} <= documented, rule.rule


def test_every_error_is_documented_as_problem_json_with_its_headers(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            answers = operation["responses"]
            assert {"429", "500", "503"} <= set(answers), (method, path)
            for code, answer in answers.items():
                if int(code) >= 400:
                    assert list(answer["content"]) == ["application/problem+json"], (method, path, code)
            if "security" in operation and operation["security"] == [{"bearer": []}]:
                assert answers["401"]["headers"]["WWW-Authenticate"]["required"] is True
            assert answers["429"]["headers"]["Retry-After"]["required"] is True


def test_each_401_documents_the_challenge_of_its_own_scheme(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    challenges = {
        (method.upper(), path): operation["responses"]["401"]["headers"]["WWW-Authenticate"]["description"]
        for path, item in paths.items()
        for method, operation in item.items()
        if "401" in operation["responses"]
    }
    assert challenges.pop(("POST", "/api/tokens")).startswith('`Basic realm="microblog", charset="UTF-8"`')
    assert len(challenges) == 7  # every operation that takes a bearer token
    assert all(text.startswith('`Bearer realm="microblog"`') for text in challenges.values()), challenges


SITE = {"SITE_URL": "https://microblog.example.org/blog", "TRUSTED_HOSTS": ["10.0.0.5"]}


@pytest.mark.parametrize("config_overrides", [SITE])
def test_the_server_is_the_site_url_never_the_host_the_request_named(client):
    document = client.get("/api/openapi.json", base_url="http://10.0.0.5/blog").get_json()
    assert [server["url"] for server in document["servers"]] == ["https://microblog.example.org/blog"]


@pytest.mark.parametrize("config_overrides", [{"SITE_URL": ""}])
def test_without_a_site_url_the_server_is_the_address_the_request_came_to(client):
    document = client.get("/api/openapi.json", base_url="http://127.0.0.1:5077").get_json()
    assert [server["url"] for server in document["servers"]] == ["http://127.0.0.1:5077"]


def test_the_document_reads_top_down_indented_for_a_person(client):
    text = client.get("/api/openapi.json").get_data(as_text=True)
    assert text.startswith('{\n  "openapi": "3.1.0",\n  "info": {')


# Values at the edges of each rule: the document must allow exactly those the rule takes.
EDGES = {
    "NewUser": {
        "email": ["ann@example.com", "p@8g1h.test", "P@X.TEST", "a@b.local", "a@localhost.com", "a@onion.io", "nope"],
        "username": ["ann", "a b", "ａｎｎ", "x" * 64, "x" * 65, ""],
        "about_me": ["tab\tand\nline", "nul\x00", "esc\x1b", "x" * 140, "x" * 141],
    },
    "ProfileChange": {"display_name": ["Ann", "Ann\n", "\tAnn", " " * 50, " " * 51, "\u202eevil", "Алёна", "x" * 51]},
    "NewPost": {"body": ["hi", "", "x" * 280, "x" * 281, "bell\x07"]},
}


def field_cases():
    for model, fields in EDGES.items():
        for field, values in fields.items():
            for value in values:
                yield pytest.param(model, field, value, id=f"{model}.{field}={value[:10]!r}")


@pytest.mark.parametrize(("model", "field", "value"), list(field_cases()))
def test_the_document_allows_exactly_what_the_rules_take(client, model, field, value):
    components = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    field_schema = components[model]["properties"][field]
    documented = jsonschema_rs.validator_for(field_schema, validate_formats=True).is_valid(value)
    try:
        getattr(schemas, model).model_validate({**REQUIRED[model], field: value})
        taken = True
    except pydantic.ValidationError:
        taken = False
    assert documented == taken, f"the document {'allows' if documented else 'forbids'} {value!r}; the rule does not"


REQUIRED = {"NewUser": {"username": "ann", "email": "ann@example.com", "password": "long enough"}, "ProfileChange": {},
            "NewPost": {}}  # fmt: skip
