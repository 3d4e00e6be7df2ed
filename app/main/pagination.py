"""Newer/older pagination that never counts the whole table."""

from dataclasses import dataclass

from flask import abort

# Past this many rows no page exists; it also keeps OFFSET inside a 32-bit integer on every database.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Page:
    """One page of results and whether there are pages on either side."""

    items: list
    number: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @classmethod
    def of(cls, items: list, number: int, has_next: bool) -> "Page":
        """Return the page, or answer 404 for an empty page past the first."""
        if number > 1 and not items:
            abort(404)
        return cls(items, number, has_next)


def check_page_number(number: int, per_page: int) -> None:
    """Answer 404 for a page number below 1 or so far out that no page can exist."""
    if number < 1 or (number - 1) * per_page > MAX_OFFSET:
        abort(404)
