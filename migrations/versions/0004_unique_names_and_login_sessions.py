"""usernames unique in any letter case, emails lower-cased, login sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 20:30:00

Rows that would collide are reported, never changed: the migration stops and names them, and an
operator decides which account keeps the name or address (rename or merge by hand, then run it again).
"""

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

user = sa.table(
    "user",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_key", sa.String),
    sa.column("email", sa.String),
)


class CollidingAccounts(RuntimeError):
    """Existing accounts share a name or an address once letter case (and width) is ignored."""


def username_key(name: str) -> str:
    """The same rule as app.models.username_key, copied: a migration must not change when the app does."""
    return unicodedata.normalize("NFKC", name).lower()


def upgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.select(user.c.id, user.c.username, user.c.email).order_by(user.c.id)).all()
    collisions = colliding(rows, "username", username_key) + colliding(rows, "email", str.lower)
    if collisions:
        raise CollidingAccounts(
            "Migration 0004 stopped: these accounts differ only in letter case, and usernames and emails must be "
            "unique in any case. Rename or merge them, then run `flask db upgrade` again. Nothing was changed.\n"
            + "\n".join(collisions)
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=64), nullable=True))
    for row in rows:
        values = {"username_key": username_key(row.username), "email": row.email.lower()}
        connection.execute(user.update().where(user.c.id == row.id).values(**values))
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_user_username_key", ["username_key"])
    create_login_session_table()


def colliding(rows, field: str, key) -> list[str]:
    """Return one line per group of rows whose `field` is the same under `key`, naming each row."""
    groups = defaultdict(list)
    for row in rows:
        groups[key(getattr(row, field))].append(row)
    return [
        f"  {field} {name!r}: " + ", ".join(f"id {row.id} {getattr(row, field)!r}" for row in members)
        for name, members in groups.items()
        if len(members) > 1
    ]


def create_login_session_table():
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_session_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_user_id"))
    op.drop_table("login_session")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_constraint("uq_user_username_key", type_="unique")
        batch_op.drop_column("username_key")
