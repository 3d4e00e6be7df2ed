"""The Host header a client sends: never in a link the site sends, and refused unless it names the site.

Every absolute address the site sends (the account mails' links, the API's problem types) is built on SITE_URL
(TestConfig: http://localhost). TRUSTED_HOSTS, made of SITE_URL's host and the extra names of the setting, is
the second guard: a request for any other host gets the site's own 400. The mail tests let a forged name
through that guard, as an extra TRUSTED_HOSTS name or a proxy passing any Host would, to show the first one.
"""

import re

import pytest

from app import create_app
from app.security import InsecureConfigError
from tests.conftest import config_for_tests

FORGED = "http://evil.example"
LINK = re.compile(r"https?://[^\s/]+/\S*")
REFUSED_HOST = "This site does not answer to the name in the address you used"
REAL_KEY = "a-real-secret-key-of-more-than-32-characters"


@pytest.fixture(autouse=True)
def _close_the_outbox(app):
    """Let the app's mail thread finish its deliveries before the SMTP server stops."""
    yield
    app.extensions["mail"].close(5)


@pytest.fixture
def config_overrides(request):
    """Mail through the real SMTP server for the tests that ask for it, with the forged name let through."""
    settings = dict(getattr(request, "param", {}))
    if "smtp" in request.fixturenames:
        _, port = request.getfixturevalue("smtp")
        settings |= {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": "microblog@example.com"}
        settings |= {"TRUSTED_HOSTS": ["evil.example"]}
    return settings


def links_of(inbox) -> list[str]:
    [message] = inbox.wait_for(1)
    return LINK.findall(message.get_content())


def register(client, username: str, email: str):
    fields = {"username": username, "email": email, "password": "s3cret-pass", "password2": "s3cret-pass"}
    return client.post("/register", data=fields, base_url=FORGED)


def test_a_reset_link_asked_for_under_a_forged_host_is_on_the_site(client, smtp, make_user):
    inbox, _ = smtp
    make_user("dora", email="dora@example.com")

    answer = client.post("/reset_password_request", data={"email": "dora@example.com"}, base_url=FORGED)

    assert answer.status_code == 302
    [link] = links_of(inbox)
    assert link.startswith("http://localhost/reset_password?token=")


def test_the_welcome_mail_of_a_registration_under_a_forged_host_links_to_the_site(client, smtp):
    inbox, _ = smtp

    assert register(client, "newcomer", "newcomer@example.com").status_code == 302

    assert links_of(inbox) == ["http://localhost/login"]


def test_the_owners_mail_after_a_registration_with_their_address_links_to_the_site(client, smtp, make_user):
    inbox, _ = smtp
    make_user("owner", email="owner@example.com")

    register(client, "stranger", "owner@example.com")

    assert links_of(inbox) == ["http://localhost/reset_password_request"]


@pytest.mark.parametrize("config_overrides", [{"TRUSTED_HOSTS": ["evil.example"]}], indirect=True)
def test_a_problem_type_is_on_the_site_whatever_host_was_asked(client):
    answer = client.get("/api/users/999999", base_url=FORGED)

    assert answer.status_code == 404
    assert answer.json["type"] == "http://localhost/api/problems/not-found"


def test_a_request_for_another_host_gets_the_sites_own_400_page(client):
    answer = client.get("/explore", base_url=FORGED, headers={"Accept": "text/html"})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert REFUSED_HOST in page and '<a class="navbar-brand" href="/">Microblog</a>' in page
    assert "evil.example" not in page


def test_under_api_a_request_for_another_host_gets_problem_details(client):
    answer = client.get("/api/users/1", base_url=FORGED)

    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert answer.json["detail"].startswith(REFUSED_HOST)
    assert answer.json["type"].startswith("http://localhost/api/problems/")
    assert "evil.example" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_a_form_posted_to_another_host_is_refused_before_its_csrf_check(client):
    """The CSRF check would read the refused host first, and fail on it."""
    answer = client.post("/reset_password_request", data={"email": "a@example.com"}, base_url=FORGED)

    assert answer.status_code == 400 and REFUSED_HOST in answer.get_data(as_text=True)


def test_a_health_check_by_address_is_refused_until_trusted_hosts_names_it(tmp_path):
    by_address = {"base_url": "http://127.0.0.1:8000"}
    plain = create_app(config_for_tests(tmp_path)).test_client()
    listed = create_app(config_for_tests(tmp_path, TRUSTED_HOSTS=["127.0.0.1"])).test_client()

    assert plain.get("/healthz", **by_address).status_code == 400
    assert listed.get("/healthz", **by_address).status_code == 200


def test_the_trusted_hosts_are_the_site_and_the_extra_names(tmp_path):
    app = create_app(config_for_tests(tmp_path, SITE_URL="https://Microblog.Example.org:8443/blog",
                                      TRUSTED_HOSTS=["10.0.0.5", "microblog.example.org"]))  # fmt: skip

    assert app.config["TRUSTED_HOSTS"] == ["microblog.example.org", "10.0.0.5"]


def test_without_a_site_url_any_host_is_served(tmp_path):
    app = create_app(config_for_tests(tmp_path, SITE_URL=""))

    assert app.config["TRUSTED_HOSTS"] is None
    assert app.test_client().get("/healthz", base_url=FORGED).status_code == 200


@pytest.mark.parametrize(
    ("settings", "home"),
    [
        ({"SITE_URL": "https://microblog.example.org/blog"}, "/blog/"),
        ({"SITE_URL": "", "TRUSTED_HOSTS": ["10.0.0.5"]}, "/"),
    ],
    ids=["site-url", "trusted-hosts-only"],
)
def test_the_proxys_pages_are_written_under_a_name_the_site_answers_to(tmp_path, settings, home):
    """`flask errors pages` renders outside any request: under the test request's localhost, refused."""
    runner = create_app(config_for_tests(tmp_path, **settings)).test_cli_runner()

    result = runner.invoke(args=["errors", "pages", str(tmp_path / "pages")])

    assert result.exit_code == 0, result.output
    assert f'<a class="navbar-brand" href="{home}">Microblog</a>' in (tmp_path / "pages" / "502.html").read_text()


def production(tmp_path, **settings) -> dict:
    """Settings of a deployment (not testing, not debug, a real key) with `settings` on top."""
    deployment = {"TESTING": False, "DEBUG": False, "SECRET_KEY": REAL_KEY, "ENV_NAME": "production"}
    return config_for_tests(tmp_path, **{**deployment, **settings})


def test_production_refuses_to_start_with_mail_and_no_site_url(tmp_path):
    with pytest.raises(InsecureConfigError, match="SITE_URL is not") as refused:
        create_app(production(tmp_path, MAIL_SERVER="mail.example.org", SITE_URL=""))

    assert "\n" not in str(refused.value) and "such as https://microblog.example.org" in str(refused.value)


@pytest.mark.parametrize(
    "settings",
    [
        {"MAIL_SERVER": "mail.example.org", "SITE_URL": "https://microblog.example.org"},
        {"MAIL_SERVER": "", "SITE_URL": ""},  # no mail: nothing to link from
        {"MAIL_SERVER": "mail.example.org", "SITE_URL": "", "ENV_NAME": "development"},
        {"MAIL_SERVER": "mail.example.org", "SITE_URL": "", "ENV_NAME": "test"},
        {"MAIL_SERVER": "mail.example.org", "SITE_URL": "", "DEBUG": True},
    ],
    ids=["site-url", "no-mail", "development", "test", "debug"],
)
def test_production_starts_with_a_site_url_or_without_mail_and_development_without_either(tmp_path, settings):
    create_app(production(tmp_path, **settings))


@pytest.mark.parametrize("site_url", ["microblog.example.org", "ftp://microblog.example.org", "https://"])
def test_a_site_url_that_is_not_an_address_is_refused(tmp_path, site_url):
    with pytest.raises(RuntimeError, match="is not an address"):
        create_app(config_for_tests(tmp_path, SITE_URL=site_url))
