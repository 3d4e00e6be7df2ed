"""A failed form says so plainly and to screen readers: "Error: " before the title, a summary at the
top that links to each field in error, aria-invalid and aria-describedby on the fields, messages in plain words."""

import re
from html import unescape

import pytest

from app.auth import accounts
from app.extensions import db
from app.models import User
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


def password_form_with_errors(client, app, auth, make_user, name: str) -> str:
    """Send one of the forms with password fields so that it comes back with an error, and return its page."""
    short = {"password": "short", "password2": "short"}
    if name == "register":
        make_user("taken")
        form = {"username": "taken", "email": "new@example.com", "password": PASSWORD, "password2": PASSWORD}
        return client.post("/register", data=form).get_data(as_text=True)
    if name == "login":
        make_user("ann")
        return client.post("/login", data={"username": "ann", "password": "not it"}).get_data(as_text=True)
    user = make_user("ann")
    if name == "change_password":
        auth.login(user)
        return client.post("/change_password", data={"current_password": PASSWORD, **short}).get_data(as_text=True)
    with app.app_context():
        token = accounts.reset_token(db.session.get(User, user.id))
    client.get("/reset_password", query_string={"token": token})
    return client.post("/reset_password", data=short).get_data(as_text=True)


@pytest.mark.parametrize("name", ["register", "login", "change_password", "reset_password"])
def test_a_form_that_empties_its_password_fields_says_so_and_why(client, app, auth, make_user, name):
    page = unescape(password_form_with_errors(client, app, auth, make_user, name))
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "For your safety, the password field" in summary and "emptied" in summary
    one = name == "login"
    assert ("was emptied: please type it again." if one else "were emptied: please type them again.") in summary
    passwords = re.findall(r'<input[^>]*type="password"[^>]*>', page)
    assert passwords and all('value=""' in field for field in passwords)  # never sent back


def test_a_form_without_password_fields_says_nothing_of_passwords(client):
    page = client.post("/reset_password_request", data={"email": "not-an-email"}).get_data(as_text=True)
    assert "error-summary" in page and "password field" not in page


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
