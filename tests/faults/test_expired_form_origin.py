"""The expired-form page gives back what was typed only to the site's own pages, through real gunicorn.

A cross-site POST carries no session cookie under SameSite=Lax, so Flask-WTF refuses it as an expired
form; that page must not become a one-click resend of the attacker's text, nor replace the victim's
session cookie. Browsers say where a request comes from in Sec-Fetch-Site (and Origin): only a request
from the site's own page, whose session already held a form token, gets its text back.
"""

import urllib.parse
import urllib.request

import pytest

from tests.conftest import PASSWORD
from tests.support.visitor import Visitor, csrf_token, page_text

pytestmark = pytest.mark.slow
PLANTED = "Planted by evil.example: visit my shop"


def post_form(visitor: Visitor, path: str, fields: dict[str, str], headers: dict[str, str]):
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(visitor.base_url + path, data=data, headers={"Accept": "text/html", **headers})
    return visitor.send(request)


def assert_plain_400(answer) -> None:
    assert answer.status == 400
    assert "This form has expired" in page_text(answer.body)
    assert PLANTED not in page_text(answer.body)
    assert 'name="csrf_token"' not in answer.body  # no fresh token: nothing to send again
    assert answer.header("Set-Cookie") == ""  # the victim's session cookie stays as it was


@pytest.mark.parametrize(
    "origin_headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Origin": "https://evil.example"},  # a browser that sends no Sec-Fetch-Site
        {"Sec-Fetch-Site": "same-site", "Origin": "https://blog.evil.example"},
        {},  # neither header: not known to come from the site's page
    ],
)
def test_a_cross_site_post_gets_a_plain_400_that_changes_no_cookie(site, origin_headers):
    attacker_page = Visitor(site.url)  # a cross-site POST carries no cookie of the site (SameSite=Lax)
    answer = post_form(attacker_page, "/edit_profile", {"username": "x", "about_me": PLANTED}, origin_headers)
    assert_plain_400(answer)


def test_a_post_from_the_sites_page_with_a_stale_token_gets_its_text_back(site, site_database):
    name = site_database.add_user()
    visitor = Visitor(site.url)
    visitor.log_in(name, PASSWORD)  # a new session at login: it holds no form token yet
    visitor.get("/edit_profile")  # the page the user typed into; it put a form token in the session
    fields = {"username": name, "about_me": "Typed before lunch", "csrf_token": "stale"}
    for headers in ({"Sec-Fetch-Site": "same-origin", "Origin": site.url}, {"Origin": site.url}):
        answer = post_form(visitor, "/edit_profile", fields, headers)
        assert answer.status == 400 and "Typed before lunch" in page_text(answer.body)
        resent = post_form(visitor, "/edit_profile", {**fields, "csrf_token": csrf_token(answer.body)}, headers)
        assert resent.status == 302
    assert site_database.user(name).about_me == "Typed before lunch"


def test_a_same_origin_post_whose_session_held_no_token_is_plain(site):
    answer = post_form(Visitor(site.url), "/login", {"username": PLANTED}, {"Sec-Fetch-Site": "same-origin"})
    assert_plain_400(answer)
