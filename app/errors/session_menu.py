"""The logged-in menu on pages that must not touch the database (the 5xx pages, feedback, maintenance).

Those pages never load the user: the database may be what failed. The name the menu shows is kept in
the session instead, written after any request that loaded the user anyway, so that keeping it costs
no query. Flask-Login's `_user_id` in the same session says whether that person is still logged in.
"""

import sqlalchemy as sa
from flask import Flask, Response, g, session

DISPLAY_NAME = "display_name"


def init_app(app: Flask) -> None:
    app.after_request(keep_display_name)
    app.context_processor(lambda: {"session_user_name": session_user_name})


def keep_display_name(response: Response) -> Response:
    """Keep the loaded user's name in the session; drop it once nobody is logged in."""
    user = g.get("_login_user")  # where Flask-Login keeps the request's user, once something loaded it
    if user is None:
        return response  # nothing asked who this is (an avatar, a health check): leave the session alone
    if user.is_authenticated:
        keep_display_name_of(user)
    elif DISPLAY_NAME in session and "_user_id" not in session:
        session.pop(DISPLAY_NAME)
    return response


def keep_display_name_of(user) -> None:
    """Keep `user`'s name in the session, unless it is there already (an unchanged session is not sent again)."""
    name = sa.inspect(user).dict.get("username")  # the loaded value only: reading it never queries
    if name and session.get(DISPLAY_NAME) != name:
        session[DISPLAY_NAME] = name


def session_user_name() -> str | None:
    """Return the name of the person logged in on this session, without asking the database."""
    return session.get(DISPLAY_NAME) if "_user_id" in session else None
