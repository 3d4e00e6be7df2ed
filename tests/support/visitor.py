"""A browser stand-in over real HTTP: keeps its cookies, fills in CSRF tokens, never follows redirects."""

import html
import http.cookiejar
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]+)"')


def csrf_token(page: str) -> str:
    """Return the CSRF token of the first form on `page` that carries one, whatever the order of its attributes."""
    return VALUE.search(CSRF_INPUT.search(page).group(0)).group(1)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), "")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Visitor:
    """One person's browser session against a running server."""

    def __init__(self, base_url: str, tls: ssl.SSLContext | None = None, headers: dict[str, str] | None = None):
        """`tls`: the context for an https `base_url` (one that accepts a test's self-signed certificate);
        `headers`: sent with every request unless the request sets its own."""
        self.base_url = base_url
        self.headers = headers or {}
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirects()]
        if tls is not None:
            handlers.append(urllib.request.HTTPSHandler(context=tls))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        request = urllib.request.Request(self.base_url + path, headers={"Accept": "text/html", **(headers or {})})
        return self.send(request)

    def csrf_token(self, form_page: str) -> str:
        """Open the page that shows the form, as a browser would, and return its CSRF token."""
        page = self.get(form_page)
        assert page.status == 200, (form_page, page.status)
        return csrf_token(page.body)

    def submit(
        self, path: str, fields: dict[str, str], form_page: str | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """Post a form with the token of the page that shows it (`path` unless told)."""
        data = urllib.parse.urlencode({**fields, "csrf_token": self.csrf_token(form_page or path)}).encode()
        headers = {"Accept": "text/html", **(headers or {})}
        return self.send(urllib.request.Request(self.base_url + path, data=data, headers=headers))

    def send(self, request: urllib.request.Request) -> Answer:
        for name, value in self.headers.items():
            if not request.has_header(name.capitalize()):  # urllib keeps names capitalized
                request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx
            return Answer(error.code, dict(error.headers), error.read().decode())

    def cookie_header(self) -> str:
        """Return the Cookie header this browser would send, for requests made byte by byte."""
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)

    def log_in(self, username: str, password: str) -> None:
        answer = self.submit("/login", {"username": username, "password": password})
        assert answer.status == 302, (answer.status, answer.body[:2000])


def page_text(body: str) -> str:
    """Return the page with its HTML escapes undone, as a reader sees the text."""
    return html.unescape(body)
