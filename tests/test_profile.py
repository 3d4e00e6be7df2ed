"""Profiles, editing them, following and avatars."""

import hashlib

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from tests.api.conftest import basic, bearer


def avatar_digest(app, user: User) -> str:
    with app.app_context():
        return user.avatar_digest


def test_profile_shows_about_me_counts_and_posts(client, app, make_user, make_post):
    user = make_user(about_me="Gardener & <b>coder</b>")
    make_post(user, "hello from my profile")
    page = client.get(f"/user/{user.username}").get_data(as_text=True)
    assert "Gardener &amp; &lt;b&gt;coder&lt;/b&gt;" in page
    assert "0 followers, 0 following" in page
    assert "hello from my profile" in page
    assert f"/avatar/{avatar_digest(app, user)}.svg" in page


def test_an_avatar_does_not_tell_the_address_behind_it(client, app, make_user):
    """Without Gravatar the avatar's name is keyed with the site's secret: a list of addresses hashed offline
    matches no account."""
    user = make_user(email="someone@example.com")
    page = client.get(f"/user/{user.username}").get_data(as_text=True)
    assert hashlib.md5(b"someone@example.com").hexdigest() not in page
    assert hashlib.sha256(b"someone@example.com").hexdigest()[:32] not in page
    assert f"/avatar/{avatar_digest(app, user)}.svg" in page


def test_unknown_user_and_page_past_the_end_are_404(client, make_user):
    user = make_user()
    assert client.get("/user/nobody").status_code == 404
    assert client.get(f"/user/{user.username}?page=2").status_code == 404


def test_a_missing_user_is_a_404_that_names_them_in_plain_words(client, auth, make_user):
    response = client.get("/user/nobody")
    assert response.status_code == 404 and "There is no user named nobody." in response.get_data(as_text=True)
    page = client.get("/user/<b>bold").get_data(as_text=True)
    assert "There is no user named &lt;b&gt;bold." in page and "<b>bold" not in page
    page = client.get("/user/" + "a" * 5000).get_data(as_text=True)  # no name is longer than 64: not all of it
    assert "There is no user named " + "a" * 64 + "…." in page and "a" * 65 not in page
    answer = client.get("/user/nobody", headers={"Accept": "application/json"}).get_json()
    assert answer["detail"] == "There is no user named nobody."
    auth.login(make_user())
    assert "There is no user named nobody." in client.post("/follow/nobody").get_data(as_text=True)


