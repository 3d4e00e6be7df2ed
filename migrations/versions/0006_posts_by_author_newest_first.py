"""posts indexed by author and time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:40:00

A profile shows a user's newest posts. With an index on user_id alone the database found all of that
user's posts and sorted them to show 25, a cost that grows with how much they write. (user_id, timestamp, id)
hands them over newest first, and serves lookups by user_id alone too, so the old index goes. Building it
holds writes to `post` for as long as the build takes.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_post_user_id_timestamp", "post", ["user_id", "timestamp", "id"])
    op.drop_index("ix_post_user_id", table_name="post")


def downgrade():
    op.create_index("ix_post_user_id", "post", ["user_id"])
    op.drop_index("ix_post_user_id_timestamp", table_name="post")
