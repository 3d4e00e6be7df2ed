"""What an access record costs: gunicorn's stock logger with the old combined format vs MicroblogLogger.

`python -m bench.access_log` times `logger.access(...)` writing to /dev/null, for a request with a browser's
user agent, without and with a query string to scrub, and prints the best of 20 rounds of 500 calls (the
least disturbed by other processes on a shared machine) per request, for text and JSON.
"""

import datetime
import os
import time

from gunicorn.config import Config
from gunicorn.glogging import Logger

OLD_FORMAT = '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms pid=%(p)s request_id=%({x-request-id}o)s'


class Response:
    status = "200 OK"
    sent = 15974
    headers = [("Content-Type", "text/html; charset=utf-8"), ("X-Request-ID", "ad48a7fc2b0c4f1e9a1b6c1d2e3f4a5b")]


ENVIRON = {
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/explore?page=2&token=abc123",
    "PATH_INFO": "/explore",
    "QUERY_STRING": "page=2&token=abc123",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
}
REQUEST = [("HOST", "127.0.0.1"), ("USER-AGENT", ENVIRON["HTTP_USER_AGENT"])]


def cost(logger: Logger, environ: dict, rounds: int = 20, calls: int = 500) -> float:
    """Return the cost of one access record in microseconds: the best round's average."""
    took = datetime.timedelta(milliseconds=22)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            logger.access(Response, REQUEST, environ, took)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return min(samples)


def logger(kind: str) -> Logger:
    cfg = Config()
    cfg.set("accesslog", os.devnull)
    cfg.set("errorlog", os.devnull)
    if kind == "stock":
        cfg.set("access_log_format", OLD_FORMAT)
        return Logger(cfg)
    from app.observability.gunicorn import MicroblogLogger

    return MicroblogLogger(cfg)


def main() -> None:
    from config import Config as AppConfig

    plain = {**ENVIRON, "RAW_URI": "/explore", "QUERY_STRING": ""}
    print("µs per request            /explore   /explore?page=2&token=…")
    stock = [cost(logger("stock"), environ) for environ in (plain, ENVIRON)]
    print(f"gunicorn, combined format {stock[0]:8.1f} {stock[1]:10.1f}")
    for log_format in ("text", "json"):
        AppConfig.LOG_FORMAT = log_format
        ours = [cost(logger("microblog"), environ) for environ in (plain, ENVIRON)]
        print(f"Microblog, {log_format:<4}           {ours[0]:8.1f} {ours[1]:10.1f}")


if __name__ == "__main__":
    main()
