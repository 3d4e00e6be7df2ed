"""Mask secrets before anything leaves the process: log lines, alert mails, Sentry events, the in-flight slot.

Secrets are found by name (fields, query parameters, headers and settings that say pass, token, key...),
by value (the settings' secret values, what this request sent under such names, every cookie's value),
and by shape (credentials in a URL, password hashes, SQL parameters). Cookies are masked by default:
only a name on the allow-list SHOWN_COOKIES (empty) shows its value.
"""

import ipaddress
import re
from collections.abc import Iterable, Mapping
from itertools import chain
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import has_request_context, request

MASK = "********"
SENSITIVE_NAME = re.compile(r"pass|secret|token|key|auth|cookie|session|csrf|signature", re.IGNORECASE)
# scheme://user:password@host: the password part.
URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?P<tail>@)")
# Settings whose value is itself a secret (not merely a name that mentions one, like SESSION_COOKIE_NAME).
SECRET_SETTING = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$|DSN")
# name=value, as in query strings, form bodies and keyword arguments.
NAME_EQUALS_VALUE = re.compile(r"(?P<head>(?P<name>[\w.-]+)=)(?P<secret>[^\s&;,'\")]+)")
# 'name': 'value' or "name": "value", as in a dict's repr or JSON.
# A password hash as Werkzeug, passlib or bcrypt writes it: the method, then salt and digest.
PASSWORD_HASH = re.compile(
    r"\b(?:scrypt:\d+:\d+:\d+|pbkdf2:sha\d+(?::\d+)?|argon2(?:id|i|d)?)\$[^\s'\",)\]]+|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"
)
# SQLAlchemy's echo of a statement's values, should an engine run without hide_parameters,
# and PostgreSQL's echo of a row's key in a constraint error: "Key (email)=(someone@example.org)".
SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")
KEY_VALUES = re.compile(r"(?P<head>Key \(.*?\)=\().*?(?P<tail>\)\s+(?:already exists|is not present|is still))")
# Fields and headers whose value is personal data: on-call needs the user's id and name, not these.
PERSONAL_NAME = re.compile(r"e-?mail|phone|address|birth|user-agent|forwarded|real-ip|client-ip|^from$", re.IGNORECASE)
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A user agent's browser and major version, enough to reproduce a fault: the first that matches wins
# (Edge and Opera also say Chrome, Chrome also says Safari).
BROWSERS = [(name, re.compile(pattern)) for name, pattern in (
    ("Edge", r"Edg[A-Za-z]*/(\d+)"), ("Opera", r"OPR/(\d+)"), ("Firefox", r"Firefox/(\d+)"),
    ("Chrome", r"Chrom(?:e|ium)/(\d+)"), ("Safari", r"Version/(\d+)[^ ]* .*Safari/"),
)]  # fmt: skip
FIRST_PRODUCT = re.compile(r"([A-Za-z][\w.-]*)/(\d+)")
QUOTED_PAIR = re.compile(r"""(?P<head>(?P<q>['"])(?P<name>[\w.-]+)(?P=q)\s*:\s*)(?P<secret>'[^']*'|"[^"]*"|[^\s,}]+)""")
# Cookies whose value a log line, an alert mail, a Sentry event or the in-flight slot may show: none. An
# allow-list, not a list of the dangerous ones: the app's own cookies (the session, remember_token,
# login_device, the maintenance pass) prove who someone is, and a cookie no one named here (a new one of
# ours, another site's on the same domain) cannot be known to be harmless. A name goes here only with the
# reason its value is harmless.
SHOWN_COOKIES: frozenset[str] = frozenset()
# Masked in free text too (a traceback, a path) when at least this long: shorter values (en, dark, 1) are
# preferences, not credentials, and masking them would blot out ordinary words.
COOKIE_VALUE_MIN = 8


def is_sensitive(name: str) -> bool:
    """Tell whether a field, header, cookie or setting with this name holds a secret."""
    return bool(SENSITIVE_NAME.search(name))


def scrub_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the pairs with the values of sensitive names masked and other values scrubbed as text."""
    return [(name, MASK if is_sensitive(name) else scrub_text(str(value))) for name, value in pairs]


def mask_cookies(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the cookies with every value masked but those of SHOWN_COOKIES: the names tell on-call enough."""
    return [(name, value if name in SHOWN_COOKIES else MASK) for name, value in pairs]


