"""Find a request's records in the log files: the app's (text or JSON, rotated, gzipped) and gunicorn's access log.

Fast on large logs because the files are searched as bytes (memory-mapped, `bytes.find` for the id)
and only the records around a hit are parsed. A text record is its header line plus the lines
that follow until the next line starting with a timestamp (a traceback); a JSON record is a line.
"""

from __future__ import annotations

import gzip
import json
import mmap
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RECORD_START = re.compile(rb"\n(?=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
# time, level, host (absent in the lines of releases before hosts were named), request id
TEXT_HEADER = re.compile(r"^(\S+) (\w+) (?:([^\s\[]+) )?\[([^\]]*)\] ")
JSON_REQUEST_ID = re.compile(r'"request_id": "([^"]*)"')  # in a JSON line cut short, which json.loads refuses
TEXT_FINGERPRINT = re.compile(r"\| fingerprint ([0-9a-f]{12})")
# A summary of repeats in microblog-repeats.log (app/observability/repeats.py); its ids follow the last "; requests: "
SUMMARY = re.compile(r"^\S+ \w+ (?:[^\s\[]+ )?\[-\] \d+ repeats? of ([0-9a-f]{12}) ")
LISTED = "; requests: "
REPEAT = re.compile(r"\] \S+ \S+ \d{3} repeat of ([0-9a-f]{12}), first logged at ")  # a repeat's line of old
GATED = "traceback already logged in this window"


@dataclass
class LogRecord:
    """One record found in a log file."""

    path: Path
    line: int
    text: str  # as an operator reads it: the text line (and traceback), or a JSON record laid out the same way
    request_id: str = "-"
    host: str | None = None
    fingerprint: str | None = None
    has_traceback: bool = False
    access: bool = False
    listed: list[str] = field(default_factory=list)  # a summary of repeats: the requests it stands for

    def belongs_to(self, request_id: str) -> bool:
        """Tell whether this is the request's own record: its request id, or a summary of repeats listing it."""
        return self.request_id == request_id or request_id in self.listed

    def shown_for(self, request_id: str) -> LogRecord:
        """Show a summary of repeats with this request alone of the ids it lists (there may be hundreds)."""
        if self.listed:
            others = len(self.listed) - 1
            self.text = f"{self.text.rpartition(LISTED)[0]}{LISTED}{request_id} (and {others} other(s) listed)"
        return self


@dataclass
class Search:
    """What `find` turned up for one request id."""

    request_id: str
    files: list[Path]
    records: list[LogRecord] = field(default_factory=list)
    tracebacks: dict[str, LogRecord] = field(default_factory=dict)  # fingerprint -> where its traceback is

    def fingerprints(self) -> list[str]:
        return list(dict.fromkeys(record.fingerprint for record in self.records if record.fingerprint))

    def gated(self) -> list[str]:
        """Return the fingerprints whose traceback this request's records leave out."""
        shown = {record.fingerprint for record in self.records if record.has_traceback}
        return [fingerprint for fingerprint in self.fingerprints() if fingerprint not in shown]


def rotated_files(path: Path) -> list[Path]:
    """Return `path` and its rotated siblings (path.1, path.2.gz, ...), oldest first."""

    def age(candidate: Path) -> int:
        suffix = candidate.name[len(path.name) :].removesuffix(".gz").lstrip(".")
        return int(suffix) if suffix.isdigit() else 0

    siblings = [p for p in path.parent.glob(path.name + "*") if p == path or age(p) > 0] if path.parent.is_dir() else []
    return sorted(siblings, key=age, reverse=True)


@contextmanager
def contents(path: Path) -> Iterator[bytes | mmap.mmap]:
    """Yield the file's bytes: memory-mapped when plain, decompressed when gzipped."""
    if path.suffix == ".gz":
        with gzip.open(path) as compressed:
            yield compressed.read()
        return
    with path.open("rb") as file:
        if path.stat().st_size == 0:
            yield b""
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def find_request(request_id: str, app_logs: list[Path], access_logs: list[Path]) -> Search:
    """Return every record of `request_id`, and where the traceback of each of its faults was written.

    The id is looked for as bytes, then a record is kept only if its request id field is exactly that id,
    or it is a summary of repeats whose list of requests holds that id: another request's record that merely
    mentions it (in its path, or a summary's "first logged at [id]") is left out, and so is an id that merely
    starts with it.
    """
    search = Search(request_id, app_logs + access_logs)
    needle = request_id.encode()
    for path in app_logs:
        with contents(path) as data:
            lines = LineCounter(data)
            found = [parse(path, data, start, end, lines) for start, end in hits(data, needle)]
            search.records += [record.shown_for(request_id) for record in found if record.belongs_to(request_id)]
    search.records.sort(key=lambda record: record.text[:24])  # the two files' records in time order (ISO times)
    for path in access_logs:
        with contents(path) as data:
            lines = LineCounter(data)
            found = [access_record(path, data, start, end, lines) for start, end in line_hits(data, needle)]
            search.records += [record for record in found if record.request_id == request_id]
    for fingerprint in search.gated():
        if located := latest_traceback(fingerprint, app_logs):
            search.tracebacks[fingerprint] = located
    return search


def hits(data, needle: bytes) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each record holding `needle`, once per record."""
    position = data.find(needle)
    while position != -1:
        start, end = record_bounds(data, position)
        yield start, end
        position = data.find(needle, end)


def line_hits(data, needle: bytes) -> Iterator[tuple[int, int]]:
    position = data.find(needle)
    while position != -1:
        start = data.rfind(b"\n", 0, position) + 1
        end = data.find(b"\n", position)
        end = len(data) if end == -1 else end
        yield start, end
        position = data.find(needle, end)


def record_bounds(data, position: int) -> tuple[int, int]:
    """Return the start and end of the record around `position`."""
    start = data.rfind(b"\n", 0, position) + 1
    if data[start : start + 1] == b"{":  # a JSON line is a record
        end = data.find(b"\n", position)
        return start, len(data) if end == -1 else end
    while start > 0 and not STAMP.match(data, start):  # a traceback line: its record starts further up
        start = data.rfind(b"\n", 0, start - 1) + 1
    following = RECORD_START.search(data, position)
    return start, following.start() if following else len(data)


class LineCounter:
    """Line numbers of increasing positions in one file, counting each stretch of it once."""

    def __init__(self, data):
        self.data, self.position, self.line = data, 0, 1

    def at(self, position: int) -> int:
        if position < self.position:
            self.position, self.line = 0, 1
        self.line += bytes(self.data[self.position : position]).count(b"\n")
        self.position = position
        return self.line


def access_record(path: Path, data, start: int, end: int, lines: LineCounter) -> LogRecord:
    """Return the access line at `start`, with its request id field (text or JSON, as app/observability/gunicorn.py
    writes it)."""
    text = bytes(data[start:end]).decode("utf-8", "replace")
    record = LogRecord(path, lines.at(start), text, access=True)
    if text.startswith("{"):
        return access_from_json(record)
    if header := TEXT_HEADER.match(text):
        record.host, record.request_id = header.group(3), header.group(4)
    return record


def parse(path: Path, data, start: int, end: int, lines: LineCounter) -> LogRecord:
    raw = bytes(data[start:end]).decode("utf-8", "replace").rstrip("\n")
    record = LogRecord(path, lines.at(start), raw)
    if raw.startswith("{"):
        return from_json(record, raw)
    if header := TEXT_HEADER.match(raw):
        record.host, record.request_id = header.group(3), header.group(4)
    first_line = raw.split("\n", 1)[0]
    if summary := SUMMARY.match(first_line):
        record.fingerprint, record.listed = summary.group(1), first_line.rpartition(LISTED)[2].split()
    elif repeat := REPEAT.search(first_line):
        record.fingerprint = repeat.group(1)
    elif found := TEXT_FINGERPRINT.search(first_line):
        record.fingerprint = found.group(1)
        record.has_traceback = GATED not in first_line and "\n" in raw
    return record


def from_json(record: LogRecord, raw: str) -> LogRecord:
    """Lay a JSON record out as the text format does, so that both read alike."""
    try:
        fields = json.loads(raw)
    except ValueError:  # a line cut by a crash: shown as it is
        return with_request_id_of_cut_line(record)
    record.request_id, record.host = fields.get("request_id", "-"), fields.get("host")
    header = " ".join(str(part) for part in (fields.get("time"), fields.get("level"), record.host) if part)
    if "request_ids" in fields:  # a summary of repeats
        return summary_from_json(record, header, fields)
    if repeat := fields.get("repeat_of"):  # a repeat's line of old
        record.fingerprint = fields.get("fingerprint")
        record.text = (
            f"{header} [{record.request_id}] {fields.get('method')} "
            f"{fields.get('path')} {fields.get('status')} repeat of {record.fingerprint}, first logged at "
            f"{repeat.get('time')} [{repeat.get('request_id')}]"
        )
        return record
    line = f"{header} [{record.request_id}] {fields.get('logger')}: "
    line += str(fields.get("message", ""))
    if exception := fields.get("exception"):
        record.fingerprint = exception.get("fingerprint")
        line += f" | {exception.get('type')}: {exception.get('message')} | fingerprint {record.fingerprint}"
        if "traceback" not in fields:
            line += f" | {GATED}"
    line += f" [in {fields.get('place')}]"
    if "traceback" in fields:
        record.has_traceback = True
        line += "\n" + fields["traceback"].rstrip("\n")
    record.text = line
    return record


def summary_from_json(record: LogRecord, header: str, fields: dict) -> LogRecord:
    """Lay a JSON summary of repeats out as the text format does."""
    record.fingerprint, record.listed = fields.get("fingerprint"), [str(each) for each in fields["request_ids"]]
    repeat_of = fields.get("repeat_of") or {}
    span = f"from {str(fields.get('from'))[11:23]} to {str(fields.get('to'))[11:23]}"
    record.text = (
        f"{header} [-] {fields.get('message')} {fields.get('method')} {fields.get('path')} {fields.get('status')} "
        f"{span}, first logged at {repeat_of.get('time')} [{repeat_of.get('request_id')}]{LISTED}"
        + " ".join(record.listed)
    )
    return record


def access_from_json(record: LogRecord) -> LogRecord:
    """Lay a JSON access record out as the text format does: time, level, request id, logger, message."""
    try:
        fields = json.loads(record.text)
    except ValueError:
        return with_request_id_of_cut_line(record)
    record.request_id, record.host = fields.get("request_id", "-"), fields.get("host")
    header = " ".join(str(part) for part in (fields.get("time"), fields.get("level"), record.host) if part)
    record.text = f"{header} [{record.request_id}] {fields.get('logger')}: {fields.get('message')}"
    return record


def with_request_id_of_cut_line(record: LogRecord) -> LogRecord:
    """Read the request id of a JSON line that a crash cut short: it comes early in the line (time, level, id)."""
    if found := JSON_REQUEST_ID.search(record.text):
        record.request_id = found.group(1)
    return record


def latest_traceback(fingerprint: str, app_logs: list[Path]) -> LogRecord | None:
    """Return the newest record of `fingerprint` that carries its traceback."""
    for path in reversed(app_logs):
        with contents(path) as data:
            lines = LineCounter(data)
            found = [parse(path, data, start, end, lines) for start, end in fingerprint_hits(data, fingerprint)]
        with_traceback = [record for record in found if record.fingerprint == fingerprint and record.has_traceback]
        if with_traceback:
            return with_traceback[-1]
    return None


def fingerprint_hits(data, fingerprint: str) -> Iterator[tuple[int, int]]:
    """Yield the records of `fingerprint` that carry a traceback, told apart as bytes (a gated line says so)."""
    text = f"| fingerprint {fingerprint} [in ".encode()  # a gated line has "| traceback already logged" here
    json_line = f'"fingerprint": "{fingerprint}"}}, "traceback": '.encode()
    for needle in (text, json_line):
        yield from hits(data, needle)
