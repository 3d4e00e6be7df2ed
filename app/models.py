"""Users, their posts, who follows whom, their login sessions, and the API's bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db, login
from app.observability.request_id import note_user
from app.rules import (
    ABOUT_ME_MAX,
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    POST_MAX,
    USERNAME_MAX,
    normalize_email,
    normalize_username,
    username_key,
)


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def key_of_inserted_name(context) -> str:
    """Default of username_key for inserts that bypass the ORM's validators (`flask seed`'s bulk insert)."""
    return username_key(context.get_current_parameters()["username"])


followers = sa.Table(
    "followers",
    db.metadata,
    sa.Column("follower_id", sa.Integer, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("followed_id", sa.Integer, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_followers_followed_id", "followed_id"),  # a user's followers; the key finds whom they follow
)


class User(UserMixin, db.Model):
    """A person with an account."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(USERNAME_MAX), index=True, unique=True)
    # The name lower-cased, unique: one account per name in any letter case ("Demo1" beside "demo1").
    # A column rather than an index on lower(username): SQLite cannot reflect expression indexes, and
    # Python's lower() is the same on every database. Set with the name (see _normalize_username), and
    # by default from it for inserts that skip the ORM.
    username_key: so.Mapped[str] = so.mapped_column(sa.String(USERNAME_MAX), unique=True, default=key_of_inserted_name)
    email: so.Mapped[str] = so.mapped_column(sa.String(EMAIL_MAX), index=True, unique=True)
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(256))
    # The name shown beside the handle, in any script ("Алиса"); the handle above stays ASCII (app/rules.py).
    display_name: so.Mapped[str | None] = so.mapped_column(sa.String(DISPLAY_NAME_MAX))
    # Raised whenever every login of the account ends (password changed or reset, "log out everywhere"): a
    # browser's device cookie carries the value it was given under, and is worth nothing after.
    login_generation: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    about_me: so.Mapped[str | None] = so.mapped_column(sa.String(ABOUT_ME_MAX))
    last_seen: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, default=utcnow)
    # Sees /admin/errors; set with `flask users admin NAME`.
    is_admin: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # How many follow this user and how many they follow, kept by follow() and unfollow() in the transaction
    # that adds or removes the row: a profile shows them on every visit, and counting 10,000 followers each
    # time cost a third of the page. recount_follows() makes them again from the rows.
    followers_count: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    following_count: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    posts: so.WriteOnlyMapped[Post] = so.relationship(back_populates="author", passive_deletes=True)
    following: so.WriteOnlyMapped[User] = so.relationship(
        secondary=followers,
        primaryjoin=(followers.c.follower_id == id),
        secondaryjoin=(followers.c.followed_id == id),
        back_populates="followers",
        passive_deletes=True,
    )
    followers: so.WriteOnlyMapped[User] = so.relationship(
        secondary=followers,
        primaryjoin=(followers.c.followed_id == id),
        secondaryjoin=(followers.c.follower_id == id),
        back_populates="following",
        passive_deletes=True,
    )

    session_id = None  # "<id>:<secret>" of the LoginSession this request runs under; not a column

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    def get_id(self) -> str | None:
        """Return the id Flask-Login keeps in the cookies: this login's, so that ending the login ends them."""
        return self.session_id

    @so.validates("username")
    def _normalize_username(self, key: str, name: str) -> str:
        self.username_key = username_key(name)
        return normalize_username(name)

    @so.validates("email")
    def _normalize_email(self, key: str, email: str) -> str:
        return normalize_email(email)

    @classmethod
    def by_username(cls, name: str) -> User | None:
        """Return the user with this name in any letter case (also one named before today's rules, "Алёна")."""
        if "\x00" in name:  # no column can hold a NUL (PostgreSQL refuses the query), so no account has one
            return None
        return db.session.scalar(USER_BY_NAME, {"key": username_key(name)})

    @classmethod
    def by_email(cls, email: str) -> User | None:
        return db.session.scalar(sa.select(cls).where(cls.email == normalize_email(email)))

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    @property
    def password_needs_rehash(self) -> bool:
        """Whether the stored hash was made another way than passwords are hashed today."""
        return not (self.password_hash or "").startswith(current_app.config["PASSWORD_HASH_METHOD"] + "$")

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    @property
    def password_fingerprint(self) -> str:
        """Return a digest of the password hash: a reset link signed with it dies when the password changes."""
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:32]

    @property
    def avatar_digest(self) -> str:
        return avatar_digest(self.email)

    @property
    def shown_name(self) -> str:
        """The display name when the person chose one, else the handle."""
        return self.display_name or self.username

    def is_following(self, user: User) -> bool:
        query = self.following.select().where(User.id == user.id)
        return db.session.scalar(query) is not None

    def follow(self, user: User) -> None:
        if user.id != self.id and not self.is_following(user):
            self.following.add(user)
            self.count_follow(user, 1)

    def unfollow(self, user: User) -> None:
        if self.is_following(user):
            self.following.remove(user)
            self.count_follow(user, -1)

    def count_follow(self, user: User, step: int) -> None:
        """Add `step` to this user's following count and to `user`'s followers count, in the database itself: two
        requests counting at once each add their own."""
        db.session.execute(FOLLOWING_COUNT_STEP, {"user_id": self.id, "step": step})
        db.session.execute(FOLLOWERS_COUNT_STEP, {"user_id": user.id, "step": step})
        for person, counted in ((self, "following_count"), (user, "followers_count")):
            db.session.expire(person, [counted])  # read again when asked for

    def touch_last_seen(self, interval_seconds: int) -> bool:
        """Record that the user is here, at most once per interval; return True if it changed."""
        now = utcnow()
        if self.last_seen and (now - self.last_seen).total_seconds() < interval_seconds:
            return False
        self.last_seen = now
        return True


