"""The microblog itself: the timeline, explore, profiles, posts and follows (blueprint "main").

    routes.py       the pages
    post_lists.py   the lists of posts the pages and the API show, read lean
    pagination.py   newer/older pages by a post's position, never an offset
    avatars.py      identicons drawn on the server
    cli.py          `flask seed`: demo users, posts and follows

It imports the base layer (models, forms, database, extensions); app/api/ reads its lists of posts.
"""

from app.main.cli import seed
from app.main.routes import bp

bp.cli.add_command(seed)  # `flask seed`: the blueprint's commands are top-level (cli_group=None)

__all__ = ["bp"]
