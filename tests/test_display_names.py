"""A display name in any script beside the ASCII handle: on profiles and posts, editable on the site and through the
API, and carried in UTF-8 through pages, mails and logs."""

from pathlib import Path

import pytest

from tests.api.conftest import basic, bearer
from tests.conftest import PASSWORD


def edit_profile(client, username: str, display_name: str, about_me: str = ""):
    return client.post("/edit_profile", data={"username": username, "display_name": display_name, "about_me": about_me})


def test_a_display_name_in_any_script_shows_on_the_profile_and_the_posts(client, auth, make_user, make_post):
    alice = make_user("alice")
    make_post(alice, "привет")
    auth.login(alice)

    assert edit_profile(client, "alice", "  Алиса Петровна ").status_code == 302

    profile = client.get("/user/alice").get_data(as_text=True)
    assert '<h1 class="h3">Алиса Петровна</h1>' in profile and "@alice" in profile
    assert "<title>Алиса Петровна · Microblog</title>" in profile
    explore = client.get("/explore").get_data(as_text=True)
    assert ">Алиса Петровна</a>" in explore and "@alice" in explore
    assert 'value="Алиса Петровна"' in client.get("/edit_profile").get_data(as_text=True)


def test_without_a_display_name_the_handle_shows_as_before(client, make_user, make_post):
    make_post(make_user("bob"), "hello")
    assert '<h1 class="h3">bob</h1>' in client.get("/user/bob").get_data(as_text=True)
    assert ">bob</a>" in client.get("/explore").get_data(as_text=True)


@pytest.mark.parametrize(
    "name", ["Eve\u202eevE", "two\nlines", "tab\there", "x" * 51], ids=["bidi-override", "newline", "tab", "too-long"]
)
def test_a_display_name_is_one_line_of_visible_text_at_every_door(client, app, auth, make_user, name):
    ann = make_user("ann")
    auth.login(ann)
    page = edit_profile(client, "ann", name)
    assert page.status_code in (200, 400)  # the form's error, or the 400 of a control character
    token = client.post("/api/tokens", headers=basic("ann", PASSWORD)).get_json()["token"]
    answer = client.patch("/api/users/me", json={"display_name": name}, headers=bearer(token))
    assert answer.status_code == 422
    assert client.get("/api/users/ann").get_json()["display_name"] is None


def test_the_api_reads_and_changes_the_display_name(client, make_user, make_post):
    make_post(make_user("ann"), "hello")
    token = bearer(client.post("/api/tokens", headers=basic("ann", PASSWORD)).get_json()["token"])

    changed = client.patch("/api/users/me", json={"display_name": "Аня"}, headers=token)

    assert changed.status_code == 200 and changed.get_json()["display_name"] == "Аня"
    assert client.get("/api/posts").get_json()["items"][0]["author_display_name"] == "Аня"
    assert client.patch("/api/users/me", json={"display_name": None}, headers=token).get_json()["display_name"] is None


def test_mails_greet_by_the_display_name_in_utf8(app, make_user, smtp):
    inbox, port = smtp
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    app.extensions["mail"].relay = app.extensions["mail"].relay.__class__.from_config(app.config)
    alice = make_user("alice", email="alice@example.com")
    client = app.test_client()
    client.post("/login", data={"username": "alice", "password": PASSWORD})
    edit_profile(client, "alice", "Алиса")

    client.post("/reset_password_request", data={"email": "alice@example.com"})

    [mail] = inbox.wait_for(1)
    assert mail.get_content().startswith("Hello Алиса,") and alice.username == "alice"
    app.extensions["mail"].close(5)


class TestTheLog:
    @pytest.fixture
    def config_overrides(self, tmp_path):
        return {"LOG_IN_TESTS": True, "LOG_DIR": str(tmp_path / "logs")}

    def test_a_name_in_another_script_is_written_to_the_log_as_it_reads(self, app, client):
        """The log is UTF-8: a broken link to a profile named in Cyrillic reads as the name, not as escapes."""
        assert client.get("/user/Алиса").status_code == 404
        log = (Path(app.config["LOG_DIR"]) / "microblog.log").read_text(encoding="utf-8")
        assert "Not found: '/user/Алиса'" in log
