"""Real SMTP servers on loopback for tests: an aiosmtpd inbox, and a black hole that never answers."""

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.servers import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.envelopes = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            contents = [envelope.content.replace(b"\r\n", b"\n") for envelope in self.envelopes]  # as a reader sees it
        return [message_from_bytes(content, policy=policy.default) for content in contents]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Return the messages once at least `count` have arrived; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} message(s) within {timeout} s, got {len(self.envelopes)}")
            time.sleep(0.02)
        return self.messages()

    def exactly(self, count: int) -> list[EmailMessage]:
        """Return the messages, failing unless exactly `count` have arrived.

        Call it once no more can come: a negative cannot be awaited, but the moment after which nothing can
        be sent usually can (the sender's queue processed, its process exited; tests/support/alert_progress.py).
        """
        messages = self.messages()
        assert len(messages) == count, [message["Subject"] for message in messages]
        return messages

    def stays_at(self, count: int, seconds: float) -> list[EmailMessage]:
        """Wait `seconds`, then return the messages, failing unless exactly `count` arrived.

        The last resort, for a sender the test can neither wait on nor stop (a shared server's workers):
        the caller says why.
        """
        time.sleep(seconds)
        return self.exactly(count)


class ClosingController(Controller):
    """aiosmtpd's Controller, closing the connections still open when it stops.

    Controller.stop cancels the sessions but leaves their sockets to the garbage collector, whose ResourceWarning
    ("unclosed transport") then fails whichever later test happens to be running (filterwarnings = error): a
    client that kept a STARTTLS session open was enough (tests/test_smtp_server.py).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sessions = []

    def factory(self):
        session = super().factory()
        self.sessions.append(session)
        return session

    def stop(self, no_assert: bool = False):
        async def close_sessions():
            for session in self.sessions:
                if session.transport is not None:
                    session.transport.abort()  # close() would wait for a TLS session's goodbye from the client
            await asyncio.sleep(0)  # the transports close their sockets on the loop's next turn

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(close_sessions(), self.loop).result(timeout=5)
        super().stop(no_assert)


@contextmanager
def smtp_server(**controller_options):
    """Run aiosmtpd on a free 127.0.0.1 port; yield (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = ClosingController(inbox, hostname="127.0.0.1", port=port, **controller_options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def accept_login(username: str, password: str):
    """Return an aiosmtpd authenticator that accepts exactly this username and password."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == username and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    return authenticate


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Make a certificate for 127.0.0.1 with the openssl tool; return (certificate, key) paths."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class BlackHole:
    """A TCP listener that accepts connections and never says a word (a hung mail relay)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)  # so that the accepting thread notices close()
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.open = True
        self.thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)

    def _accept(self) -> None:
        while self.open:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(connection)

    def wait_for_connection(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.held:
            if time.monotonic() > deadline:
                raise AssertionError("nobody connected to the black hole")
            time.sleep(0.02)

    def close(self) -> None:
        self.open = False
        self.thread.join(5)
        self.listener.close()
        for connection in self.held:
            connection.close()


@contextmanager
def black_hole():
    hole = BlackHole()
    hole.thread.start()
    try:
        yield hole
    finally:
        hole.close()
