"""Pages issue the same number of SQL statements for 1 post as for 25: no query per post."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db


def statements_behind(app, client, path: str, status: int = 200) -> list[tuple]:
    """Return (SQL, parameters) of each statement the request for `path` runs."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == status
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements


def count_statements(app, client, path: str, status: int = 200) -> int:
    return len(statements_behind(app, client, path, status))


# The login's user, then the page's list; a profile also reads its user with the follow counts.
STATEMENTS = {"/": 2, "/explore": 2, "/user/{me}": 3}


@pytest.mark.parametrize("page", ["/", "/explore", "/user/{me}"])
def test_statement_count_does_not_grow_with_posts(app, client, auth, make_user, make_post, page):
    me = make_user()
    authors = [make_user() for _ in range(5)]
    auth.login(me)
    for author in authors:
        client.post(f"/follow/{author.username}")
    make_post(me)
    path = page.format(me=me.username)
    client.get(path)  # let last_seen settle
    one_post = count_statements(app, client, path)
    for n in range(24):
        make_post(authors[n % 5] if page != "/user/{me}" else me, f"post {n}")
    many_posts = count_statements(app, client, path)
    assert one_post == many_posts == STATEMENTS[page]


def test_a_logged_in_404_asks_the_database_nothing_and_keeps_the_menu(app, client, auth, make_user):
    """A mistyped address costs no query: the menu comes from the session, as on the 5xx pages."""
    me = make_user()
    auth.login(me)
    client.get("/")  # a page that loads the user: it keeps the name the menu shows in the session
    assert count_statements(app, client, "/no/such/page", status=404) == 0
    response = client.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert f'href="/user/{me.username}">Profile</a>' in page and ">Log out</button>" in page
    assert response.headers["Cache-Control"] == "no-store"  # it names the user: no shared cache may keep it


def query_plans(app, client, path: str) -> list[str]:
    """Return the database's plan of each statement behind `path` (PostgreSQL's with sequential scans made a last
    resort, so that a table of a few rows shows the index the statement can use)."""
    statements = statements_behind(app, client, path)
    with app.app_context(), db.engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        if connection.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            explain, column = "EXPLAIN", 0
        else:
            explain, column = "EXPLAIN QUERY PLAN", 3
        plans = []
        for statement, parameters in statements:
            cursor.execute(f"{explain} {statement}", parameters)
            plans.append(" / ".join(str(row[column]) for row in cursor.fetchall()))
        connection.rollback()
        return plans


# How each database says it reads every row of a table.
WHOLE_TABLE = ("SCAN followers", "SCAN user", "Seq Scan on followers", 'Seq Scan on "user"', "Seq Scan on user")


@pytest.mark.parametrize("page", ["/", "/explore", "/user/{other}"])
def test_no_page_reads_a_whole_table_to_count_or_find_follows(app, client, auth, make_user, page):
    """A page's cost must not grow with the site: a profile's follower count read every follow."""
    me, other = make_user(), make_user()
    auth.login(me)
    client.post(f"/follow/{other.username}")
    path = page.format(other=other.username)
    client.get(path)  # let last_seen settle
    plans = query_plans(app, client, path)
    assert plans and not [plan for plan in plans if any(words in plan for words in WHOLE_TABLE)], plans


def test_follows_are_indexed_by_the_followed_user_too(app):
    """The primary key (follower, followed) finds whom a user follows; counting a user's followers needs this."""
    with app.app_context():
        indexes = sa.inspect(db.engine).get_indexes("followers")
    assert ["followed_id"] in [index["column_names"] for index in indexes]


# How each database says it sorts the rows it found (SQLite; PostgreSQL's sort node).
SORTS_ALL_FOUND = ("USE TEMP B-TREE FOR ORDER BY", "Sort Key", "Sort  (")


def test_a_profile_reads_its_newest_posts_without_sorting_all_of_them(app, client, auth, make_user, make_post):
    """A prolific author's profile must not sort every post they wrote to show 25."""
    me = make_user()
    auth.login(me)
    for n in range(3):
        make_post(me, f"post {n}", minutes_ago=n)
    path = f"/user/{me.username}"
    client.get(path)  # let last_seen settle
    plans = query_plans(app, client, path)
    assert not [plan for plan in plans if any(words in plan for words in SORTS_ALL_FOUND)], plans


def keyset_addresses(client, path: str) -> list[str]:
    """Return the first page of a list, a page before a position (from its Older link) and one after a position
    (the Newer link of that page)."""
    first = client.get(path).get_data(as_text=True)
    older = re.search(r'href="([^"]+)">Older posts', first).group(1).replace("&amp;", "&")
    newer = re.search(r'href="([^"]+)">&larr; Newer posts', client.get(older).get_data(as_text=True)).group(1)
    return [path, older, newer.replace("&amp;", "&")]


# How each database says it seeks the index of posts to a page's place, rather than reading from the newest
# post on (SQLite's SCAN; PostgreSQL's index scan with no condition on the time, or the time only as a filter).
KEYSET_SEEKS = {
    "sqlite": re.compile(r"SEARCH post USING (COVERING )?INDEX \w+ \([^)]*timestamp[<>]\?\)"),
    "postgresql": re.compile(r'Index Cond: [^/]*ROW\("timestamp", id\) [<>] ROW\('),
}


@pytest.mark.parametrize("page", ["/", "/explore", "/user/{me}"])
def test_every_keyset_page_seeks_its_place_without_sorting_or_reading_whole_tables(
    app, client, auth, make_user, make_post, page
):
    """A page far back costs what the first costs: the query seeks the index at the page's position, never OFFSET."""
    app.config["POSTS_PER_PAGE"] = 2
    me, other = make_user(), make_user()
    auth.login(me)
    client.post(f"/follow/{other.username}")
    for n in range(6):
        make_post(me if n % 2 else other, f"post {n}", minutes_ago=n)
    path = page.format(me=me.username)
    client.get(path)  # let last_seen settle
    for at, address in enumerate(keyset_addresses(client, path)):
        plans = query_plans(app, client, address)
        assert not [plan for plan in plans if any(words in plan for words in (*WHOLE_TABLE, *SORTS_ALL_FOUND))], plans
        if at:  # a page before or after a position
            with app.app_context():
                seek = KEYSET_SEEKS[db.engine.dialect.name]
            assert [plan for plan in plans if seek.search(plan)], plans
