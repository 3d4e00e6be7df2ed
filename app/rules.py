"""What the site accepts in a name, an email address, a password and a text: each rule once, in plain words.

The web forms (app/forms.py), the API's schemas (app/api/schemas.py) and the account service
(app/auth/accounts.py) all check input here, so that a rule cannot hold at one door and not at the other.
Each check returns the value as it is stored (a name in NFKC form, an address lower-cased) or raises
`RuleBroken` with the sentence a person reads, on the form or in the API's 422.
"""

import re
import unicodedata

import email_validator

USERNAME_MAX = 64
EMAIL_MAX = 120
ABOUT_ME_MAX = 140
POST_MAX = 280
DISPLAY_NAME_MAX = 50
PASSWORD_MIN = 8
PASSWORD_MAX = 128
# ASCII letters, digits, dot, dash, underscore. A script-restricted set (say, one script per name, as in
# Unicode TS #39) would still let an all-Cyrillic "аре" pass for the Latin "ape"; these 65 characters have
# no lookalikes among themselves once case is folded, and they read the same in every URL, log and font.
# \A...\Z, not ^...$: `$` also matches before a final newline.
USERNAME_PATTERN = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")
# C0 controls, DEL and C1 controls (Unicode's category Cc). No one types them; PostgreSQL refuses NUL; in a log
# line or a header they forge what an operator or a browser reads. A text may hold tab and line breaks.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

FILL_IN = "Please fill this in."  # an empty field on a form, a field left out of an API request
# A field the API reads as text sent as a number, a list, an object, true or false, or null where null means nothing.
NOT_TEXT = "Send this as text: a JSON string, in quotes."
USERNAME_LETTERS = "Use the letters A–Z and a–z, digits, dots, dashes and underscores only."
USERNAME_TAKEN = "This username is taken. Please choose another one."
EMAIL_WRONG = "Enter an email address like name@example.com."
# The names no mail is delivered under (RFC 6761's .test, .invalid and .localhost, mDNS's .local, Tor's .onion,
# .arpa): email_validator refuses them even without a DNS lookup, and the site would mail such an address in vain.
RESERVED_DOMAINS = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)
EMAIL_UNREACHABLE = (
    "No mail can reach this address: names such as .test, .local and .invalid are kept for tests and local "
    "networks. Enter an address where you read your mail."
)
# The characters that turn the direction of the text around them (U+202A-U+202E, U+2066-U+2069): in a name they
# make "Eve" read as someone else's, or reverse the words that follow it on the page.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

CONTROL_CHARACTERS = "This holds a control character (such as NUL or ESC) that no one can type. Please remove it."


class RuleBroken(ValueError):
    """Input a rule refuses; its text is the sentence to show the person who sent it."""


class NotPlain(RuleBroken):
    """A name typed in compatibility characters (full-width "ｄｅｍｏ２", as some keyboards type it): it is offered
    back in its plain form ("demo2") to send again, rather than stored silently as something else."""

    def __init__(self, plain: str):
        super().__init__(f"In plain letters this name reads “{plain}”. Send it again to use it.")
        self.plain = plain


def normalize_username(name: str) -> str:
    """Return the name in NFKC form (full-width "ｄｅｍｏ" becomes "demo"), as it is checked and stored."""
    return unicodedata.normalize("NFKC", name)


def normalize_email(email: str) -> str:
    """Return the address as it is stored and compared: trimmed and lower-cased."""
    return email.strip().lower()


def username_key(name: str) -> str:
    """Return what makes two names the same account: NFKC form, lower-cased ("Demo1", "ｄｅｍｏ１": "demo1")."""
    return normalize_username(name).lower()


def check_length(text: str, most: int, least: int = 1) -> str:
    """Return `text` if it has from `least` to `most` characters and can be stored (no lone surrogate)."""
    if not text and least:
        raise RuleBroken(FILL_IN)
    if len(text) > most and least <= 1:
        raise RuleBroken(f"Use {most} characters or fewer (this has {len(text)}).")
    if not least <= len(text) <= most:
        raise RuleBroken(f"Use between {least} and {most} characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry: no database can store it
        raise RuleBroken("This is not text that can be stored: it holds a broken character.") from None
    return text


def check_username(name: str, keep: str | None = None) -> str:
    """Return a new name as typed, or say why it cannot be one. `keep` is the account's own name, which stays
    valid even when it was given before these rules ("Алёна")."""
    if keep is not None and name == keep:
        return name
    check_length(name, USERNAME_MAX)
    plain = normalize_username(name)
    if not USERNAME_PATTERN.match(plain):
        raise RuleBroken(USERNAME_LETTERS)
    if plain != name:
        raise NotPlain(plain)
    return name


def check_email(email: str) -> str:
    """Return the address as it is stored (trimmed, lower-cased), or say it is not one."""
    email = normalize_email(email)
    check_length(email, EMAIL_MAX)
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise RuleBroken(EMAIL_UNREACHABLE if under_reserved_name(email) else EMAIL_WRONG) from None
    return email


def under_reserved_name(email: str) -> bool:
    """Tell whether an address's domain is one of RESERVED_DOMAINS or under one ("p@8g1h.test")."""
    domain = email.rpartition("@")[2]
    return any(domain == name or domain.endswith("." + name) for name in RESERVED_DOMAINS)


def check_password(password: str) -> str:
    """Return a new password, or say why it cannot be one (only its length: a list of rules makes worse ones)."""
    return check_length(password, PASSWORD_MAX, PASSWORD_MIN)


def check_text(text: str, most: int, least: int = 0) -> str:
    """Return a text a person typed (a post, "about me"), or say why it cannot be stored."""
    if CONTROL_IN_TEXT.search(text):
        raise RuleBroken(CONTROL_CHARACTERS)
    return check_length(text, most, least)


def check_display_name(name: str) -> str | None:
    """Return the name a person shows beside their handle, in any script, as it is stored (NFC, trimmed), or None
    for none; or say why it cannot be one. The handle (username) stays ASCII: it is what links and mentions use.

    The name is checked as sent before it is trimmed (a line break at its end is refused, not trimmed away; 51
    characters are too many even when some are spaces), so that what the API's document says of it holds exactly;
    a form's field takes no line break and at most 50 characters anyway."""
    if CONTROL.search(name) or BIDI_CONTROLS.search(name):
        raise RuleBroken("A display name is one line of visible text: no control or direction characters.")
    check_length(name, DISPLAY_NAME_MAX, 0)
    return check_length(unicodedata.normalize("NFC", name.strip()), DISPLAY_NAME_MAX, 0) or None


def without_control_characters(text: str) -> str:
    return CONTROL_IN_TEXT.sub("", text)
