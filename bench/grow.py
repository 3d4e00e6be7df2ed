"""A grown site for the benchmark: a million posts, users who follow 1,000 accounts, a user followed by 10,000.

Run as `python -m bench.grow` with the site's settings in the environment (DATABASE_URL), after `flask db
upgrade`. Rows go in through the app's own tables in large batches: `flask seed` adds rows a few thousand at
a time and hashes a password per run, which is fine for a demo and slow for a million posts.

- users demo1..demoN share the demo password (one hash); the last, the star, wrote `--star-posts` of the posts
  and is followed by every other user;
- demo1..demo`--logged-in` (the users the benchmark logs in) each follow `--follows` accounts, the star among
  them; the other posts are spread at random over every user, a second apart, the newest now.
"""

import argparse
import random
import time
from datetime import timedelta

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.main.cli import DEMO_PASSWORD, WORDS
from app.models import Post, User, followers, hash_password, recount_follows, utcnow

BATCH = 10_000


def users(count: int) -> list[dict]:
    password_hash = hash_password(DEMO_PASSWORD)
    names = (f"demo{n}" for n in range(1, count + 1))
    return [{"username": name, "email": f"{name}@example.com", "password_hash": password_hash} for name in names]


def posts(rng: random.Random, user_ids: list[int], count: int, star: int, star_posts: int):
    """Yield the posts in batches, oldest first; every (count // star_posts)th is the star's."""
    now = utcnow()
    every = max(1, count // max(star_posts, 1))
    batch = []
    for n in range(count):
        author = star if star_posts and n % every == 0 else rng.choice(user_ids)
        body = " ".join(rng.choices(WORDS, k=rng.randint(4, 20))).capitalize() + "."
        batch.append({"body": body, "user_id": author, "timestamp": now - timedelta(seconds=count - n)})
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def follows(rng: random.Random, user_ids: list[int], star: int, logged_in: int, per_user: int) -> list[dict]:
    """Every user follows the star; each of the first `logged_in` users follows `per_user` accounts in all."""
    pairs = {(user, star) for user in user_ids if user != star}
    for user in user_ids[:logged_in]:
        others = [other for other in user_ids if other not in (user, star)]
        pairs |= {(user, followed) for followed in rng.sample(others, min(per_user - 1, len(others)))}
    return [{"follower_id": follower, "followed_id": followed} for follower, followed in sorted(pairs)]


def grow(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    connection = db.session.connection()
    connection.execute(sa.insert(User), users(args.users))
    user_ids = list(connection.scalars(sa.select(User.id).order_by(User.id)))
    star = user_ids[-1]
    for batch in posts(rng, user_ids, args.posts, star, args.star_posts):
        connection.execute(sa.insert(Post), batch)
    rows = follows(rng, user_ids, star, args.logged_in, args.follows)
    for start in range(0, len(rows), BATCH):
        connection.execute(sa.insert(followers), rows[start : start + BATCH])
    recount_follows()  # the follows went in as rows, past User.follow()
    db.session.commit()
    if connection.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))  # plans from the grown tables, as autovacuum would soon make them
        db.session.commit()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grow", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_001, help="the last one is the star")
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--star-posts", type=int, default=30_000)
    parser.add_argument("--logged-in", type=int, default=50)
    parser.add_argument("--follows", type=int, default=1_000, help="accounts each logged-in user follows")
    args = parser.parse_args(argv)
    started = time.monotonic()
    app = create_app()
    with app.app_context():
        grow(args)
    print(f"grown in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
