"""The site's pages: timeline, explore, profiles, following, accounts."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.avatars import identicon_svg
from app.database import is_transient
from app.extensions import db, limiter
from app.forms import (
    EMAIL_TAKEN,
    USERNAME_TAKEN,
    EditProfileForm,
    EmptyForm,
    LoginForm,
    PostForm,
    RegistrationForm,
    username_is_taken,
)
from app.models import Post, User, newest_posts
from app.pagination import paginate
from app.security import account_form_limit

bp = Blueprint("main", __name__)


@bp.before_app_request
def record_last_seen() -> None:
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


def posts_page(query: sa.Select):
    return paginate(query, page_number(), current_app.config["POSTS_PER_PAGE"])


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = PostForm()
    if form.validate_on_submit():
        db.session.add(Post(body=form.post.data, author=current_user))
        db.session.commit()
        flash("Your post is now live!")
        return redirect(url_for("main.index"))
    page = posts_page(current_user.timeline())
    return render_template("index.html", title="Home", form=form, page=page, endpoint="main.index")


@bp.route("/explore")
def explore():
    page = posts_page(newest_posts())
    return render_template("explore.html", title="Explore", page=page, endpoint="main.explore")


@bp.route("/user/<username>")
def user(username: str):
    person = db.first_or_404(sa.select(User).where(User.username == username))
    page = posts_page(person.posts_query())
    viewer_id = current_user.id if current_user.is_authenticated else None
    followers_count, following_count, is_following = person.follow_counts(viewer_id)
    return render_template(
        "user.html",
        title=person.username,
        user=person,
        page=page,
        form=EmptyForm(),
        followers_count=followers_count,
        following_count=following_count,
        is_following=is_following,
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
    person = db.first_or_404(sa.select(User).where(User.username == username))
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
    if any(ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F for character in target):
        return False  # a control character (C0, DEL, C1): CR LF would split the Location header
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(account_form_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        person = db.session.scalar(sa.select(User).where(User.username == form.username.data))
        if person is None or not person.check_password(form.password.data):
            flash("Invalid username or password.")
            return render_template("login.html", title="Sign in", form=form)
        login_user(person, remember=form.remember_me.data)
        target = request.args.get("next")
        return redirect(target if is_safe_next(target) else url_for("main.index"))
    return render_template("login.html", title="Sign in", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("You have been logged out.")
    return redirect(url_for("main.explore"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(account_form_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        person = User(username=form.username.data, email=form.email.data)
        person.set_password(form.password.data)
        db.session.add(person)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            field = form.username if username_is_taken(form.username.data) else form.email
            field.errors.append(USERNAME_TAKEN if field is form.username else EMAIL_TAKEN)
        else:
            flash("Welcome to Microblog! You can now log in.")
            return redirect(url_for("main.login"))
    return render_template("register.html", title="Register", form=form)
