"""followers indexed by the followed user

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 01:30:00

The primary key (follower_id, followed_id) finds whom a user follows. Counting a user's followers (every
profile page, the API's user) read every row of the table without this index. Building it holds writes to
`followers` (follows and unfollows) for as long as the build takes.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_followers_followed_id", "followers", ["followed_id"])


def downgrade():
    op.drop_index("ix_followers_followed_id", table_name="followers")
