"""The product version, read from its one home: ``shared_schemas/protocol.py`` ``__version__``.

Read with ``ast`` instead of importing, so the installer and the release build never execute
project code to learn a string (pyproject.toml reads the same attribute).
"""
from __future__ import annotations

import ast
from pathlib import Path


class VersionError(RuntimeError):
    """``__version__`` is missing or is not a plain string literal."""


def read_version(source_root: Path) -> str:
    protocol = Path(source_root) / "shared_schemas" / "protocol.py"
    tree = ast.parse(protocol.read_text(encoding="utf-8"), filename=str(protocol))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            raise VersionError(f"{protocol}: __version__ is not a string literal")
    raise VersionError(f"{protocol}: no __version__ assignment")
