"""The site's forms; every field's maximum length matches its column, and every message is in plain words."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, StopValidation, ValidationError

from app.models import (
    ABOUT_ME_MAX,
    EMAIL_MAX,
    POST_MAX,
    USERNAME_MAX,
    USERNAME_PATTERN,
    normalize_email,
    normalize_username,
    username_is_taken,
    username_key,
)
from app.observability.faults import FEEDBACK_MAX

PASSWORD_MIN = 8
PASSWORD_MAX = 128
USERNAME_TAKEN = "This username is taken. Please choose another one."
USERNAME_LETTERS = "Use the letters A–Z and a–z, digits, dots, dashes and underscores only."


def normalized_email(value):
    return normalize_email(value) if isinstance(value, str) else value


email_rules = [DataRequired(), Email(), Length(max=EMAIL_MAX)]


def plain_username(form, field) -> None:
    """Accept only names that are, once NFKC-normalised, from USERNAME_PATTERN (or the user's own, kept as it is).

    Names given before this rule ("Алёна") stay: their owners log in and edit their profile with them.
    """
    if field.data == getattr(form, "original_username", None):
        return
    if not USERNAME_PATTERN.match(normalize_username(field.data or "")):
        raise StopValidation(USERNAME_LETTERS)


def offer_plain_name(field: StringField) -> None:
    """Put the plain form of a compatibility spelling back in the field, for the user to send again.

    A full-width "ｄｅｍｏ２" (as some keyboards type it) is NFKC-normalised to "demo2" and offered,
    rather than stored silently as something other than what was typed. Call it after the taken check.
    """
    plain = normalize_username(field.data)
    if plain != field.data:
        field.data = plain
        raise ValidationError(f"In plain letters this name reads “{plain}”. Send the form again to use it.")


username_rules = [DataRequired(), Length(max=USERNAME_MAX), plain_username]


def new_password_fields(label: str = "Password"):
    """Return the "new password" and "repeat it" fields of the registration, change and reset forms."""
    password = PasswordField(label, validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)])
    repeat = PasswordField(
        f"Repeat {label.lower()}", validators=[DataRequired(), EqualTo("password", message="The passwords differ.")]
    )
    return password, repeat


# WTForms' own messages in plain words, given to every form through its Meta translations (SiteForm).
# WTForms asks `gettext` and `ngettext` for each message it shows ("Field must be between 8 and 128
# characters long."); these answer with a sentence that says what to do instead ("Use between 8 and 128
# characters."), and with WTForms' text for any message not listed. A validator given its own message
# keeps it.
PLAIN = {
    "This field is required.": "Please fill this in.",
    "Field must be between %(min)d and %(max)d characters long.": "Use between %(min)d and %(max)d characters.",
    "Field must be at least %(min)d character long.": "Use at least %(min)d character.",
    "Field must be at least %(min)d characters long.": "Use at least %(min)d characters.",
    "Field cannot be longer than %(max)d character.": "Use %(max)d character or fewer.",
    "Field cannot be longer than %(max)d characters.": "Use %(max)d characters or fewer (this has %(length)d).",
    "Field must be exactly %(max)d character long.": "Use exactly %(max)d character.",
    "Field must be exactly %(max)d characters long.": "Use exactly %(max)d characters.",
    "Invalid email address.": "Enter an email address like name@example.com.",
    "Field must be equal to %(other_name)s.": "This must be the same as %(other_name)s.",
    "Invalid input.": "This is not in a form the site can take.",
    "Not a valid choice.": "Choose one of the options.",
}


class PlainMessages:
    """The translations object WTForms expects: `gettext` and `ngettext`."""

    def gettext(self, string: str) -> str:
        return PLAIN.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


plain_messages = PlainMessages()


class SiteForm(FlaskForm):
    """Base of the site's forms: WTForms' messages in plain words. (Text no column can store, such as NUL,
    never reaches a form: app/errors/input_checks.py answers it with a 400 first.)"""

    class Meta:
        def get_translations(self, form):
            return plain_messages


class LoginForm(SiteForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    remember_me = BooleanField("Remember me")
    submit = SubmitField("Sign in")


class RegistrationForm(SiteForm):
    """A taken email is no form error: the owner gets a mail instead, so the form tells no one who has an account."""

    username = StringField("Username", validators=username_rules)
    email = StringField("Email", validators=email_rules, filters=[normalized_email])
    password, password2 = new_password_fields()
    submit = SubmitField("Register")

    def validate_username(self, username: StringField) -> None:
        if username_is_taken(username.data):
            raise ValidationError(USERNAME_TAKEN)
        offer_plain_name(username)


class ChangePasswordForm(SiteForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    password, password2 = new_password_fields("New password")
    submit = SubmitField("Change password")


class ResetPasswordRequestForm(SiteForm):
    email = StringField("Email", validators=email_rules, filters=[normalized_email])
    submit = SubmitField("Send me a link")


class ResetPasswordForm(SiteForm):
    password, password2 = new_password_fields("New password")
    submit = SubmitField("Set the new password")


class EditProfileForm(SiteForm):
    username = StringField("Username", validators=username_rules)
    about_me = TextAreaField("About me", validators=[Length(max=ABOUT_ME_MAX)])
    submit = SubmitField("Save")

    def __init__(self, original_username: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.original_username = original_username

    def validate_username(self, username: StringField) -> None:
        if username_key(username.data) != username_key(self.original_username) and username_is_taken(username.data):
            raise ValidationError(USERNAME_TAKEN)
        offer_plain_name(username)


class PostForm(SiteForm):
    post = TextAreaField("Say something", validators=[DataRequired(), Length(min=1, max=POST_MAX)])
    submit = SubmitField("Post")


class EmptyForm(SiteForm):
    """A form with only a CSRF token, for buttons that change state (follow, unfollow)."""

    submit = SubmitField("Submit")


class FeedbackForm(SiteForm):
    """Under the 500 page's reference: what the user was doing. `reference` names the request and its fault, signed."""

    reference = HiddenField()
    text = TextAreaField(
        "What were you doing when this happened?", validators=[DataRequired(), Length(max=FEEDBACK_MAX)]
    )
    submit = SubmitField("Send")
