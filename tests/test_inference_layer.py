"""The inference layer imports only the layers below it (io, preprocessing, models, utils,
config), by import statement or by module-name string."""

from __future__ import annotations

import ast
from pathlib import Path

import seizure.inference

ALLOWED = {"inference", "io", "preprocessing", "models", "utils", "config"}


def _seizure_modules(path: Path) -> set[str]:
    """``seizure.*`` modules named in ``path``'s imports and string constants."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(
                w for w in node.value.replace(":", " ").split() if w.startswith("seizure.")
            )
    return {n for n in names if n.startswith("seizure.")}


def test_inference_imports_only_lower_layers():
    folder = Path(seizure.inference.__file__).parent
    files = sorted(folder.glob("*.py"))
    assert len(files) >= 8
    upward = {
        f"{path.name}: {name}"
        for path in files
        for name in _seizure_modules(path)
        if name.split(".")[1] not in ALLOWED
    }
    assert not upward, sorted(upward)
