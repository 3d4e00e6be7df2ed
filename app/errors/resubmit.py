"""What the user typed, given back on a page that could not take it: the expired form (400), the busy
database (503) and planned downtime (503).

Each field comes back as its kind: a checkbox as a checkbox, a text area as a text area, with the label
the form showed. The kinds are read from the form class of the view that was posted to (FORMS); for a
view not listed there, every field is a text box labelled by its name. Secrets (password fields, and any
field whose name says secret) come back empty, and the page names them: they must be typed again.

The expired-form page gives text back only to the site's own pages (`may_refill`): a cross-site POST
arrives without the session cookie (SameSite=Lax) and fails the token check too, and a page that filled
in its text with a fresh token would make it a one-click resend.
"""

from dataclasses import dataclass

from flask import current_app, request, session
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, PasswordField, SubmitField, TextAreaField
from wtforms.fields.core import UnboundField

from app import forms
from app.observability.scrub import is_sensitive

# The form class each form-taking view validates; add a view here when it gets a form.
FORMS = {
    "auth.login": forms.LoginForm,
    "auth.register": forms.RegistrationForm,
    "main.edit_profile": forms.EditProfileForm,
    "auth.change_password": forms.ChangePasswordForm,
    "auth.reset_password_request": forms.ResetPasswordRequestForm,
    "auth.reset_password": forms.ResetPasswordForm,
    "main.index": forms.PostForm,
    "feedback.send": forms.FeedbackForm,
}
NEVER_SHOWN = {"csrf_token", "submit"}


@dataclass(frozen=True)
class TypedField:
    """One field to show again: `kind` is text, textarea, password, checkbox or hidden."""

    name: str
    label: str
    kind: str
    value: str = ""
    checked: bool = False


def typed_fields(clean=None) -> list[TypedField]:
    """Return the posted form's fields, as the form showed them, filled with what was sent (secrets empty);
    `clean`, when given, is applied to each value first."""
    if not request.form:
        return []  # nothing was sent: a page to load again, not a form to send again
    form = request.form if clean is None else MultiDict((k, clean(v)) for k, v in request.form.items(multi=True))
    form_class = FORMS.get(request.endpoint or "")
    if form_class is None:
        return [guessed_field(name, value) for name, value in form.items(multi=True) if name not in NEVER_SHOWN]
    return [field for name, unbound in declared_fields(form_class) if (field := known_field(name, unbound, form))]


def declared_fields(form_class) -> list[tuple[str, UnboundField]]:
    """Return the fields a WTForms class declares, in their order on the page."""
    found = {}
    for klass in reversed(form_class.__mro__):
        found.update({name: value for name, value in vars(klass).items() if isinstance(value, UnboundField)})
    return sorted(found.items(), key=lambda item: item[1].creation_counter)


def known_field(name: str, unbound: UnboundField, form: MultiDict) -> TypedField | None:
    kind = field_kind(name, unbound.field_class)
    if kind is None:
        return None
    label = unbound.args[0] if unbound.args else unbound.kwargs.get("label") or name.replace("_", " ").capitalize()
    if kind == "checkbox":
        return TypedField(name, label, kind, checked=name in form)
    value = "" if kind == "password" else form.get(name, "")
    return TypedField(name, label, kind, value)


def field_kind(name: str, field_class) -> str | None:
    if name in NEVER_SHOWN or issubclass(field_class, SubmitField):
        return None
    if issubclass(field_class, PasswordField) or is_sensitive(name):
        return "password"
    if issubclass(field_class, BooleanField):
        return "checkbox"
    if issubclass(field_class, HiddenField):
        return "hidden"
    return "textarea" if issubclass(field_class, TextAreaField) else "text"


def guessed_field(name: str, value: str) -> TypedField:
    label = name.replace("_", " ").capitalize()
    if is_sensitive(name):
        return TypedField(name, label, "password")
    return TypedField(name, label, "textarea" if len(value) > 60 or "\n" in value else "text", value)


def fields_to_type_again(fields: list[TypedField]) -> list[str]:
    return [field.label for field in fields if field.kind == "password"]


def may_refill() -> bool:
    """Tell whether the expired-form page may give the typed text back, with a fresh token to send it again.

    Only for a request from one of the site's own pages (Sec-Fetch-Site, or Origin from browsers that do
    not send it) whose session already held a form token, so that the page changes no cookie of a victim.
    """
    return comes_from_this_site() and current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in session


def comes_from_this_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return request.headers.get("Origin") == f"{request.scheme}://{request.host}"
