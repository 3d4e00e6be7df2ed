"""`flask users admin NAME [--revoke]`: who sees /admin/errors."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.models import User

users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the admin right away instead.")
def make_admin(username: str, revoke: bool) -> None:
    """Let a user see /admin/errors (or, with --revoke, no longer)."""
    person = db.session.scalar(sa.select(User).where(User.username == username))
    if person is None:
        raise click.ClickException(f"No user named {username!r}.")
    person.is_admin = not revoke
    db.session.commit()
    click.echo(f"{person.username} is {'no longer ' if revoke else ''}an admin: /admin/errors is "
               f"{'a 404' if revoke else 'open'} to them.")  # fmt: skip
