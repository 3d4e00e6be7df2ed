"""itsdangerous's clock, moved by a test: a signed token (a reset link, a CSRF token) can be old without waiting."""

from contextlib import contextmanager

import pytest
from itsdangerous import TimestampSigner


@contextmanager
def signing_clock_moved(seconds: int):
    """Within the block, itsdangerous signs and checks as if it were `seconds` later.

    A token signed before the block is checked there as `seconds` older (itsdangerous counts whole seconds).
    Moved back instead, it would refuse what was signed before (the session cookie too) as signed in the future.
    """
    real = TimestampSigner.get_timestamp
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda signer: real(signer) + seconds)
        yield