class Post(db.Model):
    """A short message written by a user."""

    # A user's posts newest first (their profile; ties by id) read straight from the index, not sorted; it serves
    # lookups by user_id alone too (deleting a user's posts). Every post newest first (explore, the timeline) and
    # a keyset page's (timestamp, id) < (:timestamp, :id) seek the other.
    __table_args__ = (
        sa.Index("ix_post_user_id_timestamp", "user_id", "timestamp", "id"),
        sa.Index("ix_post_timestamp_id", "timestamp", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    body: so.Mapped[str] = so.mapped_column(sa.String(POST_MAX))
    timestamp: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))

    author: so.Mapped[User] = so.relationship(back_populates="posts")

    def __repr__(self) -> str:
        return f"<Post {self.id}>"


class LoginSession(db.Model):
    """One login on one browser. Its id is in the session and remember cookies; deleting the row ends it.

    Only the SHA-256 of the secret is stored, as for API tokens: a copy of the table lets no one in.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user: so.Mapped[User] = so.relationship()

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def start(cls, user: User, lifetime_seconds: int, most: int) -> str:
        """Record a new login of `user`, one of at most `most` (the oldest end); return the id for the cookies."""
        db.session.execute(sa.delete(cls).where(cls.user_id == user.id, cls.created_at < oldest(lifetime_seconds)))
        end_all_but_newest(cls, user, most - 1)
        secret = secrets.token_urlsafe(32)
        db.session.add(cls(token_hash=cls.digest(secret), user_id=user.id))
        return f"{user.id}:{secret}"

    @classmethod
    def find_user(cls, session_id: str, lifetime_seconds: int) -> User | None:
        """Return the user of this live login, with `session_id` kept on it for get_id(); None if it ended."""
        user_id, _, secret = session_id.partition(":")
        if not user_id.isdigit() or not secret:
            return None
        values = {"digest": cls.digest(secret), "user_id": int(user_id), "oldest": oldest(lifetime_seconds)}
        user = db.session.scalar(USER_OF_LOGIN, values)
        if user is not None:
            user.session_id = session_id
        return user

    @classmethod
    def end(cls, session_id: str) -> None:
        db.session.execute(sa.delete(cls).where(cls.token_hash == cls.digest(session_id.partition(":")[2])))

    @classmethod
    def end_all(cls, user: User, keep: str | None = None) -> None:
        """End every login of `user`, but the one with id `keep` if given."""
        query = sa.delete(cls).where(cls.user_id == user.id)
        if keep:
            query = query.where(cls.token_hash != cls.digest(keep.partition(":")[2]))
        db.session.execute(query)


# The statements behind most requests, built once: building a query's expression tree is as much work as
# running it, so these hold bound parameters and each call passes only the values.
USER_OF_LOGIN = (
    sa.select(User)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == sa.bindparam("digest"), User.id == sa.bindparam("user_id"))
    .where(LoginSession.created_at >= sa.bindparam("oldest"))
)
USER_BY_NAME = sa.select(User).where(User.username_key == sa.bindparam("key"))


_person = User.__table__
FOLLOWING_COUNT_STEP = (
    sa.update(_person)
    .where(_person.c.id == sa.bindparam("user_id"))
    .values(following_count=_person.c.following_count + sa.bindparam("step"))
)
FOLLOWERS_COUNT_STEP = (
    sa.update(_person)
    .where(_person.c.id == sa.bindparam("user_id"))
    .values(followers_count=_person.c.followers_count + sa.bindparam("step"))
)
# A profile page's user with their follow counts, in one Core statement (see Profile).
PROFILE = sa.select(
    _person.c.id,
    _person.c.username,
    _person.c.display_name,
    _person.c.about_me,
    _person.c.last_seen,
    _person.c.email,
    _person.c.followers_count,
    _person.c.following_count,
    sa.exists().where(followers.c.followed_id == _person.c.id, followers.c.follower_id == sa.bindparam("viewer_id")),
).where(_person.c.username_key == sa.bindparam("key"))


def recount_follows() -> None:
    """Make every user's follow counts again from the rows of `followers`: after rows were added in bulk (`flask
    seed`, the benchmark's grown site), where follow() did not count them."""
    counted = sa.select(sa.func.count()).select_from(followers)
    db.session.execute(
        sa.update(_person).values(
            followers_count=counted.where(followers.c.followed_id == _person.c.id).scalar_subquery(),
            following_count=counted.where(followers.c.follower_id == _person.c.id).scalar_subquery(),
        )
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """What a profile page shows of a user: read in one statement, as plain values rather than a User (a third
    of the CPU of building one)."""

    id: int
    username: str
    display_name: str | None
    about_me: str | None
    last_seen: datetime | None
    avatar_digest: str
    followers_count: int
    following_count: int
    viewer_follows: bool

    @classmethod
    def of(cls, name: str, viewer_id: int | None) -> Profile | None:
        """Return the profile of the user with this name in any letter case, as `viewer_id` sees it; None if none."""
        if "\x00" in name:  # as in User.by_username
            return None
        row = db.session.connection().execute(PROFILE, {"key": username_key(name), "viewer_id": viewer_id}).first()
        if row is None:
            return None
        user_id, username, display_name, about_me, last_seen, email, followers, following, viewer_follows = row
        digest = avatar_digest(email)
        return cls(user_id, username, display_name, about_me, last_seen, digest, followers, following,
                   bool(viewer_follows))  # fmt: skip


def oldest(lifetime_seconds: int) -> datetime:
    return utcnow() - timedelta(seconds=lifetime_seconds)


class Token(db.Model):
    """A bearer token for the API. Only its SHA-256 is stored: a copy of the table lets no one in."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    revoked: so.Mapped[bool] = so.mapped_column(default=False)

    user: so.Mapped[User] = so.relationship()

    def __repr__(self) -> str:
        return f"<Token {self.id} of user {self.user_id}>"

    @staticmethod
    def digest(secret: str) -> str:
        """Return the stored form of a token: a fast hash is enough for 256 random bits."""
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, lifetime_seconds: int, most: int) -> tuple[Token, str]:
        """Return a new token for `user`, one of at most `most` (the oldest end), and its secret, which is shown
        once and never stored."""
        db.session.execute(sa.delete(cls).where(cls.user_id == user.id, cls.expires_at <= utcnow()))
        end_all_but_newest(cls, user, most - 1)
        secret = secrets.token_urlsafe(32)
        expires_at = utcnow() + timedelta(seconds=lifetime_seconds)
        return cls(token_hash=cls.digest(secret), user_id=user.id, expires_at=expires_at), secret

    @classmethod
    def find_valid(cls, secret: str) -> Token | None:
        """Return the unrevoked, unexpired token with this secret, if any."""
        digest = cls.digest(secret)
        return db.session.scalar(
            sa.select(cls).where(cls.token_hash == digest, cls.revoked.is_(False), cls.expires_at > utcnow())
        )


def end_all_but_newest(model: type[LoginSession] | type[Token], user: User, count: int) -> None:
    """End a user's logins (or tokens) but the newest `count`: an account's live logins are bounded, so a flood of
    right passwords cannot pile up rows, and a forgotten login on an old device ends in time."""
    newest = sa.select(model.id).where(model.user_id == user.id).order_by(model.id.desc()).limit(max(count, 0))
    db.session.execute(sa.delete(model).where(model.user_id == user.id, model.id.not_in(newest)))


def username_is_taken(username: str) -> bool:
    """Tell whether an account has this name in any letter case."""
    return db.session.scalar(sa.select(User.id).where(User.username_key == username_key(username))) is not None


def commit_unless_taken(username: str, email: str | None = None) -> str | None:
    """Commit a new or renamed account; return None, or which field another request took meanwhile.

    Forms and the API check a name and an address before they write them, but another request can take
    either between the check and the commit: the unique constraints decide. Then the session is rolled
    back and the answer is "username" or "email" (the name when it cannot be told which), for the door
    to say so in its own words.
    """
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if email is not None and not username_is_taken(username) and User.by_email(email) is not None:
            return "email"
        return "username"
    return None


def avatar_digest(email: str) -> str:
    """Return the hash that names a user's avatar: keyed with SECRET_KEY, so that no one can tell from a list of
    addresses which have accounts here. With AVATAR_GRAVATAR on it is Gravatar's own (the MD5 of the address,
    which anyone can compute: the price of Gravatar's pictures)."""
    address = normalize_email(email).encode()
    if current_app.config["AVATAR_GRAVATAR"]:
        return hashlib.md5(address, usedforsecurity=False).hexdigest()
    key = current_app.extensions.get("avatar_key") or avatar_key(current_app)
    return hmac.new(key, address, "sha256").hexdigest()[:32]


def avatar_key(app) -> bytes:
    """Derive (once per app) the key of the avatars' names from SECRET_KEY, apart from every other use of it."""
    secret = app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else secret.encode()
    key = app.extensions["avatar_key"] = hmac.new(secret, b"microblog avatar names", "sha256").digest()
    return key


def hash_password(password: str) -> str:
    """Hash a password the way config.PASSWORD_HASH_METHOD says (see config.py for the choice)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def dummy_password_hash() -> str:
    """Return a hash of a random password, made as real ones are, to check when no account has the name."""
    return _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def password_of(user: User | None, password: str) -> User | None:
    """Return `user` if `password` is theirs, else None; one password hash is checked either way.

    Without the dummy check for a name no account has, a wrong password took 108 ms for an existing
    account and 7 ms for an unknown one, which told a stranger which names have accounts.
    """
    if user is None or user.password_hash is None:
        check_password_hash(dummy_password_hash(), password)
        return None
    if not user.check_password(password):
        return None
    if user.password_needs_rehash:
        user.set_password(password)  # kept with the login's commit: the old hash goes the first time it is typed
    return user


@login.user_loader
def load_user(session_id: str) -> User | None:
    """Return the user of a live login (the id is "<user id>:<secret>" of a LoginSession row)."""
    user_id = session_id.partition(":")[0]
    note_user(user_id)  # before the query: the database may be what fails
    user = LoginSession.find_user(session_id, int(current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds()))
    if user is not None:
        note_user(user_id, user.username)
    return user
