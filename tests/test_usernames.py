"""Usernames and emails that cannot pass for someone else's."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD_HASH


def register(client, username, email=None, password="s3cret-pass"):
    email = email or "new@example.com"
    data = {"username": username, "email": email, "password": password, "password2": password}
    return client.post("/register", data=data)


def usernames(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(User.username)))


@pytest.mark.parametrize(
    "lookalike",
    [
        "demo1\n",  # a `$` in a regular expression also matches before a final newline
        "demo1\u3164",  # HANGUL FILLER: invisible
        "d\u0435mo1",  # a Cyrillic е
        "Demo1",  # the same name in other letter case
        "\uff44\uff45\uff4d\uff4f\uff11",  # full-width letters: NFKC makes them "demo1"
    ],
)
def test_a_lookalike_of_a_taken_name_is_refused(client, app, make_user, lookalike):
    make_user("demo1")

    response = register(client, lookalike)

    assert response.status_code == 200, response.headers.get("Location")
    assert usernames(app) == ["demo1"]


def test_a_name_outside_the_allowed_letters_says_which_are_allowed(client, app):
    page = register(client, "d\u0435mo1").get_data(as_text=True)
    assert "Use the letters A–Z and a–z, digits, dots, dashes and underscores" in page
    assert usernames(app) == []


def test_a_full_width_name_is_offered_in_its_plain_form_not_stored_silently(client, app):
    offered = register(client, "\uff21nn")  # "Ａnn", as a full-width keyboard types it
    page = offered.get_data(as_text=True)
    assert offered.status_code == 200 and 'value="Ann"' in page and "In plain letters this name reads" in page
    assert usernames(app) == []

    assert register(client, "Ann").status_code == 302
    assert usernames(app) == ["Ann"]


def test_renaming_to_another_case_of_a_taken_name_is_refused(client, app, auth, make_user):
    make_user("demo1")
    auth.login(make_user("other"))
    response = client.post("/edit_profile", data={"username": "DEMO1", "about_me": ""})
    assert "This username is taken" in response.get_data(as_text=True)
    assert usernames(app) == ["demo1", "other"]


def test_an_email_in_other_letter_case_does_not_make_a_second_account(client, app, make_user):
    make_user("alice", email="alice@example.com")
    register(client, "mallory", email="ALICE@Example.COM")
    assert usernames(app) == ["alice"]


def test_emails_are_stored_lower_cased(client, app):
    register(client, "bob", email="Bob@Example.COM")
    with app.app_context():
        assert db.session.scalar(sa.select(User.email)) == "bob@example.com"


def test_the_database_refuses_a_name_differing_only_in_case(app, make_user):
    make_user("demo1")
    with app.app_context():
        db.session.add(User(username="DEMO1", email="x@example.com", password_hash=PASSWORD_HASH))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_login_and_profile_find_the_name_in_any_case(client, auth, make_user):
    user = make_user("Carol")
    response = client.post("/login", data={"username": "carol", "password": "correct horse battery"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/user/carol").status_code == 200
    assert user.username == "Carol"


def test_a_name_given_before_these_rules_still_logs_in_and_keeps_its_profile(client, app, make_user):
    make_user("Алёна")
    response = client.post("/login", data={"username": "алёна", "password": "correct horse battery"})
    assert response.status_code == 302

    saved = client.post("/edit_profile", data={"username": "Алёна", "about_me": "Still here."})

    assert saved.status_code == 302
    assert client.get("/user/Алёна").status_code == 200
