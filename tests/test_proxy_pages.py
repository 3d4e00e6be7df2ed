"""The files of `flask errors pages` as nginx's workers, another account, find them whatever the umask.

tests/faults/test_nginx.py serves such pages through real nginx whose workers run as another user.
"""

import os
import stat

import pytest


@pytest.fixture
def unit_umask():
    """The systemd unit's UMask=0027 for this process while the test runs."""
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pages_are_0644_in_0755_folders_whatever_the_umask(runner, tmp_path, unit_umask):
    pages = tmp_path / "srv" / "error-pages"

    result = runner.invoke(args=["errors", "pages", str(pages)])

    assert result.exit_code == 0, result.output
    assert mode(pages) == mode(pages.parent) == 0o755
    assert {path.name: mode(path) for path in pages.iterdir()} == {f"{c}.html": 0o644 for c in (502, 503, 504)}


def test_a_narrower_folder_and_pages_of_ours_are_opened_up(runner, tmp_path, unit_umask):
    pages = tmp_path / "error-pages"
    pages.mkdir(mode=0o700)
    (pages / "502.html").write_text("an old release's page")
    (pages / "502.html").chmod(0o600)

    result = runner.invoke(args=["errors", "pages", str(pages)])

    assert result.exit_code == 0, result.output
    assert mode(pages) == 0o755 and mode(pages / "502.html") == 0o644


def test_a_closed_folder_on_the_way_is_named_and_left_as_its_owner_made_it(runner, tmp_path, unit_umask):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)

    result = runner.invoke(args=["errors", "pages", str(closed / "error-pages")])

    assert result.exit_code == 0, result.output
    assert f"cannot reach the pages through: {closed} (0700)" in result.output
    assert mode(closed) == 0o700
