"""The site's pages: timeline, explore, profiles, following, accounts."""

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app import mail, post_lists
from app.accounts import (
    end_every_login,
    end_login,
    send_registration_mail,
    send_reset_mail,
    start_login,
    user_of_reset_token,
)
from app.avatars import identicon_svg
from app.database import is_transient
from app.extensions import db, limiter
from app.forms import (
    USERNAME_TAKEN,
    ChangePasswordForm,
    EditProfileForm,
    EmptyForm,
    LoginForm,
    PostForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetPasswordRequestForm,
    username_is_taken,
)
from app.input_checks import CONTROL
from app.login_limits import check_login_allowed, log_refused_request, record_failed_login, remember_device
from app.models import POST_MAX, Post, Profile, User, authenticate, hash_password
from app.security import account_form_limit

RESET_MAIL_ON_ITS_WAY = (
    "If an account uses this address, a mail with a link to choose a new password is on its way. "
    "If nothing arrives within a few minutes, check the address and try again later."
)
MAIL_DOWN = "We cannot send mail right now. Please try again in a few minutes."
WELCOME = "Welcome to Microblog! You can now log in."

bp = Blueprint("main", __name__)


@bp.before_app_request
def record_last_seen() -> None:
    if request.url_rule is None:
        return  # no page matched (a 404 or 405 from the router): nothing here needs the user
    if request.blueprint in ("health", "feedback", "admin"):
        # Health checks and the 500 page's feedback answer without the database, cookie or not;
        # the admin pages load the user themselves and answer 503 when the database is down.
        return
    if current_user.is_authenticated and current_user.touch_last_seen(current_app.config["LAST_SEEN_INTERVAL"]):
        try:
            db.session.commit()
        except SQLAlchemyError as error:
            if not is_transient(error):
                raise
            # "Last seen" can wait: a busy database must not cost the user a page it can still read.
            db.session.rollback()
            current_app.logger.info("Last seen not recorded for user %s: the database is busy", current_user.id)


def page_number() -> int:
    return request.args.get("page", 1, type=int)


def posts_page(list_posts, *args):
    """Return the page the query string asks for of a list from app.post_lists."""
    return list_posts(*args, page_number(), current_app.config["POSTS_PER_PAGE"])


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = None  # a plain visit shows the plain HTML box (_post_form.html)
    if request.method == "POST":
        form = PostForm()
        if form.validate_on_submit():
            db.session.add(Post(body=form.post.data, author=current_user))
            db.session.commit()
            flash("Your post is now live!")
            return redirect(url_for("main.index"))
    page = posts_page(post_lists.timeline, current_user.id)
    return render_template("index.html", title="Home", form=form, post_max=POST_MAX, page=page, endpoint="main.index")


@bp.route("/explore")
def explore():
    page = posts_page(post_lists.explore)
    return render_template("explore.html", title="Explore", page=page, endpoint="main.explore")


def user_or_404(username: str) -> User:
    """Return the user with this name in any letter case, or answer 404."""
    person = User.by_username(username)
    if person is None:
        abort(404)
    return person


@bp.route("/user/<username>")
def user(username: str):
    viewer_id = current_user.id if current_user.is_authenticated else None
    person = Profile.of(username, viewer_id)
    if person is None:
        abort(404)
    page = posts_page(post_lists.by_user, person.id)
    return render_template(
        "user.html",
        title=person.username,
        user=person,
        page=page,
        followers_count=person.followers_count,
        following_count=person.following_count,
        is_following=person.viewer_follows,
        endpoint="main.user",
        endpoint_args={"username": person.username},
    )


@bp.route("/edit_profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    form = EditProfileForm(current_user.username)
    if form.validate_on_submit():
        current_user.username = form.username.data
        current_user.about_me = form.about_me.data
        try:
            db.session.commit()
        except IntegrityError:
            # Another request took the name between our check and our commit.
            db.session.rollback()
            form.username.errors.append(USERNAME_TAKEN)
        else:
            flash("Your changes have been saved.")
            return redirect(url_for("main.edit_profile"))
    elif request.method == "GET":
        form.username.data = current_user.username
        form.about_me.data = current_user.about_me
    return render_template("edit_profile.html", title="Edit profile", form=form)


@bp.route("/follow/<username>", methods=["POST"])
@login_required
def follow(username: str):
    return change_following(username, follow=True)


@bp.route("/unfollow/<username>", methods=["POST"])
@login_required
def unfollow(username: str):
    return change_following(username, follow=False)


def change_following(username: str, follow: bool):
    """Follow or unfollow `username` for the current user and go back to their profile."""
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("main.index"))
    person = user_or_404(username)
    if person.id == current_user.id:
        flash("You cannot follow yourself.")
    elif follow:
        current_user.follow(person)
        db.session.commit()
        flash(f"You are following {person.username}.")
    else:
        current_user.unfollow(person)
        db.session.commit()
        flash(f"You are not following {person.username}.")
    return redirect(url_for("main.user", username=person.username))


