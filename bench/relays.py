"""SMTP relays for the error storm: one that works and counts the mails, one black hole."""

import socket
import threading
import time

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


class CountingHandler:
    def __init__(self):
        self.mails: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(envelope.content)
        return "250 Message accepted"


class WorkingRelay:
    """A real SMTP server on loopback (aiosmtpd) that keeps every mail it receives."""

    def __init__(self):
        self.handler = CountingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def mails_received(self) -> int:
        return len(self.handler.mails)

    def wait_until_quiet(self, quiet: float = 1.0, limit: float = 5.0) -> None:
        """Wait until no mail has arrived for `quiet` seconds (mails sent as workers exit are in flight)."""
        deadline = time.monotonic() + limit
        seen, since = self.mails_received, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.1)
            if self.mails_received != seen:
                seen, since = self.mails_received, time.monotonic()

    def __enter__(self) -> "WorkingRelay":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class BlackHoleRelay:
    """A listener that accepts SMTP connections and never says a word (a hung relay)."""

    mails_received = 0

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.hold_connections, daemon=True)

    def hold_connections(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(connection)

    def wait_until_quiet(self) -> None:
        """Nothing ever arrives here."""

    def __enter__(self) -> "BlackHoleRelay":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in [*self.held, self.listener]:
            connection.close()
