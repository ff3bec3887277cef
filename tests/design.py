"""The import graph of ``src/tsns`` read from the source (nothing is imported), for the design tests.

``imports(module)`` is what executing ``module`` imports from the package: every
``import`` and ``from ... import`` statement anywhere in it (a function's lazy
import runs when the function is called), except the lazy re-exports of a
package's ``__getattr__`` and ``if TYPE_CHECKING:`` blocks (neither runs on
import). Importing ``a.b.c`` also executes ``a`` and ``a.b``.
"""
from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "tsns"


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for f in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _skipped(tree: ast.AST) -> set[int]:
    """ids of the nodes whose imports do not run on import: module-level ``__getattr__`` and TYPE_CHECKING."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        lazy = isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        tc = isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        if lazy or tc:
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def imports_of_source(text: str, module: str = "", *, parents: bool = True) -> set[str]:
    """Package modules imported by a piece of source code (a module, or a notebook cell with ``module=""``).

    ``parents``: count the parent packages that every import executes too.
    """
    known = modules()
    tree = ast.parse(text)
    skip = _skipped(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node) if module else (node.module or "")
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n in known:
                found.add(n)
                if parents:
                    found.update(p for p in _parents(n) if p in known)
    return found


@lru_cache(maxsize=None)
def imports(module: str, parents: bool = True) -> frozenset[str]:
    """The package modules that ``module`` imports directly (and, with ``parents``, their parent packages;
    a module also executes its own parent packages)."""
    found = imports_of_source(modules()[module].read_text(), module, parents=parents)
    if parents:
        found |= {p for p in _parents(module) if p in modules()}
    return frozenset(found - {module})


def closure(start: set[str]) -> set[str]:
    """Every package module reached from ``start`` (included)."""
    seen, todo = set(), list(start)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(imports(m) - seen)
    return seen


def notebook_imports(path: Path) -> set[str]:
    """Package modules imported by a notebook's code cells (IPython magics skipped)."""
    nb = json.loads(Path(path).read_text())
    found: set[str] = set()
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "\n".join(line for line in "".join(c["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))
        found |= imports_of_source(src)
    return found


def files(mods: set[str]) -> set[str]:
    """Repository-relative paths of modules."""
    known = modules()
    return {known[m].relative_to(REPO).as_posix() for m in mods}


def cycles() -> list[list[str]]:
    """Import loops: strongly connected components of more than one module, over the imports written in the
    code (a submodule's implicit execution of its parent package is not a loop), with Tarjan's algorithm."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(imports(v, parents=False)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(modules()):
        if m not in index:
            visit(m)
    return out


def reruns(dvc_yaml: dict, key: str) -> set[str]:
    """Stages that a change of the parameter ``key`` re-runs: those that list it, then every stage that depends
    (transitively) on an output of one of them. Names without the ``@item`` of foreach stages."""
    stages = {}
    for name, st in dvc_yaml["stages"].items():
        body = st.get("do", st)
        stages[name] = {"params": [p for p in body.get("params") or [] if isinstance(p, str)],
                        "deps": body.get("deps") or [],
                        "outs": [o if isinstance(o, str) else next(iter(o)) for o in body.get("outs") or []]}
    run = {n for n, s in stages.items() if key in s["params"]}

    def touches(dep: str, out: str) -> bool:
        return dep == out or dep.startswith(out.rstrip("/") + "/") or out.startswith(dep.rstrip("/") + "/")

    grew = True
    while grew:
        outs = [o for n in run for o in stages[n]["outs"]]
        new = {n for n, s in stages.items() if n not in run and any(touches(d, o) for d in s["deps"] for o in outs)}
        run |= new
        grew = bool(new)
    return run
