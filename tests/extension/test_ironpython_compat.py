"""The extension must stay loadable by pyRevit's IronPython 2.7 engine.

vermin checks the language features and standard-library use; a plain scan for
the constructs that are most often slipped in is a second, independent guard.
"""
import ast
import os
import re
import subprocess
import sys
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSION = os.path.join(ROOT, "RevitPyIoT.extension")
SHARED = [os.path.join(ROOT, "shared_schemas", name) for name in ("protocol.py", "paths.py", "units.py")]


def _python_files():
    files = []
    for folder, _dirs, names in os.walk(EXTENSION):
        files.extend(os.path.join(folder, name) for name in names if name.endswith(".py"))
    return sorted(files) + SHARED


def _vermin():
    exe = os.path.join(os.path.dirname(sys.executable), "vermin")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "vermin"]


def test_there_is_code_to_check():
    names = [os.path.basename(path) for path in _python_files()]
    for required in ("msgpack_codec.py", "zmtp.py", "client.py", "protocol.py", "paths.py"):
        assert required in names


def test_vermin_finds_no_python_2_7_violations():
    result = subprocess.run(
        _vermin() + ["--target=2.7-", "--no-tips", "--violations", EXTENSION] + SHARED,
        capture_output=True, text=True, timeout=300, check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, "vermin found IronPython 2.7 violations:\n" + report
    assert "Target versions not met" not in report, report


class _Py3OnlyFinder(ast.NodeVisitor):
    def __init__(self):
        self.problems = []

    def _add(self, node, what):
        self.problems.append(f"line {node.lineno}: {what}")

    def visit_JoinedStr(self, node):
        self._add(node, "f-string")

    def visit_Nonlocal(self, node):
        self._add(node, "nonlocal")

    def visit_AnnAssign(self, node):
        self._add(node, "variable annotation")
        self.generic_visit(node)

    def visit_YieldFrom(self, node):
        self._add(node, "yield from")

    def visit_AsyncFunctionDef(self, node):
        self._add(node, "async def")

    def visit_Await(self, node):
        self._add(node, "await")

    def _check_function(self, node):
        args = node.args
        if node.returns is not None:
            self._add(node, f"return annotation on {node.name}")
        for arg in args.args + args.kwonlyargs + getattr(args, "posonlyargs", []):
            if arg.annotation is not None:
                self._add(node, f"annotation on argument {arg.arg}")
        for arg in (args.vararg, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self._add(node, f"annotation on argument {arg.arg}")
        if args.kwonlyargs:
            self._add(node, f"keyword-only arguments in {node.name}")
        if getattr(args, "posonlyargs", []):
            self._add(node, f"positional-only arguments in {node.name}")
        self.generic_visit(node)

    visit_FunctionDef = _check_function

    def visit_Lambda(self, node):
        if node.args.kwonlyargs:
            self._add(node, "keyword-only arguments in lambda")
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self._add(node, "walrus operator")


F_STRING_PREFIX = re.compile(r"^[rRbBuU]*[fF]")


def _token_f_strings(path):
    """Line numbers of f-string tokens (independent of the AST: works from the raw tokens)."""
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
    lines = []
    with open(path, "rb") as handle:
        for tok in tokenize.tokenize(handle.readline):
            if tok.type == fstring_start or (tok.type == tokenize.STRING and F_STRING_PREFIX.match(tok.string)):
                lines.append(tok.start[0])
    return lines


def test_no_python3_only_syntax():
    problems = []
    for path in _python_files():
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        finder = _Py3OnlyFinder()
        finder.visit(ast.parse(source, filename=path))
        problems.extend(f"{os.path.relpath(path, ROOT)} {p}" for p in finder.problems)
        for number in _token_f_strings(path):
            problems.append(f"{os.path.relpath(path, ROOT)} line {number}: f-string token")
        for number, line in enumerate(source.splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.match(r"\s*nonlocal\s", code):
                problems.append(f"{os.path.relpath(path, ROOT)} line {number}: nonlocal")
    assert problems == []


def test_guard_catches_what_it_should(tmp_path):
    """The AST guard itself works (so the test above cannot pass vacuously)."""
    bad = 'def f(a: int, *, b=1) -> int:\n    x = 1\n    def g():\n        nonlocal x\n    return f"{a}"\n'
    finder = _Py3OnlyFinder()
    finder.visit(ast.parse(bad))
    kinds = " ".join(finder.problems)
    for what in ("f-string", "nonlocal", "return annotation", "annotation on argument", "keyword-only"):
        assert what in kinds
    sample = tmp_path / "sample.py"
    sample.write_text('a = 1\nx = f"{a}"\ny = ">f"\nz = rf"{a}"\n', encoding="utf-8")
    assert _token_f_strings(str(sample)) == [2, 4]


def test_absolute_import_where_modules_could_shadow():
    """Modules named like stdlib/third-party ones must use absolute imports on 2.7."""
    lib = os.path.join(EXTENSION, "lib", "revitpyiot", "transport")
    for name in ("msgpack_codec.py", "zmtp.py", "client.py"):
        with open(os.path.join(lib, name), encoding="utf-8") as handle:
            assert "from __future__ import absolute_import" in handle.read(), name
