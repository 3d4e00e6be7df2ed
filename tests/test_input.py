"""Control characters and file parts in requests: a 400 in plain words before any query.

The same requests against real gunicorn, on SQLite and PostgreSQL, are in tests/faults/test_request_input.py.
"""

import io
import json
from pathlib import Path

import pytest

from app.auth.routes import is_safe_next
from app.observability.logs import one_line
from tests.conftest import PASSWORD

CONTROL_WORDS = "control character"  # the 400 page says what was wrong, in words


@pytest.fixture
def config_overrides(request, tmp_path):
    return {"LOG_IN_TESTS": True, "LOG_DIR": str(tmp_path / "logs"), **getattr(request, "param", {})}


@pytest.fixture
def log_text(app):
    return lambda: (Path(app.config["LOG_DIR"]) / "microblog.log").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    ["/user/a%00b", "/user/a%1b[2Kb", "/user/a%7fb", "/user/a%c2%85b", "/user/a%0d%0ab", "/explore?page=%00",
     "/explore?q=%1b[2K", "/explore?%00=1", "/login?next=/%0D%0AX-Injected:%201"],
    ids=["nul", "esc", "del", "nel", "crlf", "query-nul", "query-esc", "query-name", "next-crlf"],
)  # fmt: skip
def test_a_control_character_in_the_path_or_query_is_a_400_in_plain_words(client, path):
    response = client.get(path)

    assert response.status_code == 400
    assert CONTROL_WORDS in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "field, value",
    [("username", "a\x00b"), ("email", "a\x1b[2K@example.com"), ("username", "a\x85b"), ("user\x00name", "ann")],
    ids=["nul", "esc", "nel", "in-a-name"],
)
def test_a_control_character_in_a_form_is_a_400_and_registers_nobody(client, field, value):
    data = {"username": "ann", "email": "ann@example.com", "password": PASSWORD, "password2": PASSWORD, field: value}

    response = client.post("/register", data=data)

    assert response.status_code == 400
    assert CONTROL_WORDS in response.get_data(as_text=True)
    refused = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert "Invalid username or password" in refused.get_data(as_text=True)  # nobody was registered


def test_line_breaks_and_tabs_in_a_post_are_text_not_control_characters(client, auth, make_user):
    auth.login(make_user())

    response = client.post("/", data={"post": "first line\r\n\tsecond line"})

    assert response.status_code == 302


@pytest.mark.parametrize("page", ["/login", "/register"])
def test_a_field_sent_as_a_file_is_a_400_in_plain_words(client, page):
    data = {"username": (io.BytesIO(b"ann"), "name.txt"), "password": PASSWORD}

    response = client.post(page, data=data, content_type="multipart/form-data")

    assert response.status_code == 400
    assert "file" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["/\r\nX-Injected: 1", "/user/ann\x00", "/explore\x1b[2K", "/\x85x", "/\tx", "/\x7f"]
)
def test_next_with_any_control_character_is_refused(target):
    assert not is_safe_next(target)


def test_next_still_takes_a_plain_path():
    assert is_safe_next("/user/ann?page=2")


@pytest.mark.parametrize(
    "text, escaped",
    [("a\x1b[2Kb", "a\\x1b[2Kb"), ("a\x00b", "a\\x00b"), ("a\x85b", "a\\x85b"), ("a\u2028b", "a\\u2028b"),
     ("a\u2029b", "a\\u2029b"), ("a\r\nb", "a\\r\\nb"), ("a\tb", "a\\tb"), ("a\x7fb", "a\\x7fb")],
)  # fmt: skip
def test_one_line_escapes_every_control_character_and_line_separator(text, escaped):
    assert one_line(text) == escaped
    assert len(one_line(text).splitlines()) == 1


def test_a_referer_with_a_next_line_character_cannot_forge_a_log_line(client, log_text):
    forged = "http://localhost/explore\x852030-01-01T00:00:00.000Z ERROR [-] app: forged\x1b[2K"

    client.get("/no-such-page", headers={"Referer": forged})

    text = log_text()
    assert not any(line.startswith("2030-01-01") for line in text.splitlines())
    assert "\x1b" not in text and "\x85" not in text
    assert "\\x852030-01-01T00:00:00.000Z ERROR [-] app: forged\\x1b[2K" in text


@pytest.mark.parametrize("config_overrides", [{"LOG_FORMAT": "json"}], indirect=True)
def test_json_lines_hold_no_line_separator_a_reader_would_split_on(client, log_text):
    # json.dumps leaves U+0085, U+2028 and U+2029 raw, and str.splitlines() breaks lines on them.
    client.get("/no-such-page", headers={"Referer": "http://localhost/explore\x85\u2028\u2029x"})

    lines = log_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is a whole record
    assert any("\x85\u2028\u2029x" in record["message"] for record in records)
