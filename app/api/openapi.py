"""Request validation and the OpenAPI 3.1 document, both from the pydantic models in schemas.py (spectree).

Spectree validates each operation's query and JSON body and writes the document from the same
models. Three things it does not do our way are done here: a 422 is a problem with JSON pointers
(the `before` hooks), a body must be JSON to be read at all (`json_body`: 415, then 400), and
error responses are documented as `application/problem+json` with the headers a client acts on.
"""

import copy
import json
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, current_app, request, url_for
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from werkzeug.exceptions import BadRequest

from app import rules
from app.api.errors import BASIC_CHALLENGE, BEARER_CHALLENGE, ApiError
from app.api.schemas import Problem, ValidationProblem
from app.errors.problem_details import MEDIA_TYPE
from app.main.pagination import MAX_OFFSET
from app.templating import site_url_for


class ResponseMismatch(RuntimeError):
    """A view answered with a body its own documented schema refuses: a fault of ours, logged and a 500."""


def checked_response(_request, response, error, _instance, *_rest) -> None:
    """Fail loudly when a response breaks the document; send a 204 without a Content-Type."""
    if error is not None:
        raise ResponseMismatch(f"{request.method} {request.url_rule} answered {response.status_code} off its schema")
    if response.status_code == 204:
        del response.headers["Content-Type"]  # spectree labels even an empty body as JSON


bp = Blueprint("openapi", __name__)
spec = SpecTree(
    "flask",
    mode="strict",  # only the operations declared with spec.validate, never the site's pages
    title="Microblog API",
    version="1.0.0",
    description="Accounts, posts and followers as JSON. Every error is RFC 9457 problem details.",
    validation_error_model=ValidationProblem,
    after=checked_response,
    naming_strategy=lambda model: model.__name__,  # plain component names: Problem, PostOut, ...
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
        SecurityScheme(name="basic", data=SecuritySchemeData(type="http", scheme="basic")),
    ],
)
BEARER = {"bearer": []}
BASIC = {"basic": []}
ALWAYS = (429, 500, 503)  # any operation: the rate limit, a fault, a database outage
WITH_BODY = (400, 413, 415)  # operations that read a JSON body (422 is added by spectree)
OPTIONAL_HEADERS = ("Link", "Location")  # a list's Link only when it has pages; a new token has no URL of its own
HEADERS = {
    201: {"Location": "The new user's or post's URL."},
    302: {"Location": "The same page by position (`before`): an old page number's address today."},
    405: {"Allow": "The methods this address takes."},
    429: {"Retry-After": "Seconds to wait before sending again."},
    503: {"Retry-After": "Seconds to wait before sending again."},
}
CHALLENGES = {  # a 401's WWW-Authenticate, by the scheme its operation reads
    "basic": f"`{BASIC_CHALLENGE}`: send your username and password with HTTP Basic.",
    "bearer": f'`{BEARER_CHALLENGE}`, with `error="invalid_token"` when the token is wrong, expired or revoked.',
}


def responses(errors: tuple[int, ...] = (), body: bool = False, **successes) -> Response:
    """Declare an operation's answers: its successes (HTTP_200=Model...) and the problems it can give."""
    codes = {*errors, *ALWAYS, *(WITH_BODY if body else ())}
    empty = [code for code, model in successes.items() if model is None]  # 204 has no body
    models = {code: model for code, model in successes.items() if model is not None}
    return Response(*empty, **models, **{f"HTTP_{code}": Problem for code in sorted(codes)})


def no_content() -> tuple[str, int]:
    return "", 204


def validation_problem(error, where: str):
    """Turn a pydantic error into a 422 whose `errors` point at each wrong field, in plain words."""
    details = []
    for item in error.errors(include_context=False, include_url=False, include_input=False):
        location = [str(part) for part in item["loc"]]
        if where == "body":
            details.append({"pointer": json_pointer(location), "detail": plain_words(item)})
        else:
            details.append({"parameter": ".".join(location), "detail": plain_words(item)})
    return ApiError(422, f"The {where} has {len(details)} invalid field(s); see errors.", {"errors": details})


