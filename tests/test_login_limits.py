"""Login limits count failures per account and per address; failures and refusals are logged."""

import logging
import re

import pytest

from tests.conftest import PASSWORD

OFFICE = "198.51.100.7"


# The failure windows; every attempt from one address, whatever its outcome, has a window of its own
# (tests/test_account_doors.py), lifted here so that it does not answer first.
EVERY_ATTEMPT = {"LOGIN_ATTEMPT_LIMIT": "1000 per minute"}


@pytest.fixture
def config_overrides():
    return {"RATELIMIT_ENABLED": True, **EVERY_ATTEMPT}  # the defaults of config.py otherwise


def attempt(client, username, password="wrong guess", address=OFFICE):
    data = {"username": username, "password": password}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_a_strangers_failures_do_not_lock_out_a_colleague_with_the_right_password(client, make_user):
    make_user("victim")
    colleague = make_user("colleague")
    assert [attempt(client, "victim").status_code for _ in range(11)][-1] == 429

    response = attempt(client.application.test_client(), colleague.username, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_correct_login_does_not_count_against_the_address(client, make_user):
    people = [make_user() for _ in range(12)]
    for person in people:
        browser = client.application.test_client()
        assert attempt(browser, person.username, PASSWORD).status_code == 302


def test_guessing_one_account_from_many_addresses_is_limited_per_account(client, make_user):
    make_user("target")
    statuses = [attempt(client, "target", address=f"203.0.113.{n}").status_code for n in range(1, 60)]
    assert statuses[0] == 200 and statuses[-1] == 429


def test_spraying_many_accounts_from_one_address_is_limited_per_address(client):
    statuses = [attempt(client, f"someone{n}").status_code for n in range(120)]
    assert statuses[0] == 200 and statuses[-1] == 429


def test_failures_and_refusals_are_logged_with_account_and_address_but_no_password(client, make_user, caplog):
    caplog.set_level(logging.INFO, logger="app")
    make_user("victim")
    for _ in range(11):
        attempt(client, "victim", password="hunter2-secret")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("app")]
    failed = [m for m in warnings if "Failed login" in m]
    refused = [m for m in warnings if "refused" in m]
    assert len(failed) == 10 and "'victim'" in failed[0] and OFFICE in failed[0]
    assert refused and "'victim'" in refused[0] and OFFICE in refused[0]
    assert not any("hunter2" in message for message in warnings)


def test_a_registration_refused_for_its_rate_is_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="app")
    form = {"username": "", "email": "x", "password": "x", "password2": "y"}
    for _ in range(11):
        last = client.post("/register", data=form, environ_base={"REMOTE_ADDR": OFFICE})
    assert last.status_code == 429
    refused = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()]
    assert refused and "/register" in refused[0] and OFFICE in refused[0]


class TestKnownBrowsers:
    """A browser that has logged in to an account before is held only to that account's window at its address."""

    @pytest.fixture
    def config_overrides(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_ADDRESS_FAILURE_LIMIT": "5 per minute",
                "LOGIN_ACCOUNT_FAILURE_LIMIT": "5 per minute", **EVERY_ATTEMPT}  # fmt: skip

    def test_a_spray_from_the_office_does_not_refuse_a_colleague_in_her_own_browser(self, app, make_user):
        colleague = make_user("colleague")
        her_browser, new_browser, stranger = app.test_client(), app.test_client(), app.test_client()
        assert attempt(her_browser, "colleague", PASSWORD).status_code == 302
        her_browser.post("/logout")
        assert [attempt(stranger, f"someone{n}").status_code for n in range(6)][-1] == 429

        assert attempt(her_browser, colleague.username, PASSWORD).status_code == 302
        assert attempt(new_browser, colleague.username, PASSWORD).status_code == 429  # until the window passes

    def test_guesses_at_an_account_from_elsewhere_do_not_lock_its_owner_out(self, app, make_user):
        owner = make_user("owner")
        owners_browser = app.test_client()
        assert attempt(owners_browser, "owner", PASSWORD).status_code == 302
        owners_browser.post("/logout")
        guesses = [attempt(app.test_client(), "owner", address=f"203.0.113.{n}").status_code for n in range(1, 8)]
        assert guesses[-1] == 429

        assert attempt(owners_browser, owner.username, PASSWORD).status_code == 302

    def test_a_forged_device_cookie_counts_for_nothing(self, app, make_user):
        make_user("owner")
        for n in range(1, 7):
            attempt(app.test_client(), "owner", address=f"203.0.113.{n}")
        forger = app.test_client()
        forger.set_cookie("login_device", "owner")
        assert attempt(forger, "owner", PASSWORD).status_code == 429


