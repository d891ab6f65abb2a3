"""The docs stay true: DESIGN.md's layer table is the layering test's `LAYERS`, every module and
name DESIGN.md cites exists, README.md stays short with its two commands, every relative link of
README.md and docs/ resolves, and every repository file they name exists. Read from the files
(ast and text): nothing of asffbench is imported but the package root, so no torch.

How DESIGN.md's citations are read (a failure names the line, so a rename shows where the doc
drifted):
- Only text between backticks counts, outside fenced code blocks; prose is free.
- A path: a span that is a `.py` file, optionally followed by `: name` or `::name`
  (`runs/training.py: train(cfg, run_dir)`, `config/validate.py::RULES`), or a folder ending in
  `/` (`engine/`, `tests/results/fixtures/schema_v1/`). It is looked up under `asffbench/` first,
  then from the repository root, and must exist; a bare file name (`resolve.py`, named in the
  section of its package) must be some file of asffbench. The name (dotted `Class.member` too)
  must be defined in the file.
- A dotted name: the dotted identifier a span starts with (`engine.postprocess.postprocess` in
  `engine.postprocess.postprocess(levels, ...)`). Its module is the longest prefix that is an
  asffbench module written in full (`asffbench.settings`) or by the tail of its dotted path
  (`settings`, `engine.postprocess`, `postprocess`); the next part must be defined in that
  module (in one of them when several share the tail), the part after it, where the first is a
  class, in the class. A name with no module prefix is no citation (`torch.load`, `cfg.device`);
  `asffbench.x...` must have one.
- A class member: `Class.member` where asffbench defines a class of that name
  (`Trainer.train_step`, `RunRecord.config_value`): one class of that name must have the member
  (in its body, as a `self.member = ...` of its methods, or from a base class; a base outside
  asffbench is taken to have it).
- A call without its module: `name(...)` (`hold_run(run_dir)`): some module of asffbench must
  define the name (at top level or in a class), unless it is a builtin.
- Not citations: config keys (the first part a config section of `config/schema.py` and the second
  one of its fields: `bench.runtime`, `data.root`), file names (`record.json`, `config.yaml`:
  the last part a file extension) and patterns (the name followed by `*`, `<`, `[` or `.`:
  `fusion.bifpn_*`, `data.<split>.ann`).
- Options: a span `group=a|b` names files of conf/<group>/, `section.key=a|b` values of the key's
  enum in config/schema.py; the lists of DESIGN.md's Config section name every one of them.
- Defined means at the top level of the module's file (functions, classes, assignments, also
  inside a top-level `if`/`try`); a package `__init__` also defines what it imports from its own
  package. A module named alone (`engine.voc_eval`) must exist.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import re
from functools import lru_cache
from itertools import zip_longest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "asffbench"
README = ROOT / "README.md"
DESIGN = ROOT / "DESIGN.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250
QUICK_START = (
    "make demo   # creates .venv, runs the smoke sweep (5 fusions, tiny model, synthetic COCO, CPU) and writes its report",
    "make test   # creates .venv when missing, runs the test suite",
)
FILE_EXTENSIONS = {"json", "jsonl", "yaml", "yml", "pt", "pth", "npz", "zip", "py", "md", "csv", "png", "txt",
                   "lock", "onnx", "parquet", "xml", "sh", "74"}


def layering_layers() -> tuple[tuple[str, ...], ...]:
    """`LAYERS` of tests/test_layering.py, loaded from its file (the tests folder is no package)."""
    spec = importlib.util.spec_from_file_location("layering_for_docs", ROOT / "tests" / "test_layering.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LAYERS


def without_code_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    kept, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            kept.append((number, line))
    return kept


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if re.match(r"#{1,%d} " % level, lines[i])), len(lines))
    return "\n".join(lines[start:end])


# --- DESIGN.md's layer table -------------------------------------------------------------------

def design_layers() -> list[tuple[str, ...]]:
    """The Units column of DESIGN.md's layer table, bottom row first: its backticked names, a
    trailing `/` (a package) dropped."""
    table = section(DESIGN.read_text(encoding="utf-8"), "## Layers (who may import what)")
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]  # header, rule
    return [tuple(name.rstrip("/") for name in re.findall(r"`([^`]+)`", row.split("|")[2])) for row in rows]


def test_design_layer_table_is_the_layering_tests_layers():
    """Row by row, bottom first; the order of the units within a row does not matter."""
    design, layers = design_layers(), [tuple(row) for row in layering_layers()]
    differences = [f"row {i} (bottom 0): DESIGN.md {d}, LAYERS {l}"
                   for i, (d, l) in enumerate(zip_longest(design, layers)) if set(d or ()) != set(l or ())]
    assert not differences, "DESIGN.md's layer table is not test_layering's LAYERS:\n" + "\n".join(differences)


def test_every_unit_of_the_layer_table_exists():
    for row in design_layers():
        for name in row:
            if name != "asffbench":
                assert (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file(), name


# --- DESIGN.md's citations ---------------------------------------------------------------------

@lru_cache(maxsize=None)
def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of asffbench."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@lru_cache(maxsize=None)
def defined_names(path: Path) -> dict[str, ast.AST]:
    """Top-level names a module's file defines (name -> its node; inside top-level if/try too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, ast.AST] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            names[name.id] = node
            elif isinstance(node, ast.ImportFrom) and path.name == "__init__.py" and node.level:
                for alias in node.names:  # a package gathering its own package's names
                    names[alias.asname or alias.name] = node
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + node.orelse + getattr(node, "finalbody", [])
                      + [s for h in getattr(node, "handlers", []) for s in h.body])

    visit(tree.body)
    return names


