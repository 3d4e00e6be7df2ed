"""The remembered url_for (app/templating.py): the same addresses as Flask's, wherever the app is mounted; and
site_url_for, the addresses the site sends, on SITE_URL whatever the request named."""

import pytest
from flask import url_for

from app import templating
from app.templating import remembered_url_for, site_url_for

OTHER_HOSTS = {"TRUSTED_HOSTS": ["one.example", "two.example"]}


def test_an_address_is_remembered_per_script_root(app):
    with app.test_request_context("/", base_url="http://localhost/blog"):
        assert remembered_url_for("main.user", username="ann") == "/blog/user/ann"
    with app.test_request_context("/"):
        assert remembered_url_for("main.user", username="ann") == "/user/ann"
    with app.test_request_context("/", base_url="http://localhost/blog"):
        assert remembered_url_for("main.user", username="ann") == "/blog/user/ann"
    assert len(app.extensions["remembered_urls"]) == 2


@pytest.mark.parametrize("config_overrides", [OTHER_HOSTS], indirect=True)
def test_an_external_address_is_built_for_each_request_and_never_kept(app):
    with app.test_request_context("/", base_url="http://one.example"):
        assert remembered_url_for("main.index", _external=True) == "http://one.example/"
    with app.test_request_context("/", base_url="http://two.example"):
        assert remembered_url_for("main.index", _external=True) == "http://two.example/"
    assert app.extensions["remembered_urls"] == {}


def test_the_same_answers_as_url_for_with_values_in_any_order(app):
    with app.test_request_context("/"):
        expected = url_for("main.user", username="ann", page=2)
        assert remembered_url_for("main.user", username="ann", page=2) == expected
        assert remembered_url_for("main.user", page=2, username="ann") == expected
        unhashable = url_for("main.user", username="ann", page=[1])
        assert remembered_url_for("main.user", username="ann", page=[1]) == unhashable


def test_past_the_bound_the_oldest_half_is_forgotten(app, monkeypatch):
    monkeypatch.setattr(templating, "REMEMBERED", 4)
    with app.test_request_context("/"):
        for name in ("a", "b", "c", "d", "e"):
            assert remembered_url_for("main.user", username=name) == f"/user/{name}"
    kept = app.extensions["remembered_urls"]
    assert sorted(kept.values()) == ["/user/c", "/user/d", "/user/e"]


@pytest.mark.parametrize("config_overrides", [{**OTHER_HOSTS, "SITE_URL": "https://microblog.example.org/blog/"}],
                         indirect=True)  # fmt: skip
def test_an_address_sent_is_on_site_url_its_scheme_host_and_path_whatever_the_request_named(app):
    expected = "https://microblog.example.org/blog/user/ann?page=2"
    with app.test_request_context("/", base_url="http://one.example/elsewhere"):
        assert site_url_for("main.user", username="ann", page=2) == expected
    with app.app_context():  # a command, a background thread
        assert site_url_for("main.user", username="ann", page=2) == expected


@pytest.mark.parametrize("config_overrides", [{"SITE_URL": ""}], indirect=True)
def test_without_site_url_an_address_sent_is_on_the_requests_host(app):
    with app.test_request_context("/", base_url="http://laptop.local:5000"):
        assert site_url_for("main.user", username="ann") == "http://laptop.local:5000/user/ann"
