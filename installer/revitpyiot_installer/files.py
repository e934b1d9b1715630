"""File operations that change nothing when the target already has the right content.

Idempotence is by content: a file whose bytes already match is not rewritten (its mtime stays),
so a repeated install reports "unchanged" and touches nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

SKIPPED_NAMES = ("__pycache__", ".pytest_cache", ".mypy_cache", ".git")
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` (relative paths, sorted), without caches and compiled files."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        for name in sorted(filenames):
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            yield (Path(directory) / name).relative_to(root)


def fingerprint(root: Path, parts: Iterable[str]) -> str:
    """One hash over the named files/folders under ``root``: changes when any byte does."""
    digest = hashlib.sha256()
    for part in parts:
        path = root / part
        if path.is_file():
            digest.update(f"{part}\0{sha256_file(path)}\n".encode())
        elif path.is_dir():
            for relative in tree_files(path):
                digest.update(f"{part}/{relative.as_posix()}\0{sha256_file(path / relative)}\n".encode())
    return digest.hexdigest()


def missing_dirs(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, outermost first."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    return list(reversed(missing))


def write_if_changed(path: Path, data: bytes, dry_run: bool, mode: int = 0) -> str:
    """"created", "updated" or "unchanged"; writes through a temporary file and a rename so a
    crash never leaves half a file."""
    if path.exists():
        if path.read_bytes() == data:
            return "unchanged"
        outcome = "updated"
    else:
        outcome = "created"
    if dry_run:
        return outcome
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".revitpyiot-tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    fd = os.open(temporary, flags, mode or 0o666)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return outcome


def plan_tree_sync(source: Path, target: Path) -> tuple[dict[Path, str], list[Path]]:
    """({relative path: "created"|"updated"} for files to write, relative files unchanged)."""
    writes: dict[Path, str] = {}
    unchanged: list[Path] = []
    for relative in tree_files(source):
        destination = target / relative
        if destination.is_file() and _same_bytes(source / relative, destination):
            unchanged.append(relative)
        else:
            writes[relative] = "updated" if destination.exists() else "created"
    return writes, unchanged


def _same_bytes(first: Path, second: Path) -> bool:
    if first.stat().st_size != second.stat().st_size:
        return False
    return first.read_bytes() == second.read_bytes()


def copy_file(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def remove_tree(path: Path) -> None:
    """Delete a folder tree, clearing read-only bits on the way (Windows refuses otherwise)."""
    def on_error(function, failed_path, _info):  # type: ignore[no-untyped-def]
        os.chmod(failed_path, stat.S_IWRITE)
        function(failed_path)
    shutil.rmtree(path, onerror=on_error)


def remove_empty_dirs(paths: Iterable[Path]) -> list[Path]:
    """Remove the given folders when empty, deepest first; the ones left non-empty."""
    left = []
    for path in sorted(set(paths), key=lambda p: len(p.parts), reverse=True):
        if not path.is_dir():
            continue
        pycache = path / "__pycache__"
        if pycache.is_dir():   # byte code Python compiled from files we installed
            remove_tree(pycache)
        try:
            path.rmdir()
        except OSError:
            left.append(path)
    return left
