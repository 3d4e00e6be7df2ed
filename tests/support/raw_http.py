"""HTTP exchanges byte for byte: requests that no well-behaved client library would send unmodified."""

import http.client
import select
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname, parts.port


def send_raw(base_url: str, head: bytes, body: bytes = b"", timeout: float = 30.0) -> RawResponse:
    """Send `head` (request line and headers, without the blank line) and `body` as they are; read the answer.

    `Connection: close` is added, so the answer ends where the server closes the connection.
    """
    with socket.create_connection(address(base_url), timeout=timeout) as sock:
        sock.sendall(head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n\r\n")
        if body:
            try:
                sock.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered (a 413, say) and closed before taking the whole body
        return read_response(sock)


def read_response(sock: socket.socket) -> RawResponse:
    response = http.client.HTTPResponse(sock)
    response.begin()
    try:
        body = response.read()
    except (http.client.IncompleteRead, ConnectionResetError) as error:
        body = getattr(error, "partial", b"")
    return RawResponse(response.status, {name.lower(): value for name, value in response.getheaders()}, body)


def request_head(method: str, target: bytes, headers: dict[str, str] | None = None, cookie: str = "") -> bytes:
    """Build a request line and headers; `target` is bytes so that it can hold any octet."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Accept: text/html"]
    if cookie:
        lines.append(b"Cookie: " + cookie.encode())
    lines += [f"{name}: {value}".encode() for name, value in (headers or {}).items()]
    return b"\r\n".join(lines)


def post_form_bytes(base_url: str, path: str, body: bytes, cookie: str = "", content_type: str = "") -> RawResponse:
    """POST `body` exactly as given, with its true length."""
    headers = {"Content-Type": content_type or "application/x-www-form-urlencoded", "Content-Length": str(len(body))}
    return send_raw(base_url, request_head("POST", path.encode(), headers, cookie), body)


def hang_up_mid_body(base_url: str, path: str, announced: int, sent: bytes, cookie: str = "") -> None:
    """Announce a body of `announced` bytes, send only `sent`, and close the connection."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(announced)}
    with socket.create_connection(address(base_url), timeout=10) as sock:
        sock.sendall(request_head("POST", path.encode(), headers, cookie) + b"\r\n\r\n" + sent)


def send_body_slowly(base_url: str, head: bytes, body: bytes, pause: float) -> tuple[RawResponse, int]:
    """Send `head`, then `body` one byte every `pause` seconds, as a client on a bad line (or one that means to
    hold a worker) does; stop as soon as the server answers. Return the answer and how many bytes were sent."""
    with socket.create_connection(address(base_url), timeout=30) as sock:
        sock.sendall(head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n\r\n")
        sent = 0
        while sent < len(body) and not select.select([sock], [], [], pause)[0]:  # readable: the answer came
            sock.sendall(body[sent : sent + 1])
            sent += 1
        return read_response(sock), sent
