"""The operator's pages: /admin/errors, the fault list with mute and resolve buttons (blueprint "admin"),
and `flask users admin NAME`, which says who may see it.

It imports the base layer and app/observability/ (the fault store); nothing imports it but create_app.
"""

from app.admin.cli import users_cli
from app.admin.routes import bp

bp.cli.add_command(users_cli)  # `flask users`: the blueprint's commands are top-level (cli_group=None)

__all__ = ["bp"]
