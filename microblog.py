"""The WSGI entry point: `flask run` and `gunicorn microblog:app` both load `app` from here."""

from app import create_app

app = create_app()