# What pydantic finds wrong before a rule of app/rules.py sees the value, in the words of the site's forms
# rather than the validator's ("Field required", "Input should be a valid string").
PLAIN_WORDS = {
    "missing": rules.FILL_IN,
    "string_type": rules.NOT_TEXT,
    "extra_forbidden": "This operation takes no field by this name: leave it out.",
}
PAGE_NUMBER = f"Give the page as a whole number from 1 to {MAX_OFFSET}."  # the one number a request sends


def plain_words(item: dict) -> str:
    """Return what to tell the client of one wrong field: a rule's own sentence, else the site's words for it."""
    if item["type"] == "rule":
        return item["msg"]
    if item["loc"] == ("page",):
        return PAGE_NUMBER
    return PLAIN_WORDS.get(item["type"], item["msg"])


def json_pointer(parts: list[str]) -> str:
    """Return the RFC 6901 pointer to a location in the body ('' is the whole body)."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def body_errors(_request, _response, error, _instance, *_rest) -> None:
    if error is not None:
        raise validation_problem(error, "body")


def query_errors(_request, _response, error, _instance, *_rest) -> None:
    if error is not None:
        raise validation_problem(error, "query")


def json_body(view: Callable) -> Callable:
    """Read the body as JSON before validation: 415 unless it says JSON, 400 unless it parses, 422 unless an object."""

    @wraps(view)
    def read_json_first(*args, **kwargs):
        if request.mimetype != "application/json":
            raise ApiError(415, "Send the body as JSON, with Content-Type: application/json.")
        try:
            body = request.get_json()  # parsed once and cached, so validation reads the same object
        except (BadRequest, RecursionError):
            raise ApiError(400, "The body is not valid JSON.") from None
        if not isinstance(body, dict):  # spectree would read an empty list as {}: say what is wrong instead
            message = "The body must be a JSON object."
            raise ApiError(422, message, {"errors": [{"pointer": "", "detail": message}]})
        return view(*args, **kwargs)

    return read_json_first


@bp.route("/openapi.json")
def document():
    """Serve the OpenAPI 3.1 document, indented and in its own order (openapi, info, servers, paths...) for a
    person who opens it, in UTF-8 as JSON is (no escaped letters)."""
    text = json.dumps(openapi_document(), indent=2, ensure_ascii=False)
    return current_app.response_class(text + "\n", mimetype="application/json")


def openapi_document() -> dict:
    """Return spectree's document with the site as its server, problem+json error bodies and the headers each
    status carries."""
    document = copy.deepcopy(spec.spec)
    document = {"openapi": document.pop("openapi"), "info": document.pop("info"), "servers": servers(), **document}
    for path_item in document["paths"].values():
        for operation in path_item.values():
            schemes = [scheme for requirement in operation.get("security", []) for scheme in requirement]
            for code, answer in operation["responses"].items():
                describe_answer(int(code), answer, schemes)
    return document


def servers() -> list[dict]:
    """Return the one server, the site itself: on SITE_URL as every absolute link the site gives (site_url_for),
    else the address the request came to. The document's paths start with /api/, so the server is the site's
    root (SITE_URL's path included)."""
    path = url_for("api.openapi.document", _external=False).removeprefix(request.script_root)
    return [{"url": site_url_for("api.openapi.document").removesuffix(path), "description": "This site"}]


def describe_answer(code: int, answer: dict, schemes: list[str]) -> None:
    if code >= 400 and "content" in answer:
        answer["content"] = {MEDIA_TYPE: answer["content"]["application/json"]}
    headers = {**HEADERS.get(code, {}), **({"Link": "Next and previous pages."} if code == 200 else {})}
    if code == 401:
        headers["WWW-Authenticate"] = " ".join(CHALLENGES[scheme] for scheme in schemes)
    if headers:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}, "required": name not in OPTIONAL_HEADERS}
            for name, text in headers.items()
        }
