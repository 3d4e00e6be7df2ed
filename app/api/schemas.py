"""The shapes of what the API reads and writes; the OpenAPI document is generated from these same models."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from app.forms import PASSWORD_MAX
from app.main.pagination import MAX_OFFSET
from app.models import ABOUT_ME_MAX, EMAIL_MAX, POST_MAX, USERNAME_MAX, normalize_email

# The registration form's rule (app.models.USERNAME_PATTERN) in the syntax of pydantic's regex engine,
# where `$` matches only at the very end. ASCII is its own NFKC form: a full-width name is refused.
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"


def normalized(function):
    return BeforeValidator(lambda value: function(value) if isinstance(value, str) else value)


def storable(text: str) -> str:
    """Refuse text no database column can store: NUL characters and lone surrogates."""
    if "\x00" in text:
        raise ValueError("contains a NUL character, which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None
    return text


Text = Annotated[str, AfterValidator(storable)]


class Request(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class NewUser(Request):
    username: Text = Field(min_length=1, max_length=USERNAME_MAX, pattern=USERNAME_PATTERN)
    email: Annotated[EmailStr, Field(max_length=EMAIL_MAX), AfterValidator(storable), normalized(normalize_email)]
    password: Text = Field(min_length=8, max_length=PASSWORD_MAX)
    about_me: Text | None = Field(default=None, max_length=ABOUT_ME_MAX)


class NewPost(Request):
    body: Text = Field(min_length=1, max_length=POST_MAX)


class PageQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=MAX_OFFSET, description="1 is the newest page")


class Links(BaseModel):
    self: str


class UserLinks(Links):
    posts: str
    avatar: str


class UserOut(BaseModel):
    username: str
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
    links: PostLinks


class PostPage(BaseModel):
    """One page of posts, newest first; the `Link` header has the next and previous pages."""

    items: list[PostOut]
    page: int
    has_next: bool
    has_prev: bool


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