def scrub_mapping(mapping: Mapping, secrets: Iterable[str] = ()) -> dict:
    """Return a copy of a (nested) mapping with the values of sensitive keys masked, and known secrets in text."""
    secrets = list(secrets)
    return {key: scrub_value(key, value, secrets) for key, value in mapping.items()}


def scrub_value(key, value, secrets: Iterable[str] = ()):
    if isinstance(key, str) and is_sensitive(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, Mapping):
        return scrub_mapping(value, secrets)
    if isinstance(value, list | tuple):
        return [scrub_value("", item, secrets) for item in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value


def scrub_url(url: str, keep_personal: bool = True) -> str:
    """Mask credentials in a URL and the values of its sensitive (and, if asked, personal) query parameters."""
    url = mask_url_credentials(url)
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all (a stray "[" say): treat it as text
        return scrub_text(url)
    pairs = scrub_pairs(parse_qsl(parts.query, keep_blank_values=True))
    query = urlencode(pairs if keep_personal else mask_personal(pairs), safe="*")
    return urlunsplit(parts._replace(query=query))


def mask_url_credentials(text: str) -> str:
    return URL_CREDENTIALS.sub(lambda m: m["head"] + MASK + m["tail"], text)


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL credentials, sensitive name=value pairs and any of the known secret values in free text."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = SQL_PARAMETERS.sub(f"[parameters: {MASK}]", PASSWORD_HASH.sub(MASK, text))
    text = KEY_VALUES.sub(lambda m: m["head"] + MASK + m["tail"], text)
    text = mask_url_credentials(text)
    text = NAME_EQUALS_VALUE.sub(_mask_if_sensitive, text)
    return QUOTED_PAIR.sub(_mask_if_sensitive, text)


def mask_personal(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the pairs with personal values (email, phone, address, user agent) masked, for mails read by on-call."""
    return [(name, MASK if PERSONAL_NAME.search(name) else value) for name, value in pairs]


def mask_emails(text: str) -> str:
    """Mask every email address in free text."""
    return EMAIL_ADDRESS.sub(MASK, text)


def mask_address(address: str) -> str:
    """Keep a client's network, not its address: 203.0.113.x, or the /48 of an IPv6 address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address if address == "-" else MASK
    if ip.version == 4:
        return address.rpartition(".")[0] + ".x"
    return str(ipaddress.ip_network(f"{address}/48", strict=False))


def browser_summary(agent: str) -> str:
    """Reduce a user agent to its browser and major version ("Firefox 128"), which is what a fix needs."""
    for name, pattern in BROWSERS:
        if match := pattern.search(agent):
            return f"{name} {match[1]}"
    match = FIRST_PRODUCT.search(agent)
    return f"{match[1]} {match[2]}" if match else ("-" if agent == "-" else MASK)


def _mask_if_sensitive(match: re.Match) -> str:
    return match["head"] + MASK if is_sensitive(match["name"]) else match[0]


def request_secrets() -> list[str]:
    """Return what this request sent under sensitive names (fields, query, headers) and in its cookies (all but
    SHOWN_COOKIES, whatever their name), to mask anywhere."""
    if not has_request_context():
        return []
    try:
        form = list(request.form.items(multi=True))
    except Exception:  # the body itself may be what failed
        form = []
    sent = chain(request.args.items(multi=True), form, request.headers.items())
    values = {value.split()[-1] for name, value in sent if is_sensitive(name) and value.strip()}  # "Bearer xyz": xyz
    values = {value for value in values if len(value) >= 4}.union(cookie_values())
    return sorted(values, key=len, reverse=True)


def cookie_values() -> list[str]:
    """Return the values of this request's cookies that no sink may show (all but SHOWN_COOKIES), longest first."""
    if not has_request_context() or not request.cookies:
        return []
    values = {value.strip() for name, value in request.cookies.items(multi=True) if name not in SHOWN_COOKIES}
    return sorted((value for value in values if len(value) >= COOKIE_VALUE_MIN), key=len, reverse=True)


def known_secrets(config: Mapping) -> list[str]:
    """Return the secret values in the settings (sensitive names, passwords inside URLs), longest first."""
    found = set()
    for name, value in config.items():
        if not isinstance(value, str) or len(value) < 8:
            continue
        if SECRET_SETTING.search(name):
            found.add(value)
        elif "://" in value and (password := _url_password(value)) and len(password) >= 4:
            found.add(password)
    return sorted(found, key=len, reverse=True)


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password
    except ValueError:
        return None