@bp.route("/avatar/<digest>.svg")
def avatar(digest: str):
    svg = identicon_svg(digest, request.args.get("s", 128, type=int))
    response = Response(svg, mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def is_safe_next(target: str | None) -> bool:
    """Accept only a path on this site: no scheme, no host, no `//` or backslash tricks, no control character."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if CONTROL.search(target):
        return False  # a control character (C0, DEL, C1): CR LF would split the Location header
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.is_submitted():
        account = form.username.data or ""
        check_login_allowed(account)
        person = authenticate(account, form.password.data) if form.validate() else None
        if person is None:
            record_failed_login(account)
            if not form.errors:
                flash("Invalid username or password.")
            return render_template("login.html", title="Sign in", form=form)
        start_login(person, remember=form.remember_me.data)
        target = request.args.get("next")
        response = redirect(target if is_safe_next(target) else url_for("main.index"))
        remember_device(response, person.username)
        return response
    return render_template("login.html", title="Sign in", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    end_login(current_user if current_user.is_authenticated else None)
    flash("You have been logged out.")
    return redirect(url_for("main.explore"))


@bp.route("/logout_everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    """End every login of this user, on every browser and device, and revoke their API tokens."""
    user = current_user._get_current_object()
    end_every_login(user)
    db.session.commit()
    end_login(None)
    flash("You have been logged out everywhere.")
    return redirect(url_for("main.login"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(account_form_limit, methods=["POST"], on_breach=log_refused_request)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        owner = User.by_email(form.email.data)
        if owner is None:
            person, owner = create_account(form)
            if person is None and owner is None:
                form.username.errors.append(USERNAME_TAKEN)
                return render_template("register.html", title="Register", form=form)
        else:
            person = None
            hash_password(form.password.data)  # the work a new account costs, so both answers take as long
        # The same answer whether the address was free or not: its owner gets a mail instead.
        send_registration_mail(form.email.data, person, owner)
        flash(WELCOME)
        return redirect(url_for("main.login"))
    return render_template("register.html", title="Register", form=form)


def create_account(form: RegistrationForm) -> tuple[User | None, User | None]:
    """Create the account; return (new user, None), or (None, owner) if another request took the address first.

    (None, None): another request took the name first.
    """
    person = User(username=form.username.data, email=form.email.data)
    person.set_password(form.password.data)
    db.session.add(person)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if username_is_taken(form.username.data):
            return None, None
        return None, User.by_email(form.email.data)
    return person, None


@bp.route("/change_password", methods=["GET", "POST"])
@login_required
@limiter.limit(account_form_limit, methods=["POST"], on_breach=log_refused_request)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if current_user.check_password(form.current_password.data):
            current_user.set_password(form.password.data)
            end_every_login(current_user, keep_this_one=True)
            db.session.commit()
            flash("Your password has been changed. Every other session of yours has ended.")
            return redirect(url_for("main.user", username=current_user.username))
        form.current_password.errors.append("Your current password is not right.")
    return render_template("change_password.html", title="Change password", form=form)


@bp.route("/reset_password_request", methods=["GET", "POST"])
@limiter.limit(account_form_limit, methods=["POST"], on_breach=log_refused_request)
def reset_password_request():
    form = ResetPasswordRequestForm()
    if form.validate_on_submit():
        if not mail.can_send():  # before looking the address up: the answer must not depend on it
            flash(MAIL_DOWN)
            return render_template("reset_password_request.html", title="Reset password", form=form), 503
        user = User.by_email(form.email.data)
        if user is not None:
            send_reset_mail(user)
        flash(RESET_MAIL_ON_ITS_WAY)
        return redirect(url_for("main.login"))
    return render_template("reset_password_request.html", title="Reset password", form=form)


@bp.route("/reset_password", methods=["GET", "POST"])
def reset_password():
    """The link in the mail lands here with ?token=; the token moves to the session and out of the URL."""
    if "token" in request.args:
        token = request.args["token"]
        if user_of_reset_token(token) is None:
            return invalid_reset_link()
        session["reset_token"] = token
        return redirect(url_for("main.reset_password"))
    user = user_of_reset_token(session.get("reset_token", ""))
    if user is None:
        return invalid_reset_link()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)  # the token was bound to the old hash: it dies here
        end_every_login(user)
        db.session.commit()
        end_login(None)
        flash("Your password has been changed. You can now log in with it.")
        return redirect(url_for("main.login"))
    return render_template("reset_password.html", title="Choose a new password", form=form)


def invalid_reset_link():
    session.pop("reset_token", None)
    flash("This link is invalid or has expired (each link works once). Ask for a new one here.")
    return redirect(url_for("main.reset_password_request"))
