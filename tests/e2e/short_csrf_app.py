"""Microblog whose form tokens expire after one second, so a browser can meet the expired-form page.

Config reads no WTF_CSRF_TIME_LIMIT from the environment (an hour is right in production), so the
browser test serves this module with gunicorn instead of `microblog:app`.
"""

from app import create_app

app = create_app()
app.config["WTF_CSRF_TIME_LIMIT"] = 1  # Flask-WTF reads it when it checks a token, so setting it now is in time