class TestDeviceCookies:
    """A device cookie is bound to the account's password and logins; the failures made with it count against it."""

    @pytest.fixture
    def config_overrides(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_ACCOUNT_FAILURE_LIMIT": "5 per minute", **EVERY_ATTEMPT}

    def owners_browser(self, app, user):
        browser = app.test_client()
        assert attempt(browser, user.username, PASSWORD).status_code == 302
        return browser

    def lock_the_account(self, app, name):
        guesses = [attempt(app.test_client(), name, address=f"203.0.113.{n}").status_code for n in range(1, 8)]
        assert guesses[-1] == 429

    def test_it_dies_when_the_password_changes(self, app, make_user):
        owner = make_user("owner")
        stolen = self.owners_browser(app, owner).get_cookie("login_device").value
        changer = self.owners_browser(app, owner)
        form = {"current_password": PASSWORD, "password": "a new password", "password2": "a new password"}
        assert changer.post("/change_password", data=form).status_code == 302
        self.lock_the_account(app, "owner")

        thief = app.test_client()
        thief.set_cookie("login_device", stolen)
        statuses = [attempt(thief, "owner", address=f"192.0.2.{n}").status_code for n in range(1, 31)]
        assert set(statuses) == {429}

    def test_it_dies_when_every_login_ends(self, app, make_user):
        owner = make_user("owner")
        browser = self.owners_browser(app, owner)
        stolen = browser.get_cookie("login_device").value
        assert browser.post("/logout_everywhere").status_code == 302
        self.lock_the_account(app, "owner")

        thief = app.test_client()
        thief.set_cookie("login_device", stolen)
        assert attempt(thief, "owner", address="192.0.2.1").status_code == 429

    def test_failures_made_with_it_count_against_it(self, app, make_user):
        owner = make_user("owner")
        stolen = self.owners_browser(app, owner).get_cookie("login_device").value
        self.lock_the_account(app, "owner")
        thief = app.test_client()
        thief.set_cookie("login_device", stolen)

        statuses = [attempt(thief, "owner", address=f"192.0.2.{n}").status_code for n in range(1, 31)]

        assert statuses[0] == 200  # the owner's own browser is let in past the account's window...
        assert statuses.count(200) == 10 and statuses[-1] == 429  # ...for LOGIN_DEVICE_FAILURE_LIMIT failures


RESET_LINK = re.compile(r'<a [^>]*href="/reset_password_request"[^>]*>Forgot your password\?</a>')


def test_the_429_after_failed_logins_offers_a_new_password(client, make_user):
    make_user("ann")
    refused = [attempt(client, "ann") for _ in range(11)][-1]
    assert refused.status_code == 429
    assert RESET_LINK.search(refused.get_data(as_text=True))


def test_a_wrong_current_password_past_the_limit_offers_a_new_password_too(app, client, auth, make_user):
    app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"] = "2 per minute"
    auth.login(make_user("ann"))
    client.delete_cookie("login_device")  # a known browser would be held only to the account-and-address window
    form = {"current_password": "a guess", "password": "a new password", "password2": "a new password"}
    refused = [client.post("/change_password", data=form) for _ in range(3)][-1]
    assert refused.status_code == 429
    assert RESET_LINK.search(refused.get_data(as_text=True))


def test_the_429_of_too_many_login_attempts_offers_a_new_password(app, client):
    app.config["LOGIN_ATTEMPT_LIMIT"] = "2 per minute"
    refused = [attempt(client, f"someone{n}") for n in range(3)][-1]
    assert refused.status_code == 429
    assert RESET_LINK.search(refused.get_data(as_text=True))


def test_other_429s_offer_no_new_password(client):
    form = {"username": "", "email": "x", "password": "x", "password2": "y"}
    refused = [client.post("/register", data=form, environ_base={"REMOTE_ADDR": OFFICE}) for _ in range(11)][-1]
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many attempts" in page and "Forgot your password?" not in page
