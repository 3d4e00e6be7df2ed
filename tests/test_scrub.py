"""Masking secrets: names that hold one, credentials in URLs, name=value pairs in free text, known values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from app.observability import inflight
from app.observability.scrub import MASK, is_sensitive, known_secrets, scrub_mapping, scrub_pairs, scrub_text, scrub_url
from tests.conftest import config_for_tests


@pytest.mark.parametrize(
    "name",
    ["password", "PASSWORD2", "new_pass", "client_secret", "X-Auth-Token", "api_key", "Authorization", "Cookie",
     "session", "csrf_token", "X-CSRFToken", "signature", "Hub-Signature-256", "remember_token"],
)  # fmt: skip
def test_names_that_hold_secrets_are_sensitive_in_any_case(name):
    assert is_sensitive(name) and is_sensitive(name.upper()) and is_sensitive(name.lower())


@pytest.mark.parametrize("name", ["username", "email", "page", "User-Agent", "Referer", "about_me", "next"])
def test_ordinary_names_are_not(name):
    assert not is_sensitive(name)


def test_pairs_keep_names_and_ordinary_values():
    pairs = [("username", "alice"), ("password", "hunter2"), ("X-Api-Key", "k-123"), ("about", "hi")]

    assert scrub_pairs(pairs) == [("username", "alice"), ("password", MASK), ("X-Api-Key", MASK), ("about", "hi")]


def test_urls_lose_their_credentials_and_sensitive_query_values():
    url = "https://bob:s3cr3t@example.com/path?page=2&access_token=abc&sig=x&Signature=zzz"

    assert scrub_url(url) == f"https://bob:{MASK}@example.com/path?page=2&access_token={MASK}&sig=x&Signature={MASK}"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("could not connect to postgresql://app:pg-pass-1@db:5432/microblog", "pg-pass-1"),
        ("redis://:only-a-password@cache:6379/0 is down", "only-a-password"),
        ("POST body was username=bob&password=hunter2&next=/", "hunter2"),
        ("{'username': 'bob', 'password': 'hunter2'}", "hunter2"),
        ('{"api_key": "k-987", "page": 2}', "k-987"),
        ("connect(host='db', passwd=letmein)", "letmein"),
    ],
)
def test_free_text_loses_credentials_and_sensitive_pairs(text, secret):
    scrubbed = scrub_text(text)

    assert secret not in scrubbed and MASK in scrubbed


def test_free_text_keeps_what_is_not_a_secret():
    traceback_line = "KeyError: 'password'  in db.session.rollback() at page=2"

    assert scrub_text(traceback_line) == traceback_line


def test_known_secret_values_are_masked_wherever_they_appear():
    config = {
        "SECRET_KEY": "the-real-secret-key",
        "MAIL_PASSWORD": "mail-pw-42",
        "DATABASE_URL": "postgresql://app:db-pw-99@db/microblog",
        "SESSION_COOKIE_NAME": "session",  # a name, not a secret: "session" must stay readable
        "POSTS_PER_PAGE": 25,
    }

    secrets = known_secrets(config)

    assert set(secrets) == {"the-real-secret-key", "mail-pw-42", "db-pw-99"}
    assert scrub_text("key the-real-secret-key in db.session, mail-pw-42", secrets) == (
        f"key {MASK} in db.session, {MASK}"
    )


def test_nested_mappings_are_masked_by_key():
    event = {"headers": {"Authorization": "Bearer t", "Accept": "*/*"}, "data": {"password": "p", "body": "hi"}}

    assert scrub_mapping(event) == {
        "headers": {"Authorization": MASK, "Accept": "*/*"},
        "data": {"password": MASK, "body": "hi"},
    }


@given(
    user=st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12),
    password=st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P"), blacklist_characters="@/:"),
                     min_size=4, max_size=24),
)  # fmt: skip
def test_no_password_in_a_url_survives(user, password):
    text = f"failed: postgresql://{user}:{password}@db.internal:5432/app"

    assert f":{password}@" not in scrub_text(text)
    assert f":{password}@" not in scrub_url(f"postgresql://{user}:{password}@db.internal:5432/app")


# Cookies: masked by default in every sink, whatever their name (the mail and the log: tests/test_alert_mail.py;
# Sentry: tests/test_sentry.py).


def test_the_request_a_worker_publishes_masks_every_cookie_s_value(tmp_path, monkeypatch):
    monkeypatch.setenv(inflight.DIRECTORY_ENV, str(tmp_path))  # as gunicorn.conf.py sets it for its workers
    app = create_app(config_for_tests(tmp_path))
    app.add_url_rule("/echo/<word>", "echo", lambda word: inflight.current_request())
    client = app.test_client()
    client.set_cookie("login_device", "device-cookie-value-0123456789")
    client.set_cookie("site_prefs", "another-site-cookie-4f1d9a")

    published = client.get("/echo/device-cookie-value-0123456789?next=another-site-cookie-4f1d9a").get_json()

    assert published["path"] == f"/echo/{MASK}?next={MASK}"
