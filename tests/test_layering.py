"""DESIGN.md's layering, read from the source (no import, no torch): every import counts, the ones
inside functions too, since an import moved into a function still ties the two modules together."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import asffbench

PACKAGE_DIR = Path(asffbench.__file__).resolve().parent

# What may be imported inside a function (outside cli/): a dependency that may be missing, so a
# module-level import would break every user without it. Each such import says so in a comment on
# its line or the line just above. Everything asffbench requires is imported at the top.
OPTIONAL_IMPORTS = (
    "faster_coco_eval",  # extra `fast`
    "pyarrow",  # extra `parquet`
    "torch.utils.tensorboard",  # needs the tensorboard package, not a dependency
    "tidecv",  # extra `dev`
    "onnx",
    "onnxruntime",
    "thop",
    # mlflow and wandb (extra `track`) are imported through asffbench.extras.require_extra
    # (importlib), so no import statement names them; listed for the trackers that may import them.
    "mlflow",  # extra `track`
    "wandb",  # extra `track`
    # imagecorruptions (extra `robust`: eval.corruption, asffbench robust) is imported through
    # asffbench.extras.require_extra too; listed for the modules that may import it.
    "imagecorruptions",  # extra `robust`
)
# DESIGN.md's stack of units (packages and top-level modules of asffbench), bottom first: a unit
# imports only units of lower rows.
LAYERS = (
    ("asffbench", "errors"),
    ("atomic", "anchors", "corruptions", "coco_format", "drawing", "models", "extras"),
    ("config", "record"),
    ("device", "data", "trackers"),
    ("build_fusion",),
    ("build_yolov8",),
    ("build", "memory", "environment"),
    ("settings", "weights"),
    ("engine",),
    ("deploy",),
    ("bench", "results", "model_source"),
    ("runs", "predict", "viz", "convert", "exporting"),
    ("cli",),
)
# The rooms of asffbench/results/, bottom first (DESIGN.md "The results layer"): a room imports only
# rooms of lower rows; the last row holds the command modules, which no other module of results/
# imports (a report section never imports a command).
RESULTS_ROOMS = (
    ("reading",),
    ("tables",),
    ("intervals",),
    ("error_analysis",),
    ("report",),
    ("compare", "analyze", "plan"),
)
# Basenames that may repeat: each means the same thing wherever it is (a package's registry of
# named builders; the base class its entries derive from).
SHARED_BASENAMES = ("__init__.py", "registry.py", "base.py")
# Config and command-line libraries the models never see (DESIGN.md: models take explicit arguments).
NOT_IN_MODELS = ("hydra", "omegaconf", "typer")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def modules() -> dict[str, tuple[Path, ast.Module]]:
    return {module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The full names an import statement imports (a `from pkg import module` names the module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()]


def owner(target: str) -> str | None:
    """The asffbench module a name lives in (the longest module prefix), None outside asffbench."""
    while target and target not in modules():
        target = target.rpartition(".")[0]
    return target or None


def imports(inside_functions: bool | None = None) -> list[tuple[str, ast.Import | ast.ImportFrom, list[str]]]:
    """(module, import node, names) of every import; only those inside (or outside) functions
    when asked."""
    return [(name, node, targets) for name, node, targets, in_function in all_imports()
            if inside_functions is None or inside_functions == in_function]


@lru_cache(maxsize=None)
def all_imports() -> list[tuple[str, ast.Import | ast.ImportFrom, list[str], bool]]:
    found = []
    for name, (path, tree) in modules().items():
        in_function = {
            id(node)
            for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn)
        }
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append((name, node, imported(name, path, node), id(node) in in_function))
    return found


def module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for name, _, targets in imports():
        graph[name] |= {o for o in map(owner, targets) if o is not None and o != name}
    return graph


def unit(name: str) -> str:
    """The top-level package or module of `asffbench` a module belongs to."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules():
    assert cycles(module_graph()) == []


