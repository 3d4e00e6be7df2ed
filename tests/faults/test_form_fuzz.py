"""Random text into every form of the real site (gunicorn, CSRF on): never a 500, and what the site accepts
reads back exactly as it was typed, line breaks, tabs and non-BMP characters included. Text with any other
control character (NUL, ESC, DEL, C1) is a 400 that says so, before any view (app/errors/input_checks.py).

The text is any Unicode but surrogates (which UTF-8 cannot carry). Pages escape what they show, so a value
is read back from its element with the HTML escapes undone.
"""

import re
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.faults.conftest import logged_in_visitor
from tests.support.visitor import Visitor, page_text

pytestmark = pytest.mark.slow

FORM = settings(
    max_examples=60,
    deadline=None,  # a shared 2-core machine; speed is the benchmark's business
    derandomize=True,  # the same examples on every run, so CI is repeatable
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
# Characters that tend to break things, drawn more often than chance would: controls, line breaks, a BOM,
# non-BMP letters and emoji, and what HTML escaping turns into entities.
TRICKY = st.sampled_from(list("\x00\x01\x1b\t\r\n\u2028\ufeff😀𝔘<&#;\"'"))
TEXT = st.text(st.one_of(ANY_CHARACTER, TRICKY), max_size=300)
# Half of the names are made of what a username may hold (letters and digits of any script, "_", ".", "-"),
# so that many are accepted and read back; the rest are anything.
USERNAME_CHARACTER = st.one_of(st.characters(categories=("L", "Nd")), st.sampled_from("_.-"))
NAME = st.one_of(
    st.text(USERNAME_CHARACTER, min_size=1, max_size=66), st.text(st.one_of(ANY_CHARACTER, TRICKY), max_size=70)
)
PASSWORD_TEXT = st.text(st.one_of(ANY_CHARACTER, TRICKY), min_size=6, max_size=140)

REFUSED_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all controls but TAB, LF, CR
POST_BODY = re.compile(r'<p class="mb-0 post-body">(.*?)</p>', re.DOTALL)
PROFILE_NAME = re.compile(r'<h1 class="h3">(.*?)</h1>', re.DOTALL)
ABOUT_ME = re.compile(r'<p class="about-me">(.*?)</p>', re.DOTALL)


@pytest.fixture(scope="module")
def member(site, site_database):
    """A logged-in person whose name the profile test may change: a dict with the current name and the visitor."""
    name, visitor = logged_in_visitor(site, site_database)
    return {"name": name, "visitor": visitor}


@pytest.fixture(autouse=True, scope="module")
def no_error_logged(site):
    yield
    assert site.log.errors() == []


def read_back(pattern: re.Pattern, page: str) -> str | None:
    found = pattern.search(page)
    return page_text(found.group(1)) if found else None


def assert_refused_politely(answer, *typed: str) -> None:
    """A form that did not accept its input comes back (200) with an error shown at a field; text with a
    control character no one can type is a 400 page that says so."""
    if any(REFUSED_CONTROL.search(text) for text in typed):
        assert answer.status == 400 and "control character" in answer.body, answer.status
        return
    assert answer.status == 200, answer.status
    assert "invalid-feedback" in answer.body or "Invalid username or password" in answer.body


@FORM
@given(body=TEXT)
def test_posting_any_text(member, body):
    visitor = member["visitor"]
    answer = visitor.submit("/", {"post": body})
    event(f"status {answer.status}")  # --hypothesis-show-statistics: how many were accepted
    if answer.status != 302:
        assert_refused_politely(answer, body)
        return
    newest = read_back(POST_BODY, visitor.get("/user/" + quote(member["name"], safe="")).body)
    assert newest == body


@FORM
@given(username=NAME, about_me=TEXT)
def test_editing_the_profile_with_any_text(member, username, about_me):
    visitor = member["visitor"]
    answer = visitor.submit("/edit_profile", {"username": username, "about_me": about_me})
    event(f"status {answer.status}")
    if answer.status != 302:
        assert_refused_politely(answer, username, about_me)
        return
    member["name"] = username
    profile = visitor.get("/user/" + quote(username, safe=""))
    assert profile.status == 200
    assert read_back(PROFILE_NAME, profile.body) == username
    assert (read_back(ABOUT_ME, profile.body) or "") == about_me


@FORM
@given(username=NAME, password=PASSWORD_TEXT)
def test_registering_with_any_name_and_password(site, username, password):
    answer = Visitor(site.url).submit(
        "/register",
        {"username": username, "email": f"{uuid.uuid4().hex}@example.com", "password": password, "password2": password},
    )
    event(f"status {answer.status}")
    if answer.status != 302:
        assert_refused_politely(answer, username, password)
        return
    profile = Visitor(site.url).get("/user/" + quote(username, safe=""))
    assert profile.status == 200 and read_back(PROFILE_NAME, profile.body) == username
    newcomer = Visitor(site.url)
    assert newcomer.submit("/login", {"username": username, "password": password}).status == 302  # same password


@FORM
@given(username=TEXT, password=TEXT)
def test_logging_in_with_any_text(site, username, password):
    answer = Visitor(site.url).submit("/login", {"username": username, "password": password})
    assert_refused_politely(answer, username, password)
