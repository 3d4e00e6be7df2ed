"""A failed form says so plainly and to screen readers: "Error: " before the title, a summary at the
top that links to each field in error, aria-invalid and aria-describedby on the fields, messages in plain words."""

import re
from html import unescape

import pytest

from tests.conftest import PASSWORD


def failed_registration(client) -> str:
    form = {"username": "", "email": "not-an-email", "password": "short", "password2": "other"}
    return unescape(client.post("/register", data=form).get_data(as_text=True))


def test_the_title_starts_with_error(client):
    assert "<title>Error: Register · Microblog</title>" in failed_registration(client)
    assert "<title>Register · Microblog</title>" in client.get("/register").get_data(as_text=True)


def test_a_summary_at_the_top_links_to_each_field_in_error(client):
    page = failed_registration(client)
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "There is a problem with these fields" in summary
    links = re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary)
    assert links == [("username", "Username"), ("email", "Email"), ("password", "Password"),
                     ("password2", "Repeat password")]  # fmt: skip
    assert page.index("error-summary") < page.index('id="username"')


def test_each_field_in_error_is_invalid_and_described_by_its_message(client):
    page = failed_registration(client)
    field = re.search(r'<input[^>]*id="email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="email-error"' in field
    message = re.search(r'<div class="invalid-feedback" id="email-error">(.*?)</div>', page, re.S).group(1)
    assert message == '<span class="visually-hidden">Error:</span> Enter an email address like name@example.com.'


def test_messages_are_plain_words(client):
    page = failed_registration(client)
    assert "Please fill this in." in page and "Use between 8 and 128 characters." in page
    assert "Field must be" not in page and "This field is required" not in page and "Invalid email" not in page


def test_a_form_that_passes_has_no_summary_and_no_invalid_field(client, auth, make_user):
    page = client.get("/login").get_data(as_text=True)
    assert "error-summary" not in page and "aria-invalid" not in page
    auth.login(make_user(), PASSWORD)
    page = client.get("/").get_data(as_text=True)
    assert "error-summary" not in page and "<title>Home · Microblog</title>" in page


def test_a_failed_post_keeps_the_remember_me_checkbox_a_checkbox(client, make_user):
    page = client.post("/login", data={"username": "", "password": "", "remember_me": "y"}).get_data(as_text=True)
    checkbox = re.search(r'<input[^>]*name="remember_me"[^>]*>', page).group(0)
    assert 'type="checkbox"' in checkbox and "checked" in checkbox


ACCOUNT_FIELDS = {
    "/register": {"username": ("text", "username"), "email": ("email", "email"),
                  "password": ("password", "new-password"), "password2": ("password", "new-password")},
    "/login": {"username": ("text", "username"), "password": ("password", "current-password")},
    "/reset_password_request": {"email": ("email", "email")},
    "/change_password": {"current_password": ("password", "current-password"),
                         "password": ("password", "new-password"), "password2": ("password", "new-password")},
    "/edit_profile": {"username": ("text", "username"), "display_name": ("text", "name")},
}  # fmt: skip


@pytest.mark.parametrize("path", ACCOUNT_FIELDS)
def test_each_account_field_tells_the_browser_what_it_holds(client, auth, make_user, path):
    """The right keyboard on a phone and the right suggestion from a password manager; the server still checks."""
    if path in ("/change_password", "/edit_profile"):
        auth.login(make_user())
    page = client.get(path).get_data(as_text=True)
    for name, (kind, autocomplete) in ACCOUNT_FIELDS[path].items():
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert f'type="{kind}"' in field and f'autocomplete="{autocomplete}"' in field, field


def test_an_address_is_still_checked_by_the_site_whatever_the_browser_allowed(client):
    page = client.post("/register", data={"email": "not-an-email"}).get_data(as_text=True)
    assert "Enter an email address like name@example.com." in page
