"""The microblog's pages: the timeline, explore, profiles, following; avatars and the site's icon."""

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound

from app.database import is_transient
from app.extensions import db, login
from app.forms import EditProfileForm, EmptyForm, PostForm
from app.main import post_lists
from app.main.avatars import identicon_svg
from app.main.pagination import Page, Place, cursor_for
from app.main.posts import deletable_by, delete_own_post, own_post
from app.models import Post, Profile, User, commit_unless_taken
from app.rules import POST_MAX, USERNAME_MAX, USERNAME_TAKEN

bp = Blueprint("main", __name__, cli_group=None)  # `flask seed` (app/main/cli.py) is a top-level command


@bp.before_app_request
def record_last_seen() -> None:
    if request.url_rule is None:
        return  # no page matched (a 404 or 405 from the router): nothing here needs the user
    if request.blueprints and request.blueprints[-1] in ("health", "feedback", "admin", "api"):  # the outermost
        # Health checks and the 500 page's feedback answer without the database, cookie or not;
        # the admin pages load the user themselves and answer 503 when the database is down;
        # the API knows callers by their token only, never by a cookie (app/api/__init__.py).
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


def viewer_id() -> int | None:
    """Return the id of the user viewing the page, None for a visitor."""
    return current_user.id if current_user.is_authenticated else None


def posts_page(post_list: post_lists.PostList, **values) -> Page:
    """Return the page of a list the query string asks for: the newest, or ?before= or ?after= a post's cursor.

    An old numbered address (?page=N, from a bookmark) is sent on to the keyset address of the same page by a
    302, not a 301: page N holds other posts as posts are written, and a browser keeps a 301 for good. A page
    after the newest post (its Newer link followed once that post was deleted) is the first page.
    """
    per_page = current_app.config["POSTS_PER_PAGE"]
    args = request.args
    place = Place.from_query(args.get("before"), args.get("after"), args.get("page"))
    number = args.get("page", type=int)  # a page that is not a number is the first, as it always was
    if number is not None:
        start = post_list.start_of_old_page(number, per_page, **values)
        if start is not None:
            abort(redirect(url_for(request.endpoint, **request.view_args, before=cursor_for(*start)), 302))
    page = post_list.page(place, per_page, **values)
    if place.after is not None and not page.items:
        abort(redirect(url_for(request.endpoint, **request.view_args), 302))
    return page


@bp.route("/", methods=["GET", "POST"])
def index():
    if not current_user.is_authenticated:
        return send_visitor_from_home()
    form = None  # a plain visit shows the plain HTML box (_post_form.html)
    if request.method == "POST":
        form = PostForm()
        if form.validate_on_submit():
            db.session.add(Post(body=form.post.data, author=current_user))
            db.session.commit()
            flash("Your post is now live!")
            return redirect(url_for("main.index"))
    page = posts_page(post_lists.TIMELINE, user_id=current_user.id)
    deletable = deletable_by(page.items, current_user.id)
    return render_template(
        "index.html", title="Home", form=form, post_max=POST_MAX, page=page, endpoint="main.index", deletable=deletable
    )


def send_visitor_from_home():
    """Send a visitor to the page that says what Microblog is; a post sent without a login goes to the login page.

    A redirect rather than the welcome page at "/" itself: "/" answers 200 only to someone logged in, so a lost
    session still shows as a 302 (the benchmark counts those as wrong answers).
    """
    if request.method == "POST":
        return login.unauthorized()
    return redirect(url_for("main.welcome"))


@bp.route("/welcome")
def welcome():
    """Say what Microblog is, with the way in; someone logged in goes to their home page."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    return render_template("welcome.html", title="Welcome")


@bp.route("/explore")
def explore():
    page = posts_page(post_lists.EXPLORE)
    return render_template(
        "explore.html",
        title="Explore",
        page=page,
        endpoint="main.explore",
        deletable=deletable_by(page.items, viewer_id()),
    )


class NoSuchUser(NotFound):
    """A profile, follow or unfollow of a name no account has: a 404 that names it."""

    description = "There is no user with that name."

    def __init__(self, username: str):
        shown = username if len(username) <= USERNAME_MAX else username[:USERNAME_MAX] + "…"  # no name is longer
        super().__init__(f"There is no user named {shown}.")  # escaped where it is shown, as any text


def user_or_404(username: str) -> User:
    """Return the user with this name in any letter case, or answer 404."""
    person = User.by_username(username)
    if person is None:
        raise NoSuchUser(username)
    return person


@bp.route("/user/<username>")
def user(username: str):
    viewer = viewer_id()
    person = Profile.of(username, viewer)
    if person is None:
        raise NoSuchUser(username)
    page = posts_page(post_lists.BY_USER, user_id=person.id)
    return render_template(
        "user.html",
        title=person.display_name or person.username,
        user=person,
        page=page,
        followers_count=person.followers_count,
        following_count=person.following_count,
        is_following=person.viewer_follows,
        endpoint="main.user",
        endpoint_args={"username": person.username},
        deletable=deletable_by(page.items, viewer),
    )


@bp.route("/edit_profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    form = EditProfileForm(current_user.username)
    if form.validate_on_submit():
        current_user.username = form.username.data
        current_user.display_name = form.display_name.data
        current_user.about_me = form.about_me.data
        if commit_unless_taken(form.username.data) is None:
            flash("Your changes have been saved.")
            return redirect(url_for("main.edit_profile"))
        form.username.errors.append(USERNAME_TAKEN)
    elif request.method == "GET":
        form.username.data = current_user.username
        form.display_name.data = current_user.display_name
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


# Where the confirmation's Cancel and the redirect after a delete lead: back to the list the Delete link was on
# (?back= names its view), given as a name rather than an address, so that no link can send anyone off the site.
LISTS = ("index", "explore", "user")


def list_url(name: str | None) -> str:
    """Return the address of the list named `name`; the user's own profile for "user" and for any other name."""
    if name in ("index", "explore"):
        return url_for(f"main.{name}")
    return url_for("main.user", username=current_user.username)


@bp.route("/post/<int:post_id>/delete", methods=["GET", "POST"])
@login_required
def delete_post(post_id: int):
    """Ask "Delete this post?" (GET); delete it (the confirmation's POST, with its CSRF token)."""
    back = request.values.get("back")
    if request.method == "POST":
        delete_own_post(post_id, current_user)
        flash("Your post was deleted.")
        return redirect(list_url(back))
    post = own_post(post_id, current_user)
    back = back if back in LISTS else None
    return render_template("delete_post.html", title="Delete this post?", post=post, back=back, back_url=list_url(back))


@bp.route("/avatar/<digest>.svg")
def avatar(digest: str):
    svg = identicon_svg(digest, request.args.get("s", 128, type=int))
    response = Response(svg, mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def favicon():
    """Answer /favicon.ico, which browsers and feed readers ask for by habit, with the site's icon (not a 404)."""
    response = current_app.send_static_file("favicon.svg")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


# An app-wide endpoint, "favicon", like "static": a file rather than a page, which planned downtime serves
# with the static files (app/ops/maintenance.py).
bp.record_once(lambda state: state.app.add_url_rule("/favicon.ico", "favicon", favicon))