def test_follow_and_unfollow(client, auth, make_user):
    me, other = make_user(), make_user()
    auth.login(me)
    assert "Follow</button>" in client.get(f"/user/{other.username}").get_data(as_text=True)
    response = client.post(f"/follow/{other.username}", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"You are following {other.username}." in page
    assert "1 follower, 0 following" in page and "Unfollow</button>" in page
    page = client.post(f"/unfollow/{other.username}", follow_redirects=True).get_data(as_text=True)
    assert "0 followers, 0 following" in page


def test_follow_is_post_only_and_needs_login(client, make_user):
    other = make_user()
    assert client.get(f"/follow/{other.username}").status_code == 405
    assert client.post(f"/follow/{other.username}").headers["Location"].startswith("/login")


def test_following_yourself_or_nobody(client, auth, make_user):
    me = make_user()
    auth.login(me)
    page = client.post(f"/follow/{me.username}", follow_redirects=True).get_data(as_text=True)
    assert "You cannot follow yourself." in page
    assert client.post("/follow/nobody").status_code == 404


def test_edit_profile_saves(client, auth, make_user, app):
    me = make_user()
    auth.login(me)
    response = client.post("/edit_profile", data={"username": "renamed", "about_me": "Hi there"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, me.id)
        assert (user.username, user.about_me) == ("renamed", "Hi there")


def test_edit_profile_with_taken_username_is_a_form_error(client, auth, make_user):
    make_user(username="taken")
    auth.login(make_user())
    page = client.post("/edit_profile", data={"username": "taken", "about_me": "kept text"}).get_data(as_text=True)
    assert "This username is taken" in page
    assert "kept text" in page


def test_edit_profile_race_on_commit_is_a_form_error_not_a_500(client, auth, make_user, monkeypatch, app):
    # Two requests race for one name: both pass the check, the database's unique constraint decides.
    from app.forms import EditProfileForm

    make_user(username="taken")
    me = make_user()
    auth.login(me)
    monkeypatch.setattr(EditProfileForm, "validate_username", lambda self, field: None)
    response = client.post("/edit_profile", data={"username": "taken", "about_me": "still here"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This username is taken" in page and "still here" in page
    with app.app_context():
        assert db.session.get(User, me.id).username == me.username
    assert client.get("/").status_code == 200  # the session was rolled back: the next request is fine


def test_edit_profile_limits_match_columns(client, auth, make_user):
    auth.login(make_user())
    page = client.post("/edit_profile", data={"username": "u" * 65, "about_me": "a" * 141}).get_data(as_text=True)
    assert page.count("characters or fewer") == 2  # app/forms.py
    assert User.__table__.c.username.type.length == 64
    assert User.__table__.c.about_me.type.length == 140


def test_avatar_is_an_svg_drawn_here(client):
    response = client.get("/avatar/0123456789abcdef0123456789abcdef.svg?s=64")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True).startswith('<svg xmlns="http://www.w3.org/2000/svg" width="64"')
    assert client.get("/avatar/not-a-digest.svg").status_code == 404


def test_gravatar_can_be_switched_on(client, app, make_user):
    user = make_user()
    app.config["AVATAR_GRAVATAR"] = True
    page = client.get(f"/user/{user.username}").get_data(as_text=True)
    gravatar = hashlib.md5(user.email.encode()).hexdigest()  # Gravatar names a picture by the address's hash
    assert f"https://www.gravatar.com/avatar/{gravatar}" in page


def test_last_seen_is_written_at_most_once_a_minute(client, auth, make_user, app):
    me = make_user()
    auth.login(me)
    with app.app_context():
        first = db.session.scalar(sa.select(User.last_seen).where(User.id == me.id))
    client.get("/explore")
    with app.app_context():
        assert db.session.scalar(sa.select(User.last_seen).where(User.id == me.id)) == first
    app.config["LAST_SEEN_INTERVAL"] = 0
    client.get("/explore")
    with app.app_context():
        assert db.session.scalar(sa.select(User.last_seen).where(User.id == me.id)) > first


def test_follow_counts_are_kept_with_the_user_by_every_door(app, client, auth, make_user):
    """A profile's counts are the user's own columns, kept by follow and unfollow, not counted on every view: a
    user with 10,000 followers would otherwise cost every visit a count of 10,000 rows."""
    ann, cy = make_user("ann"), make_user("cy")
    make_user("bea")
    auth.login(ann)
    client.post("/follow/bea")
    client.post("/follow/bea")  # twice: counted once
    client.post("/follow/cy")
    token = app.test_client().post("/api/tokens", headers=basic_auth(cy)).get_json()["token"]
    app.test_client().put("/api/following/bea", headers=bearer(token))

    assert stored_counts(app) == {"ann": (0, 2), "bea": (2, 0), "cy": (1, 1)}
    client.post("/unfollow/bea")
    client.post("/unfollow/bea")
    app.test_client().delete("/api/following/bea", headers=bearer(token))
    assert stored_counts(app) == {"ann": (0, 1), "bea": (0, 0), "cy": (1, 0)}
    page = client.get("/user/cy").get_data(as_text=True)
    assert "1 follower, 0 following" in page


def stored_counts(app) -> dict[str, tuple[int, int]]:
    """(followers, following) as each user's row holds them."""
    with app.app_context():
        rows = db.session.execute(sa.select(User.username, User.followers_count, User.following_count))
        return {name: (followers, following) for name, followers, following in rows}


def basic_auth(user) -> dict:
    return basic(user.username)
