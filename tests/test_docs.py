"""The manual holds together: the README stays a front door, its links and the docs' links lead somewhere,
and every setting the code reads from the environment is on the settings page."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETTINGS_PAGE = DOCS / "settings.md"
README_MAX_BYTES = 10 * 1024

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:
ISSUE_REFERENCE = re.compile(r"\(issues? \d+[^)]*\)", re.IGNORECASE)
# The environment readers config.py uses (their first argument is the variable's name), and os.environ's own.
READERS = {"env_bool", "env_int", "env_seconds", "env_list"}


def manual_pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(path: Path) -> str:
    """Return a page's Markdown without its fenced code blocks, where a `#` or a `[x](y)` is code, not Markdown."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """Return GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = text.replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Return the anchors GitHub gives a page's headings (a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path)):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    """Return the targets of a page's links that stay in this repository (not http:, mailto: ...)."""
    text = INLINE_CODE.sub("``", prose(path))
    return [target for target in LINK.findall(text) if not EXTERNAL.match(target)]


def broken_link(page: Path, target: str) -> str | None:
    """Say why a link from `page` leads nowhere, or return None when it resolves."""
    path_part, _, anchor = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    if not destination.exists():
        return f"{path_part} does not exist (from {page.relative_to(ROOT)})"
    if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
        return f"no heading in {destination.relative_to(ROOT)} has the anchor #{anchor}"
    return None


def environment_names(path: Path) -> set[str]:
    """Return the names of the environment variables a module reads, from its syntax tree.

    Counted: os.environ.get("X"), os.environ.setdefault("X", ...), os.environ["X"] (read, not assigned), and
    config.py's env_bool("X"), env_int("X"), env_seconds("X"), env_list("X").
    """
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args and is_string(node.args[0]):
            function = node.func
            if isinstance(function, ast.Name) and function.id in READERS:
                names.add(node.args[0].value)
            elif isinstance(function, ast.Attribute) and function.attr in {"get", "setdefault"}:
                if is_os_environ(function.value):
                    names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_os_environ(node.value):
            if is_string(node.slice):
                names.add(node.slice.value)
    return names


def is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def settings_table_names() -> list[str]:
    """Return the variable named in the first cell of each row of the settings page's tables."""
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", SETTINGS_PAGE.read_text(encoding="utf-8"), re.MULTILINE)


def test_the_readme_is_a_front_door_of_at_most_10_kb():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes; move a section into docs/ (limit {README_MAX_BYTES:,})"
    )


def test_the_readme_gives_the_two_commands_of_the_quick_start():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text


@pytest.mark.parametrize("page", manual_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_of_the_manual_leads_to_a_file_and_a_heading_that_exist(page):
    broken = [f"{target}: {why}" for target in relative_links(page) if (why := broken_link(page, target))]
    assert not broken, f"{page.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in relative_links(README)}
    orphans = [page.name for page in DOCS.glob("*.md") if page.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"


@pytest.mark.parametrize("module", ["config.py", "gunicorn.conf.py"])
def test_every_setting_read_from_the_environment_is_on_the_settings_page(module):
    names = environment_names(ROOT / module)
    assert len(names) >= 5, f"found only {sorted(names)} in {module}: has the way it reads settings changed?"
    page = SETTINGS_PAGE.read_text(encoding="utf-8")
    missing = sorted(name for name in names if f"`{name}`" not in page)
    assert not missing, f"{module} reads these, which docs/settings.md does not list: {missing}"


def test_the_settings_page_lists_each_setting_once():
    names = settings_table_names()
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"listed more than once on docs/settings.md: {repeated}"


@pytest.mark.parametrize("page", manual_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_the_manual_gives_reasons_not_tracker_numbers(page):
    found = ISSUE_REFERENCE.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.relative_to(ROOT)} cites a tracker the reader cannot see: {found}; say the reason"
