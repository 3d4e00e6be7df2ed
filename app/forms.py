"""The site's forms; every field's maximum length matches its column."""

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError

from app.extensions import db
from app.form_messages import plain_messages
from app.models import ABOUT_ME_MAX, EMAIL_MAX, POST_MAX, USERNAME_MAX, User
from app.observability.faults import FEEDBACK_MAX

PASSWORD_MAX = 128
USERNAME_TAKEN = "This username is taken. Please choose another one."
EMAIL_TAKEN = "An account with this email address already exists."
username_rules = [
    DataRequired(),
    Length(max=USERNAME_MAX),
    Regexp(r"^[\w.-]+$", message="Use letters, digits, dots, dashes and underscores only."),
]


def username_is_taken(username: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.username == username)) is not None


class SiteForm(FlaskForm):
    """Base of the site's forms: WTForms' messages in plain words; also refuse text that no database column can
    store (NUL characters)."""

    class Meta:
        def get_translations(self, form):
            return plain_messages

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and "\x00" in field.data:
                field.errors = [*field.errors, "This field contains a character that is not allowed."]
                valid = False
        return valid


class LoginForm(SiteForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    remember_me = BooleanField("Remember me")
    submit = SubmitField("Sign in")


class RegistrationForm(SiteForm):
    username = StringField("Username", validators=username_rules)
    email = StringField("Email", validators=[DataRequired(), Email(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=PASSWORD_MAX)])
    password2 = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", message="The passwords differ.")]
    )
    submit = SubmitField("Register")

    def validate_username(self, username: StringField) -> None:
        if username_is_taken(username.data):
            raise ValidationError(USERNAME_TAKEN)

    def validate_email(self, email: StringField) -> None:
        if db.session.scalar(sa.select(User.id).where(User.email == email.data)) is not None:
            raise ValidationError(EMAIL_TAKEN)


class EditProfileForm(SiteForm):
    username = StringField("Username", validators=username_rules)
    about_me = TextAreaField("About me", validators=[Length(max=ABOUT_ME_MAX)])
    submit = SubmitField("Save")

    def __init__(self, original_username: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.original_username = original_username

    def validate_username(self, username: StringField) -> None:
        if username.data != self.original_username and username_is_taken(username.data):
            raise ValidationError(USERNAME_TAKEN)


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
