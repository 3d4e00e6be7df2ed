"""Microblog with a fault injected: /explore raises, so a load run becomes an error storm.

Everything else is the real app from `create_app()`: its error pages, its logging and its alert
mail pipeline see the failure exactly as they would see a real bug.
"""

from app import create_app


class InjectedFault(RuntimeError):
    """Raised by /explore during the benchmark's error storm."""


def failing_explore():
    raise InjectedFault("bench: injected fault in /explore")


app = create_app()
app.view_functions["main.explore"] = failing_explore
