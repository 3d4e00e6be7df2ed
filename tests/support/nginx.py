"""Real nginx (Debian's package) on loopback ports, running the committed site file from deploy/nginx/.

The site file is used as it stands except for what must differ on a test machine: the ports it listens
on, the address of gunicorn, the site's name (`localhost`, which resolves here; any other name meets the
default server, which closes the connection), the certificate (a self-signed one for 127.0.0.1), the
folder of the error pages and, where a test says so, proxy_read_timeout. nginx runs as the current user
with its pid file, logs and temporary files in the test's folder, master process on, and is stopped at
the end. A test run as root may name another user for the workers (`user nobody nogroup`), as Debian's
package runs them as www-data: then what the workers read must be readable by that user.
"""

import getpass
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ROOT, free_port
from tests.support.smtp import self_signed_certificate
from tests.support.tools import require

SITE = ROOT / "deploy" / "nginx" / "microblog.conf"
SNIPPET = ROOT / "deploy" / "nginx" / "microblog-proxy.conf"
SERVER_NAME = "localhost"  # in place of microblog.example.com: the name a client here can reach the site by


@dataclass
class Nginx:
    https_url: str
    http_url: str
    folder: Path
    config: Path

    def master_pid(self) -> int:
        return int((self.folder / "nginx.pid").read_text())

    def error_log(self) -> str:
        return (self.folder / "error.log").read_text(errors="replace")


def replaced(text: str, changes: dict[str, str]) -> str:
    """Apply each change, failing if the committed file no longer holds the text it replaces."""
    for old, new in changes.items():
        assert old in text, f"{old!r} is no longer in the deploy file"
        text = text.replace(old, new)
    return text


def write_config(
    folder: Path, upstream_port: int, pages: Path, read_timeout: str | None = None, user: str | None = None
) -> tuple[Path, int, int]:
    """Write nginx.conf around the committed site file; return (its path, http port, https port).

    `user`: whom the workers run as (nginx's `user` directive, root only); by default the current user."""
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed_certificate(folder)
    snippet_changes = {"alias /srv/microblog/error-pages/;": f"alias {pages}/;"}
    if read_timeout:
        snippet_changes["proxy_read_timeout 35s;"] = f"proxy_read_timeout {read_timeout};"
    snippet = folder / "microblog-proxy.conf"
    snippet.write_text(replaced(SNIPPET.read_text(), snippet_changes))
    site = replaced(SITE.read_text(), {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
        "listen 443 ssl default_server;": f"listen 127.0.0.1:{https_port} ssl default_server;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "server_name microblog.example.com;": f"server_name {SERVER_NAME};",
        "/etc/letsencrypt/live/microblog.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/microblog.example.com/privkey.pem": str(key),
        "include /etc/nginx/snippets/microblog-proxy.conf;": f"include {snippet};",
    })  # fmt: skip
    (folder / "microblog.conf").write_text(site)
    if user is None:
        user = getpass.getuser() if os.geteuid() == 0 else ""  # as root, workers would become nobody
    user = f"user {user};" if user else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = folder / "nginx.conf"
    config.write_text(f"""{user}
daemon off;
master_process on;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {folder / "access.log"};
{temp}
    include {folder / "microblog.conf"};
}}
""")
    return config, http_port, https_port


def check_config(config: Path) -> subprocess.CompletedProcess:
    command = [require("nginx"), "-t", "-p", str(config.parent), "-c", str(config)]
    return subprocess.run(command, capture_output=True, text=True)


@contextmanager
def nginx(folder: Path, upstream_port: int, pages: Path, read_timeout: str | None = None, user: str | None = None):
    """Run nginx in front of 127.0.0.1:`upstream_port`; yield an Nginx. `user`: as in write_config."""
    binary = require("nginx")
    config, http_port, https_port = write_config(folder, upstream_port, pages, read_timeout, user)
    checked = check_config(config)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([binary, "-p", str(folder), "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(https_port, process)
        yield Nginx(f"https://{SERVER_NAME}:{https_port}", f"http://{SERVER_NAME}:{http_port}", folder, config)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop of master and worker
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout} s")
