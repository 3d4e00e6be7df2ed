"""The account pages: log in and out, register, change or reset a password. Each view reads its form and calls
the account service (accounts.py), which every door shares."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import TooManyRequests

from app.auth import accounts
from app.auth.limits import (
    TooManyFailedLogins,
    account_form_limit,
    log_refused_request,
    login_attempts,
    registrations,
    remember_device,
)
from app.errors.handlers import error_response, handle_http_error
from app.extensions import limiter
from app.forms import (
    ChangePasswordForm,
    LoginForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetPasswordRequestForm,
)
from app.rules import CONTROL, USERNAME_TAKEN

RESET_MAIL_ON_ITS_WAY = (
    "If an account uses this address, a mail with a link to choose a new password is on its way. "
    "If nothing arrives within a few minutes, check the address and try again later."
)
MAIL_DOWN = "We cannot send mail right now. Please try again in a few minutes."
INVALID_LOGIN = "Invalid username or password."
WELCOME = "Welcome to Microblog! Log in with the password you just chose."
REGISTERED_NAME = "registered_name"  # the session's key for the name just registered, waiting on the login form

bp = Blueprint("auth", __name__)


def is_safe_next(target: str | None) -> bool:
    """Accept only a path on this site: no scheme, no host, no `//` or backslash tricks, no control character."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if CONTROL.search(target):
        return False  # a control character (C0, DEL, C1): CR LF would split the Location header
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
@login_attempts
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.is_submitted():
        password = form.password.data if form.validate() else None
        person = accounts.log_in(form.username.data or "", password)
        if person is None:
            if not form.errors:  # an error of the form, in its summary: it does not say which field was wrong
                form.form_errors.append(INVALID_LOGIN)
            return render_template("auth/login.html", title="Sign in", form=form)
        accounts.start_login(person, remember=form.remember_me.data)
        target = request.args.get("next")
        response = redirect(target if is_safe_next(target) else url_for("main.index"))
        remember_device(response, person)
        return response
    form.username.data = session.pop(REGISTERED_NAME, None)  # after registering, only the password is left to type
    return render_template("auth/login.html", title="Sign in", form=form)


@bp.errorhandler(TooManyRequests)
def too_many_requests(error: TooManyRequests):
    """Past a login limit (failed logins, or attempts at the login form) offer a new password by mail beside the
    wait: someone locked out is often someone who forgot it. Any other 429 of these pages is the site's usual one."""
    if isinstance(error, TooManyFailedLogins) or request.endpoint == "auth.login":
        return error_response(error, "auth/too_many_logins.html", safe_mode=False)
    return handle_http_error(error)


@bp.route("/logout", methods=["POST"])
def logout():
    accounts.end_login(current_user if current_user.is_authenticated else None)
    flash("You have been logged out.")
    return redirect(url_for("main.explore"))


@bp.route("/logout_everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    """End every login of this user, on every browser and device, and revoke their API tokens."""
    accounts.log_out_everywhere(current_user._get_current_object())
    accounts.end_login(None)
    flash("You have been logged out everywhere.")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@registrations
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            accounts.register(form.username.data, form.email.data, form.password.data)
        except accounts.NameTaken:
            form.username.errors.append(USERNAME_TAKEN)
            return render_template("auth/register.html", title="Register", form=form)
        # The same answer whether the address was free or not (its owner gets a mail instead): logging the new
        # account in here would tell a stranger which addresses have accounts, so the login form waits with the name.
        flash(WELCOME)
        session[REGISTERED_NAME] = form.username.data
        return redirect(url_for("auth.login"))
    return render_template("auth/register.html", title="Register", form=form)


@bp.route("/change_password", methods=["GET", "POST"])
@login_required
@limiter.limit(account_form_limit, methods=["POST"], on_breach=log_refused_request)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if accounts.change_password(current_user._get_current_object(), form.current_password.data,
                                    form.password.data):  # fmt: skip
            flash("Your password has been changed. Every other session of yours has ended.")
            return redirect(url_for("main.user", username=current_user.username))
        form.current_password.errors.append("Your current password is not right.")
    return render_template("auth/change_password.html", title="Change password", form=form)


@bp.route("/reset_password_request", methods=["GET", "POST"])
@limiter.limit(account_form_limit, methods=["POST"], on_breach=log_refused_request)
def reset_password_request():
    form = ResetPasswordRequestForm()
    if form.validate_on_submit():
        if not accounts.can_send_mail():  # before looking the address up: the answer must not depend on it
            flash(MAIL_DOWN)
            return render_template("auth/reset_password_request.html", title="Reset password", form=form), 503
        accounts.request_password_reset(form.email.data)
        flash(RESET_MAIL_ON_ITS_WAY)
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password_request.html", title="Reset password", form=form)


@bp.route("/reset_password", methods=["GET", "POST"])
def reset_password():
    """The link in the mail lands here with ?token=; the token moves to the session and out of the URL."""
    if "token" in request.args:
        token = request.args["token"]
        if accounts.user_of_reset_token(token) is None:
            return invalid_reset_link()
        session["reset_token"] = token
        return redirect(url_for("auth.reset_password"))
    user = accounts.user_of_reset_token(session.get("reset_token", ""))
    if user is None:
        return invalid_reset_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        accounts.reset_password(user, form.password.data)  # the token was bound to the old hash: it dies here
        accounts.end_login(None)
        flash("Your password has been changed. You can now log in with it.")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", title="Choose a new password", form=form)


def invalid_reset_link():
    session.pop("reset_token", None)
    flash("This link is invalid or has expired (each link works once). Ask for a new one here.")
    return redirect(url_for("auth.reset_password_request"))
