"""The site's forms; every field's maximum length matches its column, and every message is in plain words."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, StopValidation, ValidationError

from app import rules
from app.models import username_is_taken, username_key
from app.observability.faults import FEEDBACK_MAX
from app.rules import NotPlain, RuleBroken


class Rule:
    """A WTForms validator that asks app/rules.py, the rules every door shares; the field keeps the value as it
    is stored (an address lower-cased). Its limits are also the field's HTML attributes (maxlength)."""

    def __init__(self, check, *args, most: int | None = None, least: int | None = None):
        self.check, self.args = check, args
        most = most if most is not None else args[0]
        least = least if least is not None else (args[1] if len(args) > 1 else 0)
        self.field_flags = {"maxlength": most} | ({"minlength": least} if least else {})

    def __call__(self, form, field) -> None:
        try:
            field.data = self.check(field.data or "", *self.args)
        except RuleBroken as broken:
            raise StopValidation(str(broken)) from None


def username_rule(form, field) -> None:
    """The rule for a new name; the account's own name stays as it is (a name given before the rules, "Алёна").

    A name typed in compatibility characters is offered in plain letters, after the check that it is free.
    """
    try:
        rules.check_username(field.data or "", keep=getattr(form, "original_username", None))
    except NotPlain as offer:
        form.plain_offer = offer
    except RuleBroken as broken:
        raise StopValidation(str(broken)) from None


def offer_plain_name(form, field: StringField) -> None:
    offer = getattr(form, "plain_offer", None)
    if offer is not None:
        field.data = offer.plain
        raise ValidationError(str(offer))


username_rules = [DataRequired(), username_rule]
email_rules = [DataRequired(), Rule(rules.check_email, most=rules.EMAIL_MAX)]
# What each account field holds, in the browser's words (HTML's autocomplete tokens): a password manager offers
# the right password, or a new one, and a phone the right keyboard. An email field is type="email" for that
# keyboard only: the forms are novalidate, so the address is still checked here, by app/rules.py.
HOLDS_USERNAME = {"autocomplete": "username"}
HOLDS_EMAIL = {"autocomplete": "email"}
HOLDS_NAME = {"autocomplete": "name"}
HOLDS_PASSWORD = {"autocomplete": "current-password"}
HOLDS_NEW_PASSWORD = {"autocomplete": "new-password"}


def new_password_fields(label: str = "Password"):
    """Return the "new password" and "repeat it" fields of the registration, change and reset forms."""
    rule = Rule(rules.check_password, most=rules.PASSWORD_MAX, least=rules.PASSWORD_MIN)
    password = PasswordField(label, validators=[DataRequired(), rule], render_kw=HOLDS_NEW_PASSWORD)
    repeat = PasswordField(
        f"Repeat {label.lower()}",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw=HOLDS_NEW_PASSWORD,
    )
    return password, repeat


# WTForms' own messages in plain words, given to every form through its Meta translations (SiteForm).
# WTForms asks `gettext` and `ngettext` for each message it shows ("Field must be between 8 and 128
# characters long."); these answer with a sentence that says what to do instead ("Use between 8 and 128
# characters."), and with WTForms' text for any message not listed. A validator given its own message
# keeps it.
PLAIN = {
    "This field is required.": rules.FILL_IN,
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
    username = StringField(
        "Username", validators=[DataRequired(), Rule(rules.check_length, rules.USERNAME_MAX)], render_kw=HOLDS_USERNAME
    )
    password = PasswordField(
        "Password", validators=[DataRequired(), Rule(rules.check_length, rules.PASSWORD_MAX)], render_kw=HOLDS_PASSWORD
    )
    remember_me = BooleanField("Remember me")
    submit = SubmitField("Sign in")


class RegistrationForm(SiteForm):
    """A taken email is no form error: the owner gets a mail instead, so the form tells no one who has an account."""

    username = StringField("Username", validators=username_rules, render_kw=HOLDS_USERNAME)
    email = EmailField("Email", validators=email_rules, render_kw=HOLDS_EMAIL)
    password, password2 = new_password_fields()
    submit = SubmitField("Register")

    def validate_username(self, username: StringField) -> None:
        if username_is_taken(username.data):
            raise ValidationError(rules.USERNAME_TAKEN)
        offer_plain_name(self, username)


class ChangePasswordForm(SiteForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(), Rule(rules.check_length, rules.PASSWORD_MAX)],
        render_kw=HOLDS_PASSWORD,
    )
    password, password2 = new_password_fields("New password")
    submit = SubmitField("Change password")


class ResetPasswordRequestForm(SiteForm):
    email = EmailField("Email", validators=email_rules, render_kw=HOLDS_EMAIL)
    submit = SubmitField("Send me a link")


class ResetPasswordForm(SiteForm):
    password, password2 = new_password_fields("New password")
    submit = SubmitField("Set the new password")


class EditProfileForm(SiteForm):
    username = StringField("Username", validators=username_rules, render_kw=HOLDS_USERNAME)
    display_name = StringField(
        "Display name", validators=[Rule(rules.check_display_name, most=rules.DISPLAY_NAME_MAX)],
        description="Optional, in any script: shown beside your username.", render_kw=HOLDS_NAME,
    )  # fmt: skip
    about_me = TextAreaField("About me", validators=[Rule(rules.check_text, rules.ABOUT_ME_MAX)])
    submit = SubmitField("Save")

    def __init__(self, original_username: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.original_username = original_username

    def validate_username(self, username: StringField) -> None:
        if username_key(username.data) != username_key(self.original_username) and username_is_taken(username.data):
            raise ValidationError(rules.USERNAME_TAKEN)
        offer_plain_name(self, username)


class PostForm(SiteForm):
    post = TextAreaField("Say something", validators=[DataRequired(), Rule(rules.check_text, rules.POST_MAX, 1)])
    submit = SubmitField("Post")


class EmptyForm(SiteForm):
    """A form with only a CSRF token, for buttons that change state (follow, unfollow)."""

    submit = SubmitField("Submit")


class FeedbackForm(SiteForm):
    """Under the 500 page's reference: what the user was doing. `reference` names the request and its fault, signed."""

    reference = HiddenField()
    # Optional, as the page says: sent empty, it is thanked and stores nothing (app/errors/feedback.py).
    text = TextAreaField("What were you doing when this happened?", validators=[Rule(rules.check_text, FEEDBACK_MAX)])
    submit = SubmitField("Send")
