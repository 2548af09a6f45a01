"""The package's layers, read from its source files with :mod:`ast`.

Arrows point down only: the app (``app/``, the web page) sits on top and
imports the lab and the library; the face ``hopfield/__init__.py`` imports the
lab, the lab imports the library, the library imports ``_core``; the
reference stands alone. So: nothing outside ``lab/`` and ``app/`` imports the
lab (except the face and ``__main__``), nothing outside ``app/`` imports the
app (except the ``hopfield app`` command in ``lab/cli.py``, inside a function,
so only when it runs), the reference imports NumPy, the standard library and
itself only, nothing in the package imports the face, and the module-level
imports have no cycle. The faces list their public names, and the old module paths
(``hopfield.experiments``, ``hopfield.plot``, ...) still import.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hopfield
import pytest
from hopfield import reference

PACKAGE = Path(hopfield.__file__).parent
NAME = "hopfield"

#: The lab modules that the face still answers under their old names.
OLD_PATHS = ("cli", "datasets", "experiments", "images", "plot", "theory")


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Every Python module of the package: dotted name -> source file."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((NAME, *parts))] = path
    return out


def is_module(name: str, root: Path = PACKAGE) -> bool:
    """Whether ``name`` (dotted) is a module of the package: source, package or extension."""
    if name == NAME:
        return True
    if not name.startswith(NAME + "."):
        return False
    path = root.joinpath(*name.split(".")[1:])
    if (path / "__init__.py").is_file():
        return True
    return any(
        p.suffix in (".py", ".pyi", ".so", ".pyd") for p in path.parent.glob(path.name + ".*")
    )


def _run_at_import(tree: ast.AST) -> list[ast.AST]:
    """The nodes run when the module is imported: everything outside function bodies."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return nodes


