"""Time `flask errors find` on 200 MB of logs: `python -m bench.find_logs [--format json] [--megabytes 200]`.

Writes LOG_BACKUP_COUNT-style rotated files (10 MB each) of 404 lines and failures with
tracebacks into a temporary folder, then searches for a request in the oldest file whose
traceback is only in that oldest file too (the slowest case: every file is read twice).
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from app.observability.log_search import find_request, rotated_files

FILE_BYTES = 10 * 1024 * 1024
FRAME = '  File "app/errors/demo.py", line 14, in error\n'
TRACEBACK = "Traceback (most recent call last):\n" + FRAME * 8 + "DemoFailure: x"


def record(fmt: str, request_id: str, failing: bool, traceback: bool) -> str:
    if fmt == "json":
        fields = {"time": "2026-12-01T10:00:00.000Z", "level": "INFO", "request_id": request_id, "logger": "app",
                  "message": "Not found: '/missing'", "place": "app/errors/handlers.py:93"}  # fmt: skip
        if failing:
            fields |= {"level": "ERROR", "message": "Exception on /demo/error [GET]"}
            fields["exception"] = {"type": "DemoFailure", "message": "x", "fingerprint": "d4519c53e8dd"}
            if traceback:
                fields["traceback"] = TRACEBACK
        return json.dumps(fields) + "\n"
    start = f"2026-12-01T10:00:00.000Z INFO web-1 [{request_id}] app: "
    line = start + "Not found: '/missing' [in app/errors/handlers.py:93]\n"
    if failing:
        line = start.replace(" INFO ", " ERROR ") + "Exception on /demo/error [GET] | DemoFailure: x"
        line += " | fingerprint d4519c53e8dd" + ("" if traceback else " | traceback already logged in this window")
        line += " [in flask/app.py:875]\n" + (TRACEBACK + "\n" if traceback else "")
    return line


def write_logs(folder: Path, fmt: str, megabytes: int) -> tuple[str, int]:
    """Write the files, oldest first; return the id of a gated failure in the oldest file and the bytes written."""
    files, target, total = max(1, megabytes * 1024 * 1024 // FILE_BYTES), "", 0
    for index in range(files, -1, -1):
        path = folder / ("microblog.log" + (f".{index}" if index else ""))
        chunk, size, n = [], 0, 0
        while size < FILE_BYTES:
            request_id = uuid.uuid4().hex
            n += 1
            failing, traceback = n % 50 == 0, n == 500 and index == files  # only the oldest file has it
            if index == files and n == 1000:
                target, failing = request_id, True
            text = record(fmt, request_id, failing, traceback)
            chunk.append(text)
            size += len(text)
        path.write_text("".join(chunk))
        total += size
    return target, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        request_id, total = write_logs(Path(folder), args.format, args.megabytes)
        files = rotated_files(Path(folder) / "microblog.log")
        started = time.perf_counter()
        search = find_request(request_id, files, [])
        took = time.perf_counter() - started
    print(f"{args.format}: {total / 1e6:.0f} MB in {len(files)} files, {len(search.records)} record(s), "
          f"traceback located: {bool(search.tracebacks)}; find took {took:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
