"""The framework's floor: a bare Flask app answering one 3 KB page, served like Microblog.

`/db` is the same page after one read by primary key from DATABASE_URL's database, through a pooled SQLAlchemy
engine as the site's: the floor of the pages served from that database (for PostgreSQL, a round trip to the
server each request).
"""

import os

import sqlalchemy as sa
from flask import Flask

PARAGRAPH = "<p>" + "Microblog bare page. " * 20 + "</p>\n"
PAGE = "<!doctype html>\n<html><head><title>Bare</title></head><body>\n" + PARAGRAPH * 7 + "</body></html>\n"
ONE_USER = sa.text('SELECT username FROM "user" WHERE id = 1')

app = Flask(__name__)
engine = sa.create_engine(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") else None


@app.route("/")
def page() -> str:
    return PAGE


@app.route("/db")
def page_from_the_database() -> str:
    with engine.connect() as connection:
        name = connection.execute(ONE_USER).scalar_one()
    return PAGE.replace("Bare", name, 1)
