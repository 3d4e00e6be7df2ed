"""The release of Microblog: in log startup lines, alert mails and Sentry events."""

__version__ = "1.0.0"
