"""The load benchmark behind `make bench`: real gunicorn, real SQLite, wrk, a real SMTP relay."""
