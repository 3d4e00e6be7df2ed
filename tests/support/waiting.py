"""Wait for what happens after the response: a line in a log or a server's output, or any other condition."""

import re
import time
from collections.abc import Callable

Expected = str | re.Pattern | Callable[[str], bool]


def wait_for(expected: Expected, source: Callable[[], str], timeout: float = 10.0, what: str = "") -> str:
    """Return `source()` once it holds `expected`: a substring, a compiled pattern, or a test on the whole text.

    Fail after `timeout` seconds, naming `what` was awaited (a test on the text has no name of its own) and
    showing the end of the text.
    """
    deadline = time.monotonic() + timeout
    while not holds(expected, text := source()):
        if time.monotonic() > deadline:
            wanted = what or repr(expected.pattern if isinstance(expected, re.Pattern) else expected)
            raise AssertionError(f"{wanted} did not appear within {timeout} s:\n{text[-4000:]}")
        time.sleep(0.05)
    return text


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "the condition") -> None:
    """Return once `condition()` holds; fail after `timeout` seconds, naming `what` was awaited."""
    wait_for(lambda _: condition(), lambda: "", timeout, what)


def holds(expected: Expected, text: str) -> bool:
    if isinstance(expected, str):
        return expected in text
    if isinstance(expected, re.Pattern):
        return expected.search(text) is not None
    return expected(text)
