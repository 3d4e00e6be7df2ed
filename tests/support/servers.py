"""Start real server processes (gunicorn) for tests, on a free loopback port, and stop them."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Poll `url` until it answers at all (any status), or fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before it was up")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer at {url} within {timeout} s")


def wait_for_workers(process: subprocess.Popen, workers: int, timeout: float = 20.0) -> None:
    """Wait until gunicorn has forked all its workers: the first can answer before the master forks the next."""
    from bench.site import worker_pids

    deadline = time.monotonic() + timeout
    while len(worker_pids(process.pid)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start {workers} workers within {timeout} s")
        time.sleep(0.05)


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    output_path: Path

    def output(self) -> str:
        """Return what the server wrote to stdout and stderr so far."""
        return self.output_path.read_text(errors="replace")


@contextmanager
def gunicorn(
    tmp_path: Path, env: dict[str, str], workers: int = 2, app: str = "microblog:app", args=(), port: int | None = None
):
    """Run `gunicorn app` with `env` added to a clean copy of the environment; yield a Server.

    `port` is for a test whose settings must name it before the server starts (SITE_URL); a free one otherwise.
    """
    port = port or free_port()
    output_path = tmp_path / f"gunicorn-{port}.out"
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    command = [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), *args, app]
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, output_path=output_path)
    try:
        wait_until_up(server.url + "/avatar/00000000000000000000000000000000.svg", process)
        wait_for_workers(process, workers)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Ask the process group to stop (TERM), then kill it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
