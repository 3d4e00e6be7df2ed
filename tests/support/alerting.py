"""Settings that turn on logging and alert mail in a test app, to a real SMTP server on loopback."""

import socket
from pathlib import Path

from config import TestConfig

ADMIN = "ops@example.com"


def subject(text: str, environment: str = TestConfig.ENV_NAME) -> str:
    """Return an alert mail's subject as this host sends it: `[Microblog <environment> <host>] text`."""
    return f"[Microblog {environment} {socket.gethostname()}] {text}"


def alert_settings(tmp_path: Path, port: int, **overrides) -> dict:
    """Log to tmp_path/logs and mail ADMIN through 127.0.0.1:`port`, with the alert state in tmp_path."""
    return {
        "LOG_IN_TESTS": True,
        "LOG_DIR": str(tmp_path / "logs"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_TIMEOUT": 5,
        "ADMINS": [ADMIN],
        "ALERTS_SENDER": "microblog@example.com",
        "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3"),
        "LAST_SEEN_INTERVAL": 0,
        **overrides,
    }