def imports(
    module: str, path: Path, *, module_level: bool = False, root: Path = PACKAGE
) -> Iterator[tuple[int, str, str]]:
    """``(line, statement kind, imported module)`` for every import in ``path``.

    Relative imports are resolved against ``module``; ``from P import x``
    gives ``P.x`` when that is a module of the package, else ``P``. With
    ``module_level``, imports inside functions (run only when called) are left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = _run_at_import(tree) if module_level else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, "import", alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            subs = (f"{target}.{alias.name}" for alias in node.names)
            for found in dict.fromkeys(sub if is_module(sub, root) else target for sub in subs):
                yield node.lineno, "from", found


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_violations(root: Path = PACKAGE) -> list[str]:
    """Every import that breaks rules (a), (b), (c) or (f) of the layering."""
    lab, ref, app = f"{NAME}.lab", f"{NAME}.reference", f"{NAME}.app"
    allowed = {"numpy", "__future__", *sys.stdlib_module_names}
    bad = []
    for module, path in module_files(root).items():
        where = f"{path.relative_to(root)}"
        at_import = {
            (line, t) for line, _, t in imports(module, path, module_level=True, root=root)
        }
        for line, kind, target in imports(module, path, root=root):
            here = f"{where}:{line} imports {target}"
            # (a) the library never imports the lab; only the app, the face and __main__ do
            if (
                _in(target, lab)
                and not _in(module, lab)
                and not _in(module, app)
                and module not in (NAME, f"{NAME}.__main__")
            ):
                bad.append(f"{here}: the library imports the lab")
            # (f) the app is the top layer: only the command line's `app` command
            # imports it, inside a function (when the command runs)
            if _in(target, app) and not _in(module, app):
                if module != f"{lab}.cli" or (line, target) in at_import:
                    bad.append(f"{here}: only the `hopfield app` command imports the app")
            if _in(module, ref):
                # (b) the reference stands alone: NumPy, the standard library, its siblings
                if _in(target, NAME) and not _in(target, ref):
                    bad.append(f"{here}: the reference imports the rest of hopfield")
                if target == ref and module != ref:
                    bad.append(f"{here}: goes through the face reference/__init__.py")
                if not _in(target, NAME) and target.partition(".")[0] not in allowed:
                    bad.append(f"{here}: the reference depends on NumPy and the stdlib only")
            # (c) nothing in the package imports the face
            if module != NAME and (target == NAME or kind == "import" and _in(target, NAME)):
                bad.append(f"{here}: goes through the face hopfield/__init__.py")
    return bad


def import_cycles(root: Path = PACKAGE) -> list[list[str]]:
    """The cycles of the module-level import graph (Tarjan's strongly connected components)."""
    files = module_files(root)
    graph = {
        m: sorted(
            {t for _, _, t in imports(m, p, module_level=True, root=root) if t in files} - {m}
        )
        for m, p in files.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


# ---------------------------------------------------------------------------
# the layers


def test_the_package_is_read_whole() -> None:
    files = module_files()
    for m in ("hopfield", "hopfield.network", "hopfield.lab.experiments", "hopfield.reference"):
        assert m in files
    assert is_module("hopfield._core") and not is_module("hopfield.HopfieldNetwork")


def test_arrows_point_down() -> None:
    """(a) only the face and __main__ import the lab; (b) the reference stands
    alone; (c) nothing imports the face."""
    assert layer_violations() == []


def test_no_import_cycle() -> None:
    """(d) the module-level import graph of the whole package is acyclic."""
    assert import_cycles() == []


def test_the_checks_see_what_they_forbid(tmp_path: Path) -> None:
    """The rules fire on a small package that breaks each of them."""
    pkg = tmp_path / NAME
    for folder in (pkg / "lab", pkg / "reference"):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from . import network\n")
    (pkg / "network.py").write_text("from .lab import plot\n")
    (pkg / "lab" / "plot.py").write_text("from .. import network, HopfieldNetwork\n")
    (pkg / "reference" / "hebbian.py").write_text("from ..spins import as_spins\nimport scipy\n")
    (pkg / "reference" / "dense.py").write_text("from . import hebbian\nfrom . import X\n")
    (pkg / "spins.py").write_text("import hopfield\n")
    (pkg / "app").mkdir()
    (pkg / "app" / "__init__.py").write_text("from ..lab import plot\n")  # allowed: on top
    (pkg / "lab" / "cli.py").write_text(
        "from ..app import server\ndef run():\n    from .. import app\n"
    )
    (pkg / "dense.py").write_text("def f():\n    from .app import api\n")
    violations = layer_violations(pkg)
    assert len(violations) == 8
    found = "\n".join(violations)
    assert "network.py:1 imports hopfield.lab.plot: the library imports the lab" in found
    assert "hebbian.py:1 imports hopfield.spins: the reference imports the rest" in found
    assert "hebbian.py:2 imports scipy: the reference depends on NumPy" in found
    assert "dense.py:2 imports hopfield.reference: goes through the face reference/" in found
    assert "dense.py:1" not in found
    assert "plot.py:1 imports hopfield: goes through the face hopfield/__init__.py" in found
    assert "spins.py:1 imports hopfield: goes through the face hopfield/__init__.py" in found
    assert "plot.py:1 imports hopfield.network" not in found
    assert "cli.py:1 imports hopfield.app: only the `hopfield app` command imports" in found
    assert "cli.py:3" not in found  # inside the command's function: allowed
    assert "dense.py:2 imports hopfield.app: only the `hopfield app` command" in found
    assert "app/__init__.py" not in found
    # network <-> lab.plot, and lab.plot -> the face -> network
    assert import_cycles(pkg) == [["hopfield", "hopfield.lab.plot", "hopfield.network"]]
    (pkg / "lab" / "plot.py").write_text("def draw():\n    from .. import network\n")
    assert import_cycles(pkg) == []  # an import inside a function runs later: no cycle


# ---------------------------------------------------------------------------
# the faces


def _public_defs(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
    }


def test_reference_all_lists_every_public_name() -> None:
    """(e) every public function and class of the reference's modules is in
    ``hopfield.reference.__all__`` (of a private module: those of its own
    ``__all__``), and every name listed is there."""
    listed = set(reference.__all__)
    assert len(listed) == len(reference.__all__)
    folder = PACKAGE / "reference"
    modules = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
    assert {p.stem for p in modules} >= {"hebbian", "weights", "dense", "modern", "glauber"}
    for path in modules:
        module = getattr(reference, path.stem)
        names = set(module.__all__)
        if not path.stem.startswith("_"):
            assert _public_defs(path) <= names, path.name
        assert names <= listed, path.name
        for name in names:
            assert getattr(reference, name) is getattr(module, name)
    assert {"modern_update", "modern_energy", "capacity_point", "AsyncResult"} <= listed


def test_hopfield_all_resolves() -> None:
    """(e) every name of ``hopfield.__all__`` is there, and the README's are listed."""
    assert len(set(hopfield.__all__)) == len(hopfield.__all__)
    for name in hopfield.__all__:
        assert getattr(hopfield, name) is not None, name
    readme = {"HopfieldNetwork", "binarize", "to_image", "LETTERS", "letter_patterns", "datasets"}
    assert readme | {"experiments", "theory", "reference", "images"} <= set(hopfield.__all__)
    for name in ("experiments", "theory", "datasets", "images"):
        assert inspect.ismodule(getattr(hopfield, name))
    assert hopfield.experiments is hopfield.lab.experiments


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("old", OLD_PATHS)
def test_old_module_paths_are_the_lab_modules(old: str) -> None:
    """``import hopfield.X`` and ``from hopfield.X import ...`` give the lab module."""
    if old == "plot":
        pytest.importorskip("matplotlib")
    code = f"""
import sys
import hopfield.{old}
from hopfield.{old} import __name__ as real
import hopfield
lab = sys.modules["hopfield.lab.{old}"]
assert hopfield.{old} is lab and sys.modules["hopfield.{old}"] is lab, hopfield.{old}
assert real == lab.__name__ == lab.__spec__.name == "hopfield.lab.{old}"
from hopfield import {old} as again
assert again is lab
"""
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr


def test_import_hopfield_leaves_plot_and_cli_alone() -> None:
    """matplotlib stays optional: ``import hopfield`` imports neither it nor the CLI."""
    code = "import sys, hopfield\n"
    code += "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'hopfield.'))))"
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout
    assert "matplotlib" not in loaded and "plot" not in loaded and "cli" not in loaded
    assert "'hopfield.lab.experiments'" in loaded and "'hopfield.reference.hebbian'" in loaded
