"""The layout of app/ stays readable: imports run one way between the packages, no module imports another
that imports it back, and the two places a reader starts from stay short (docs/architecture.md)."""

import ast
import inspect
from pathlib import Path

import app

APP = Path(app.__file__).parent
# From the bottom up: a module may import its own package and the layers below its own.
LAYERS = [
    ("app.version", "app.observability"),
    ("app.extensions", "app.rules", "app.models", "app.forms", "app.database", "app.security", "app.templating"),
    ("app.errors",),
    ("app.ops",),
    ("app.main", "app.auth"),
    ("app.api", "app.admin"),
    ("app",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Return the app modules a file imports (`from app import x` names the module app.x when there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name == "app" or name.startswith("app.")}


MODULES = {module_name(path): path for path in APP.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def home(module: str) -> tuple[int, str]:
    """Return the layer of a module and the package (or flat module) it belongs to."""
    for level, owners in enumerate(LAYERS):
        for owner in sorted(owners, key=len, reverse=True):
            if owner != "app" and (module == owner or module.startswith(owner + ".")):
                return level, owner
    return len(LAYERS) - 1, "app"


def test_every_module_of_app_has_a_place_in_the_layers():
    assert [name for name in MODULES if home(name)[1] == "app" and name != "app"] == []


def layer_breaks(module: str, imported: set[str]) -> list[str]:
    """Return the imports of `module` that go up the layers or sideways into another package of its layer."""
    level, owner = home(module)
    wrong = []
    for target in sorted(imported):
        target_level, target_owner = home(target)
        if target_owner == owner or target_level < level:
            continue
        if level == target_level <= 1:
            continue  # the flat modules at the bottom import each other; a cycle among them is caught below
        wrong.append(f"{module} (layer {level}) imports {target} (layer {target_level})")
    return wrong


def test_imports_run_down_the_layers_or_stay_in_their_package():
    assert [wrong for module, imported in GRAPH.items() for wrong in layer_breaks(module, imported)] == []


def test_no_module_imports_one_that_imports_it_back():
    """No cycle through any chain of imports, across packages or inside one."""

    def cycle_from(start: str, path: list[str], seen: set[str]) -> list[str] | None:
        for target in sorted(GRAPH.get(path[-1], ())):
            if target == start:
                return [*path, start]
            if target in GRAPH and target not in seen:
                seen.add(target)
                if found := cycle_from(start, [*path, target], seen):
                    return found
        return None

    cycles = [" -> ".join(found) for module in sorted(GRAPH) if (found := cycle_from(module, [module], set()))]
    assert cycles == []


def test_the_layer_check_sees_an_upward_or_sideways_import(tmp_path):
    """The check reads real imports: the error pages importing a view, or the API the admin pages, is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text("from app.main.routes import bp\nfrom app import admin\nimport app.database\n", encoding="utf-8")
    imported = imports_of(planted)
    assert imported == {"app.main.routes", "app.admin", "app.database"}
    assert len(layer_breaks("app.errors.planted", imported)) == 2
    assert layer_breaks("app.api.planted", imported) == ["app.api.planted (layer 5) imports app.admin (layer 5)"]


def test_create_app_reads_as_a_table_of_contents():
    lines = inspect.getsource(app.create_app).splitlines()
    assert len(lines) <= 20, len(lines)


def test_the_alert_path_stays_short():
    """Record -> queue -> throttle -> mail: the fault store, the worker and SMTP live beside it, shared."""
    files = (APP / "observability" / "alerts").glob("*.py")
    alerts = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in files)
    assert alerts <= 700, alerts
    outside = {name for name in GRAPH if not name.startswith("app.observability.alerts")}
    reaching_in = {name for name in outside for target in GRAPH[name] if target.startswith("app.observability.alerts.")}
    assert reaching_in <= {"app.observability.cli"}, reaching_in  # `flask alerts test` sends through the mail handler
