"""Drive HTTP load at one URL and measure throughput and latency: wrk if installed, else Python threads."""

import http.client
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

WRK = shutil.which("wrk")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    unexpected: int  # responses whose class differed from the expected status, plus socket errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def generator_name() -> str:
    return "wrk" if WRK else "Python threads (install wrk for a faster, truer load)"


def drive(
    url: str, seconds: float, connections: int, headers: dict[str, str], status: int, cookies=(), paths=()
) -> LoadResult:
    """Load `url` for `seconds` with `connections` kept-alive connections, taking `cookies` (one per user) in
    turn, each user at its own path of `paths` when given; any answer other than `status` counts as unexpected."""
    if WRK:
        return run_wrk(url, seconds, connections, headers, status < 400, cookies, status, paths)
    return run_threads(url, seconds, connections, headers, status < 400, cookies, status, paths)


def run_wrk(
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    expect_ok: bool,
    cookies=(),
    status=None,
    paths=(),
) -> LoadResult:
    command = [WRK, "--latency", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(wrk_script(cookies, status, paths))
        script.flush()
        output = subprocess.run([*command, "--script", script.name, url], capture_output=True, text=True, check=True)
    return parse_wrk(output.stdout, expect_ok)


def wrk_script(cookies=(), status=None, paths=()) -> str:
    """A wrk script: each request as the next user (requests built once, taken in turn), at that user's own
    path when `paths` are given, and, when `status` is given, a count of answers with any other status (wrk
    alone counts only non-2xx/3xx, so a lost session's 302 to the login page would pass unseen)."""
    values = ", ".join(lua_string(cookie) for cookie in cookies)
    own_paths = ", ".join(lua_string(path) for path in paths)
    return f"""
local cookies = {{{values}}}
local paths = {{{own_paths}}}
local expected = {status or "nil"}
local requests, turn = {{}}, 0
local threads = {{}}
unexpected = 0

setup = function(thread)
  table.insert(threads, thread)
end

init = function()
  for i, cookie in ipairs(cookies) do
    local headers = {{}}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Cookie"] = cookie
    requests[i] = wrk.format(nil, paths[i], headers)
  end
end

request = function()
  if #requests == 0 then return wrk.request() end
  turn = turn % #requests + 1
  return requests[turn]
end

if expected then
  response = function(status)
    if status ~= expected then unexpected = unexpected + 1 end
  end
  done = function()
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("unexpected") end
    io.write(string.format("Unexpected statuses: %d\\n", total))
  end
end
"""


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(output: str, expect_ok: bool) -> LoadResult:
    """Read requests, duration, p50, p99 and unexpected answers from `wrk --latency` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    exact = re.search(r"Unexpected statuses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    requests = int(done.group(1))
    wrong = int(non_2xx.group(1)) if non_2xx else 0
    if exact:
        wrong_answers = int(exact.group(1))
    else:
        wrong_answers = wrong if expect_ok else requests - wrong
    unexpected = wrong_answers + (sum(map(int, errors.groups())) if errors else 0)
    return LoadResult(
        requests=requests,
        seconds=float(done.group(2)) * UNITS_MS[done.group(3)] / 1000,
        p50_ms=wrk_percentile(output, "50%"),
        p99_ms=wrk_percentile(output, "99%"),
        unexpected=unexpected,
    )


def wrk_percentile(output: str, label: str) -> float:
    found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    return float(found.group(1)) * UNITS_MS[found.group(2)]


def run_threads(
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    expect_ok: bool,
    cookies=(),
    status=None,
    paths=(),
) -> LoadResult:
    """Fallback load: one thread per connection, each looping GETs on a kept-alive connection as one user."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    unexpected = [0]
    lock = threading.Lock()

    def worker(number: int) -> None:
        own = {**headers, "Cookie": cookies[number % len(cookies)]} if cookies else headers
        at = urljoin(url, paths[number % len(paths)]) if paths else url
        mine, wrong = keep_requesting(at, own, deadline, expect_ok, status)
        with lock:
            latencies.extend(mine)
            unexpected[0] += wrong

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        seconds=time.monotonic() - started,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        unexpected=unexpected[0],
    )


def keep_requesting(
    url: str, headers: dict[str, str], deadline: float, expect_ok: bool, status=None
) -> tuple[list[float], int]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":  # nginx with the tests' self-signed certificate
        tls = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=tls)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies, wrong = [], 0
    try:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except OSError:
                wrong += 1
                connection.close()
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            wrong += response.status != status if status else (response.status < 400) != expect_ok
    finally:
        connection.close()
    return latencies, wrong


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]
