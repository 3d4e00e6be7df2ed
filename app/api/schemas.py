"""The shapes of what the API reads and writes; the OpenAPI document is generated from these same models."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from app import rules
from app.main.pagination import CURSOR_PATTERN, MAX_OFFSET, OLD_PAGES_ANSWERED


def rule(check, *args) -> AfterValidator:
    """Check a field with app/rules.py, the rules every door shares: a refusal is a 422 in the form's own words."""

    def validate(value: str):
        try:
            return check(value, *args)
        except rules.RuleBroken as broken:
            raise PydanticCustomError("rule", str(broken)) from None

    return AfterValidator(validate)


def text(most: int, least: int = 0, **schema) -> WithJsonSchema:
    """What the OpenAPI document says of a text field: exactly what its rule above accepts, so that every value the
    document allows is taken and every value it forbids refused (schemathesis checks both ways)."""
    return WithJsonSchema({"type": "string", "maxLength": most, **({"minLength": least} if least else {}), **schema})


def as_json_schema(pattern: re.Pattern) -> str:
    """Return a rule's whole-text pattern (\\A...\\Z) as a JSON Schema pattern (^...$)."""
    return "^" + pattern.pattern.removeprefix(r"\A").removesuffix(r"\Z") + "$"


def none_of(*classes: re.Pattern) -> str:
    """Return the pattern of a text holding no character of these rules' classes ("[...]" of single characters and
    ranges), each written as \\uXXXX so that the document shows no raw control character."""
    inside = "".join(character_class.pattern[1:-1] for character_class in classes)
    return "^[^" + "".join(c if c == "-" else f"\\u{ord(c):04x}" for c in inside) + "]*$"


def not_under(names: tuple[str, ...]) -> str:
    """Return the pattern of an address whose domain is none of `names` nor under one, in any case (a pattern in
    the document has no flag for case; the rule lower-cases the address first)."""
    spelled = "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name) for name in names)
    return f"^(?!.*[@.](?:{spelled})$)"


TEXT_WORDS = "No control character (such as NUL or ESC) but tab and line breaks."
Username = Annotated[
    str,
    rule(rules.check_username),
    text(rules.USERNAME_MAX, 1, pattern=as_json_schema(rules.USERNAME_PATTERN), description=rules.USERNAME_LETTERS),
]
Email = Annotated[
    str,
    rule(rules.check_email),
    text(rules.EMAIL_MAX, 1, format="email", pattern=not_under(rules.RESERVED_DOMAINS), description=(
        "Stored trimmed and lower-cased. Not under a name kept for tests and local networks, where no mail can go: "
        + ", ".join(f".{name}" for name in rules.RESERVED_DOMAINS) + "."
    )),
]  # fmt: skip
Password = Annotated[str, rule(rules.check_password), text(rules.PASSWORD_MAX, rules.PASSWORD_MIN)]
AboutMe = Annotated[
    str,
    rule(rules.check_text, rules.ABOUT_ME_MAX),
    text(rules.ABOUT_ME_MAX, pattern=none_of(rules.CONTROL_IN_TEXT), description=TEXT_WORDS),
]
PostBody = Annotated[
    str,
    rule(rules.check_text, rules.POST_MAX, 1),
    text(rules.POST_MAX, 1, pattern=none_of(rules.CONTROL_IN_TEXT), description=TEXT_WORDS),
]
DisplayName = Annotated[
    str,
    rule(rules.check_display_name),
    text(rules.DISPLAY_NAME_MAX, pattern=none_of(rules.CONTROL, rules.BIDI_CONTROLS), description=(
        "One line of visible text in any script: no control or direction characters. Stored trimmed; empty (or "
        "null) clears it."
    )),
]  # fmt: skip


class Request(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class NewUser(Request):
    username: Username
    email: Email
    password: Password
    about_me: AboutMe | None = None


class ProfileChange(Request):
    """The fields to change; one left out stays as it is, null clears it."""

    display_name: DisplayName | None = None
    about_me: AboutMe | None = None


class NewPost(Request):
    body: PostBody


def cursor(description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN, "description": description})


def without_null_defaults(schema: dict) -> None:
    """Leave `default: null` out of the document: a parameter left out is not given, and no query string sends null."""
    for field in schema["properties"].values():
        field.pop("default", None)


class PageQuery(BaseModel):
    """Where a page starts: at the newest post (none given), or one of `before`, `after` and the old `page`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=without_null_defaults)  # a misspelt name is said

    before: Annotated[str | None, cursor("The posts older than this position: a page's `older` cursor.")] = None
    after: Annotated[str | None, cursor("The posts newer than this position: a page's `newer` cursor.")] = None
    page: Annotated[
        int | None,
        Field(ge=1, le=MAX_OFFSET),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_OFFSET, "description": (
            "An old page number, kept for old links: 1 is the newest page; 2 to "
            f"{OLD_PAGES_ANSWERED} answer 302 to the same page by position (`before`); past that, 404."
        )}),
    ] = None  # fmt: skip


class Links(BaseModel):
    self: str


class UserLinks(Links):
    posts: str
    avatar: str


class UserOut(BaseModel):
    username: str
    display_name: str | None = Field(description="The name shown beside the username, in any script")
    about_me: str | None
    last_seen: datetime | None
    post_count: int
    followers_count: int
    following_count: int
    links: UserLinks


class PostLinks(Links):
    author: str


class PostOut(BaseModel):
    id: int
    body: str
    timestamp: datetime
    author: str
    author_display_name: str | None
    links: PostLinks


class PageLinks(BaseModel):
    next: str | None = Field(description="The older posts (`before` this page's last post); null on the oldest page")
    prev: str | None = Field(description="The newer posts (`after` this page's first post); null on the newest page")


class PostPage(BaseModel):
    """One page of posts, newest first; the `Link` header has the next (older) and previous (newer) pages too."""

    items: list[PostOut]
    has_next: bool
    has_prev: bool
    older: str | None = Field(description="The cursor to give as `before` for the next page; null on the oldest")
    newer: str | None = Field(description="The cursor to give as `after` for the previous page; null on the newest")
    links: PageLinks


class RegistrationLinks(BaseModel):
    token: str


class Registration(BaseModel):
    """The answer to a registration, the same whether the address was free or not (its owner gets a mail)."""

    detail: str
    links: RegistrationLinks


class TokenOut(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime


class FieldError(BaseModel):
    """One wrong field: `pointer` (RFC 6901) into the body, or `parameter` for a query parameter."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; `code`, `name`, `description` and `request_id` are kept for older clients."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str
    code: int
    name: str
    description: str
    request_id: str


class ValidationProblem(Problem):
    errors: list[FieldError]