def test_no_import_cycle_between_packages():
    units: dict[str, set[str]] = {}
    for name, targets in module_graph().items():
        units.setdefault(unit(name), set()).update(unit(t) for t in targets if unit(t) != unit(name))
    assert cycles(units) == []


def test_units_import_only_lower_layers():
    row = {name: i for i, names in enumerate(LAYERS) for name in names}
    bad = []
    for name, targets in module_graph().items():
        if unit(name) not in row:
            bad.append(f"{unit(name)}: not in LAYERS (add it there and to DESIGN.md's table)")
            continue
        bad += [f"{name} imports {t}" for t in sorted(targets) if row.get(unit(t), len(LAYERS)) >= row[unit(name)]
                and unit(t) != unit(name)]
    assert sorted(set(bad)) == []


def test_imports_inside_functions_only_in_cli_or_of_optional_dependencies():
    bad = []
    for name, node, targets in imports(inside_functions=True):
        if name.startswith("asffbench.cli."):
            continue
        optional = all(any(t == o or t.startswith(o + ".") for o in OPTIONAL_IMPORTS) for t in targets)
        lines = modules()[name][0].read_text(encoding="utf-8").splitlines()
        said = "#" in lines[node.lineno - 1] or "#" in lines[node.lineno - 2]
        if not (optional and said):
            bad.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert bad == []


def used_names(tree: ast.Module) -> set[str]:
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    # A string annotation names what it uses too.
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)
    return names


def all_listing(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {elt.value for elt in node.value.elts}  # type: ignore[attr-defined]
    return set()


def test_no_module_re_exports_names_of_another():
    """A module imports another's names to use them; a package `__init__` may gather its own
    package's names (its public API: `asffbench.models`), never another package's."""
    bad = []
    for name, node, targets in imports(inside_functions=False):
        if not isinstance(node, ast.ImportFrom) or owner(targets[0]) is None:
            continue
        path, tree = modules()[name]
        bound = {alias.asname or alias.name for alias in node.names}
        if path.name == "__init__.py":
            if not targets[0].startswith(name + "."):
                bad.append(f"{name}: re-exports {targets[0]}")
            continue
        unused = bound - used_names(tree)
        listed = bound & all_listing(tree)
        if unused or listed:
            bad.append(f"{name}:{node.lineno}: {sorted(unused | listed)} imported from {targets[0]} and not used")
    assert bad == []


def test_models_import_no_config_or_command_line_library():
    bad = [
        f"{name}: {ast.unparse(node)}"
        for name, node, targets in imports()
        if name.startswith("asffbench.models")
        for target in targets
        if target.split(".")[0] in NOT_IN_MODELS
        or (owner(target) is not None and not owner(target).startswith("asffbench.models"))
    ]
    assert bad == []


def test_models_import_no_config_or_cli_libraries():
    # DESIGN.md: asffbench.models sees no config; a fresh interpreter shows what it pulls in.
    code = (
        "import sys, asffbench.models\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf', 'typer'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def results_room(name: str) -> str | None:
    """The room of asffbench/results/ a module belongs to (None: the package itself, or outside it)."""
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "results" else None


def test_results_rooms_import_only_lower_rooms_and_no_section_imports_a_command():
    row = {room: i for i, rooms in enumerate(RESULTS_ROOMS) for room in rooms}
    bad = []
    for name, targets in module_graph().items():
        room = results_room(name)
        if room is None:
            continue
        if room not in row:
            bad.append(f"{name}: not in RESULTS_ROOMS (add its room there and to DESIGN.md)")
            continue
        for target in sorted(targets):
            other = results_room(target)
            if other is not None and other != room and row.get(other, len(RESULTS_ROOMS)) >= row[room]:
                bad.append(f"{name} imports {target}")
    assert bad == []


def test_no_two_modules_share_a_basename():
    """A module's file name says what it is: two `stats.py` meaning different things make a reader
    open both (`SHARED_BASENAMES` mean the same thing wherever they are)."""
    by_name: dict[str, list[str]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path.name not in SHARED_BASENAMES:
            by_name.setdefault(path.name, []).append(str(path.relative_to(PACKAGE_DIR)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}
