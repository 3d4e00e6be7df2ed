"""posts indexed by time and id

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00

Lists of posts are pages by position: the Older link names the last post shown, (timestamp, id), and the
next page is the posts before it, found by seeking an index on (timestamp, id). On timestamp alone,
PostgreSQL could seek the time but then sorted the posts of each timestamp by id (SQLite's indexes hold
the id already). The new index serves everything the old one did, so the old one goes. Building it holds
writes to `post` for as long as the build takes.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_post_timestamp_id", "post", ["timestamp", "id"])
    op.drop_index("ix_post_timestamp", table_name="post")


def downgrade():
    op.create_index("ix_post_timestamp", "post", ["timestamp"])
    op.drop_index("ix_post_timestamp_id", table_name="post")
