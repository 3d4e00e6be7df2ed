"""`flask seed`: fill the database with demo users, posts and follows (the bench and the browser tests use it)."""

import random
from datetime import timedelta

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.extensions import db
from app.models import Post, User, followers, hash_password, recount_follows, utcnow

DEMO_PASSWORD = "microblog-demo"
WORDS = (
    "coffee morning deploy garden rain river bicycle bread logs alert queue page error "
    "friend walk music book train city night code review tea mountain fox lamp"
).split()


@click.command()
@click.option("--users", default=50, show_default=True, help="How many demo users.")
@click.option("--posts", default=1000, show_default=True, help="How many posts in all.")
@click.option("--follows", default=10, show_default=True, help="How many users each user follows.")
@click.option("--seed", "random_seed", default=1, show_default=True, help="Random seed, for repeatable data.")
@with_appcontext
def seed(users: int, posts: int, follows: int, random_seed: int) -> None:
    """Fill the database with demo users, posts and follows (skipping users that exist)."""
    rng = random.Random(random_seed)
    ids = create_demo_users(users)
    create_demo_posts(rng, ids, posts)
    create_demo_follows(rng, ids, follows)
    recount_follows()  # the follows went in as rows, past User.follow()
    db.session.commit()
    click.echo(f"Seeded {len(ids)} users, {posts} posts, {follows} follows each. Log in as demo1 / {DEMO_PASSWORD}.")


def create_demo_users(count: int) -> list[int]:
    """Insert users demo1..demoN that do not exist yet; return all their ids."""
    names = [f"demo{n}" for n in range(1, count + 1)]
    existing = set(db.session.scalars(sa.select(User.username).where(User.username.in_(names))))
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all keeps seeding fast
    rows = [
        {"username": name, "email": f"{name}@example.com", "password_hash": password_hash, "about_me": f"I am {name}."}
        for name in names
        if name not in existing
    ]
    if rows:
        db.session.execute(sa.insert(User), rows)
    return list(db.session.scalars(sa.select(User.id).where(User.username.in_(names))))


def create_demo_posts(rng: random.Random, user_ids: list[int], count: int) -> None:
    now = utcnow()
    rows = [
        {
            "body": " ".join(rng.choices(WORDS, k=rng.randint(4, 20))).capitalize() + ".",
            "user_id": rng.choice(user_ids),
            "timestamp": now - timedelta(minutes=count - n),
        }
        for n in range(count)
    ]
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(Post), rows[start : start + 5000])


def create_demo_follows(rng: random.Random, user_ids: list[int], per_user: int) -> None:
    existing = {tuple(row) for row in db.session.execute(sa.select(followers.c.follower_id, followers.c.followed_id))}
    rows = []
    for follower in user_ids:
        others = [u for u in user_ids if u != follower]
        for followed in rng.sample(others, min(per_user, len(others))):
            if (follower, followed) not in existing:
                rows.append({"follower_id": follower, "followed_id": followed})
    if rows:
        db.session.execute(sa.insert(followers), rows)