def class_members(node: ast.ClassDef) -> set[str]:
    """What a class body defines, and the `self.x = ...` attributes its methods set."""
    members = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            members.add(item.name)
            members |= {target.attr for sub in ast.walk(item) if isinstance(sub, (ast.Assign, ast.AnnAssign))
                        for target in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self"}
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.add(item.target.id)
        elif isinstance(item, ast.Assign):
            members |= {t.id for t in item.targets if isinstance(t, ast.Name)}
    return members


@lru_cache(maxsize=None)
def classes() -> dict[str, list[ast.ClassDef]]:
    """Class name -> the top-level classes of that name in asffbench."""
    found: dict[str, list[ast.ClassDef]] = {}
    for path in module_files().values():
        for node in defined_names(path).values():
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(node)
    return found


def has_member(node: ast.ClassDef, member: str) -> bool:
    """The member is the class's, or one of its bases' (a base outside asffbench may hold it)."""
    if member in class_members(node):
        return True
    bases = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
    return any(base not in classes() or any(has_member(b, member) for b in classes()[base] if b is not node)
               for base in bases)


def problem_with_name(path: Path, dotted: list[str]) -> str | None:
    """None when `dotted` (name, then optionally a class member) is defined in the file."""
    names = defined_names(path)
    if dotted[0] not in names:
        return f"{dotted[0]} is not defined in {path.relative_to(ROOT)}"
    node = names[dotted[0]]
    if len(dotted) > 1 and isinstance(node, ast.ClassDef) and not has_member(node, dotted[1]):
        return f"{dotted[0]} in {path.relative_to(ROOT)} has no member {dotted[1]}"
    return None


def problem_with_member(span: str) -> str | None:
    """`Class.member` of a class asffbench defines: None when one class of that name has it."""
    match = re.match(r"([A-Z]\w*)\.([A-Za-z_]\w*)", span)
    if not match or match.group(1) not in classes():
        return None
    if any(has_member(node, match.group(2)) for node in classes()[match.group(1)]):
        return None
    return f"no class {match.group(1)} of asffbench has a member {match.group(2)}"


@lru_cache(maxsize=None)
def config_sections() -> dict[str, set[str]]:
    """Config section -> its fields, from config/schema.py: every field typed by a schema class."""
    tree = ast.parse((PACKAGE / "config" / "schema.py").read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    fields = {name: {item.target.id for item in node.body
                     if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}
              for name, node in classes.items()}
    sections: dict[str, set[str]] = {}
    for node in classes.values():
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                annotation = ast.unparse(item.annotation)
                if annotation in classes:
                    sections.setdefault(item.target.id, set()).update(fields[annotation])
    return sections


def problem_with_path(span: str) -> str | None:
    """A `.py` file (with `: name` / `::name`) or a folder ending in `/`; None when it exists."""
    match = re.fullmatch(r"([\w./-]+\.py)(?:\s*::?\s*([A-Za-z_][\w.]*))?.*", span)
    if match:
        bases = (PACKAGE, ROOT) if "/" in match.group(1) else sorted({p.parent for p in PACKAGE.rglob(match.group(1))})
        path = next((base / match.group(1) for base in bases if (base / match.group(1)).is_file()), None)
        if path is None:
            return f"no file {match.group(1)}"
        return problem_with_name(path, match.group(2).split(".")) if match.group(2) else None
    if re.fullmatch(r"[\w.-]+(/[\w.-]+)*/", span):
        if any((base / span).is_dir() for base in (PACKAGE, ROOT)):
            return None
        return f"no folder {span} (a folder of a run directory? name it in words: a `name` folder)"
    return None


def modules_with_tail(parts: list[str]) -> list[str]:
    tail = ".".join(parts)
    return [name for name in module_files() if name == f"asffbench.{tail}" or name.endswith(f".{tail}")]


def problem_with_dotted(span: str) -> str | None:
    """A dotted name (rules in the module docstring); None when it holds or is no citation."""
    match = re.match(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(.?)", span)
    if not match or match.group(2) in ("*", "<", "[", ".", "-"):
        return None
    parts = match.group(1).split(".")
    if parts[-1] in FILE_EXTENSIONS or parts[1] in config_sections().get(parts[0], ()):
        return None
    absolute = parts[0] == "asffbench"
    if absolute:
        parts = parts[1:]
    for size in range(len(parts), 0, -1):
        candidates = modules_with_tail(parts[:size]) if not absolute else (
            [f"asffbench.{'.'.join(parts[:size])}"] if f"asffbench.{'.'.join(parts[:size])}" in module_files() else [])
        if not candidates:
            continue
        rest = parts[size:]
        if not rest:
            return None
        problems = [problem_with_name(module_files()[c], rest) for c in candidates]
        return None if None in problems else "; ".join(problems)
    return f"no module asffbench.{'.'.join(parts)}" if absolute else None


@lru_cache(maxsize=None)
def names_anywhere() -> frozenset[str]:
    """Every top-level name and class member asffbench defines."""
    found = set()
    for path in module_files().values():
        for name, node in defined_names(path).items():
            found.add(name)
            if isinstance(node, ast.ClassDef):
                found |= class_members(node)
    return frozenset(found)


def problem_with_call(span: str) -> str | None:
    """`name(...)`, a function named without its module: None when asffbench defines it somewhere."""
    match = re.match(r"([a-z_]\w*)\(", span)
    if not match or match.group(1) in names_anywhere() or hasattr(builtins, match.group(1)):
        return None
    return f"asffbench defines no {match.group(1)}"


def design_citations() -> list[tuple[int, str]]:
    return [(number, span) for number, line in without_code_blocks(DESIGN.read_text(encoding="utf-8"))
            for span in re.findall(r"`([^`]+)`", line)]


def test_design_citations_are_read():
    """The parser finds the citations it is meant to (a guard against a rule that matches nothing)."""
    spans = [span for _, span in design_citations()]
    assert "settings.postprocess_settings(cfg) -> PostprocessSettings" in spans
    assert problem_with_dotted("settings.postprocess_settings(cfg)") is None
    assert problem_with_dotted("engine.postprocess.no_such_helper(cfg)") is not None
    assert problem_with_dotted("asffbench.no_such_module.name") is not None
    assert problem_with_dotted("bench.runtime") is None  # a config key
    assert problem_with_path("runs/no_such_file.py: train") is not None
    assert problem_with_path("engine/trainer.py: Trainer.no_such_method") is not None
    assert problem_with_member("Trainer.train_step(images, targets)") is None
    assert problem_with_member("Trainer.no_such_method") is not None
    assert problem_with_member("COCOeval.accumulate") is None  # not a class of asffbench
    assert problem_with_call("hold_run(run_dir)") is None
    assert problem_with_call("no_such_function(run_dir)") is not None


def test_every_module_and_name_design_cites_exists():
    checks = (problem_with_path, problem_with_dotted, problem_with_member, problem_with_call)
    problems = [f"DESIGN.md:{number}: `{span}`: {problem}" for number, span in design_citations()
                for problem in [next(filter(None, (check(span) for check in checks)), None)] if problem]
    assert not problems, "\n".join(problems)


def test_design_record_layout_has_the_run_records_fields():
    """The record.json block of DESIGN.md names the fields of `RunRecord` (wherever it lives), no more."""
    text = DESIGN.read_text(encoding="utf-8")
    block = re.search(r"```\n(\{\n  \"schema_version\".*?)\n```", text, re.S)
    assert block, "DESIGN.md has no record.json block starting with schema_version"
    documented = set(re.findall(r'^  "(\w+)":', block.group(1), re.M))
    [record] = classes()["RunRecord"]
    fields = {item.target.id for item in record.body  # the dataclass fields: ClassVars are none
              if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
              and not ast.unparse(item.annotation).startswith("ClassVar")}
    assert documented == fields, f"only in DESIGN.md: {sorted(documented - fields)}; only in RunRecord: {sorted(fields - documented)}"

def test_layout_names_every_unit_and_only_files_that_exist():
    """docs/layout.md, the map of the code: every unit of LAYERS has its entry (`unit/` or
    `unit.py`), and every file name it gives (`speed.py`) is a file of the repository."""
    text = (DOCS / "layout.md").read_text(encoding="utf-8")
    units = [u for row in layering_layers() for u in row if u != "asffbench"]
    unlisted = [u for u in units if not re.search(rf"(?<![\w/]){u}(\.py|/)", text)]
    files = {p.name for base in ("asffbench", "tests", "benchmarks", "scripts") for p in (ROOT / base).rglob("*.py")}
    missing = sorted({name for name in re.findall(r"(?<![\w/.])(\w+\.py)\b", text)} - files)
    assert not unlisted and not missing, f"units without an entry: {unlisted}; no such files: {missing}"

# --- the options DESIGN.md lists ---------------------------------------------------------------

@lru_cache(maxsize=None)
def enum_values() -> dict[str, set[str]]:
    """Config key -> the values of its enum, from config/schema.py (`fusion.upsample` -> ...)."""
    tree = ast.parse((PACKAGE / "config" / "schema.py").read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    enums = {name: {item.value.value for item in node.body if isinstance(item, ast.Assign)
                    and isinstance(item.value, ast.Constant) and isinstance(item.value.value, str)}
             for name, node in classes.items() if any(ast.unparse(b) == "Enum" for b in node.bases)}
    sections = {item.target.id: ast.unparse(item.annotation) for node in classes.values() for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                and ast.unparse(item.annotation) in classes}
    roots = {name for name, node in classes.items()
             if any(isinstance(i, ast.AnnAssign) and ast.unparse(i.annotation) in sections.values() for i in node.body)}
    found = {}
    for prefix, class_name in [*((f"{s}.", c) for s, c in sections.items()), *(("", r) for r in roots)]:
        for item in classes[class_name].body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if ast.unparse(item.annotation) in enums:
                    found[f"{prefix}{item.target.id}"] = enums[ast.unparse(item.annotation)]
    return found


def listed_options() -> list[tuple[int, str, list[str], bool]]:
    """(line, key, options, in the Config section) of every `key=a|b|c` span of DESIGN.md."""
    text = DESIGN.read_text(encoding="utf-8")
    config = section(text, "## Config")
    found = []
    for number, line in without_code_blocks(text):
        for span in re.findall(r"`([^`]+)`", line):
            match = re.fullmatch(r"([a-z_.]+)=([^=\s][^=]*\|[^=]*)", span)
            if match:
                found.append((number, match.group(1), match.group(2).split("|"), f"`{span}`" in config))
    return found


def test_options_design_lists_exist():
    """`group=a|b` names options of conf/<group>/, `section.key=a|b` values of the key's enum;
    the Config section names all of them (a `<placeholder>` option stands for a family, a
    `[...]` one for a value that is no option)."""
    problems = []
    for number, key, options, complete in listed_options():
        group = ROOT / "conf" / key
        choices = {p.stem for p in group.glob("*.yaml")} if group.is_dir() else enum_values().get(key)
        if choices is None:
            continue
        literal = [o for o in options if re.fullmatch(r"\w+", o)]
        patterns = [re.compile(re.sub(r"<[^>]+>", r"\\w+", o)) for o in options if "<" in o]
        problems += [f"DESIGN.md:{number}: {key}={o}: no such option" for o in literal if o not in choices]
        if complete:
            problems += [f"DESIGN.md:{number}: {key}: {c} is not listed" for c in sorted(choices)
                         if c not in literal and not any(p.fullmatch(c) for p in patterns)]
    assert not problems, "\n".join(problems)


def test_options_reader_reads_the_schema():
    assert enum_values()["fusion.upsample"] == {"nearest", "bilinear"}
    assert enum_values()["device"] == {"auto", "cpu", "cuda"}
    assert any(key == "fusion" and complete for _, key, _, complete in listed_options())


# --- README.md ----------------------------------------------------------------------------------

def test_readme_is_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_readme_quick_start_commands_are_unchanged():
    quick_start = section(README.read_text(encoding="utf-8"), "## Quick start")
    blocks = re.findall(r"```bash\n(.*?)```", quick_start, re.S)
    assert blocks and blocks[0].splitlines() == list(QUICK_START)


def test_readme_links_every_page_of_docs():
    """A page of docs/ nobody links is a page nobody reads: README's "Where to go next" names each."""
    linked = {(README.parent / target.partition("#")[0]).resolve() for _, target in links(README)}
    unlinked = sorted(page.name for page in DOCS.glob("*.md") if page.resolve() not in linked)
    assert not unlinked, f"add to README.md's \"Where to go next\": {unlinked}"

# --- links of README.md and docs/ --------------------------------------------------------------

def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, line in without_code_blocks(path.read_text(encoding="utf-8")):
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            anchor = github_anchor(match.group(1))
            count = sum(1 for a in found if a == anchor or re.fullmatch(re.escape(anchor) + r"-\d+", a))
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every inline link and image outside code (fenced blocks, `spans`)."""
    found = []
    for number, line in without_code_blocks(path.read_text(encoding="utf-8")):
        for target in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", re.sub(r"`[^`]*`", "``", line)):
            found.append((number, target))
    return found


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def problem_with_link(source: Path, target: str) -> str | None:
    if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
        return "a file: link; use a relative one" if target.startswith("file:") else None
    if target.startswith("/"):
        return "an absolute path; use a path relative to the file"
    file_part, _, anchor = target.partition("#")
    linked = (source.parent / file_part).resolve() if file_part else source
    if not linked.exists():
        return f"no file {file_part}"
    if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
        return f"no heading #{anchor} in {linked.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    problems = [f"{doc.relative_to(ROOT)}:{number}: ({target}): {problem}" for number, target in links(doc)
                for problem in [problem_with_link(doc, target)] if problem]
    assert not problems, "\n".join(problems)


def test_link_reader_finds_links_and_anchors():
    assert github_anchor("Released checkpoints and `predict`") == "released-checkpoints-and-predict"
    assert github_anchor("Deployment: ONNX export and FLOPs by counter") == "deployment-onnx-export-and-flops-by-counter"
    assert ("docs/recipes.md" in {t for _, t in links(README)}) and len(links(README)) > 10
    assert problem_with_link(README, "docs/no_such_file.md") is not None
    assert problem_with_link(README, "docs/data.md#no-such-heading") is not None
    assert problem_with_link(README, "docs/data.md#pascal-voc") is None


# --- repository paths named in prose and commands ----------------------------------------------

REPO_PATH = re.compile(r"(?<![\w/.<-])((?:asffbench|tests|benchmarks|scripts|conf|sweeps|reports)/[\w./-]*\.(?:py|yaml|sh|md|png|json))\b")


@pytest.mark.parametrize("doc", [DESIGN, *doc_files()], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_file_named_exists(doc):
    """A file of this repository named by its path (`tests/test_layering.py`, `python
    benchmarks/bench_compare.py`, in prose, spans or code blocks alike) exists; a placeholder in
    capitals (`sweeps/NAME.yaml`) is none."""
    named = {path for path in REPO_PATH.findall(doc.read_text(encoding="utf-8")) if not re.search(r"/[A-Z_]+\.", path)}
    missing = sorted(path for path in named if not (ROOT / path).is_file())
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: {missing}"
