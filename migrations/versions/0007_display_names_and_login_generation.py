"""display names and the login generation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:00:00

A person may show a name in any script beside their ASCII handle (`display_name`, empty for the existing
accounts, which keep showing their handle). `login_generation` goes up whenever every login of an account
ends (a new password, "log out everywhere"); a browser's device cookie holds the generation it was given
under, so every cookie given before is worth nothing after. Both are new columns with defaults: no row is
rewritten beyond that.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("login_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("login_generation")
        batch_op.drop_column("display_name")
