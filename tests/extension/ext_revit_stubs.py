"""The Revit API as the ``pyrevit-stubs-NN`` wheels describe it, read without installing them.

The wheels are downloaded once with pip (``pip download --no-deps``) into a cache folder
(``REVITPYIOT_STUBS_CACHE`` or ``<tmp>/revitpyiot-stubs-cache``), and their ``.pyi`` files are
parsed with ``ast`` straight from the zip: nothing is imported, so the fake Revit API and
any installed stubs stay untouched. The parsed index is cached as JSON beside the wheel.
"""
import ast
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile

# Revit release -> the stubs distribution and the exact version checked.
STUB_PACKAGES = {
    2020: ("pyrevit-stubs-20", "1.0"),
    2021: ("pyrevit-stubs-21", "1.0"),
    2022: ("pyrevit-stubs-22", "1.0"),
    2023: ("pyrevit-stubs-23", "1.0"),
    2024: ("pyrevit-stubs-24", "1.0"),
    2025: ("pyrevit-stubs-25", "1.1"),
    2026: ("pyrevit-stubs-26", "1.0"),
}
INDEX_FORMAT = 5


def cache_dir():
    path = os.environ.get("REVITPYIOT_STUBS_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                    "revitpyiot-stubs-cache")
    os.makedirs(path, exist_ok=True)
    return path


def wheel_path(version):
    name, pinned = STUB_PACKAGES[version]
    pattern = os.path.join(cache_dir(), "{}-{}-*.whl".format(name.replace("-", "_"), pinned))
    found = glob.glob(pattern)
    if not found:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "-q", "-d", cache_dir(), f"{name}=={pinned}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"could not download {name}=={pinned} from PyPI (needed to check the Revit API "
                               f"names):\n{done.stderr}")
        found = glob.glob(pattern)
    return found[0]


class ApiIndex:
    """classes: {qualified module: {class name: {"members": [...], "bases": [...],
    "calls": {method or "__init__": [[min args, max args or -1, [argument types]], ...]}}}}."""

    def __init__(self, classes, pyrevit):
        self.classes = classes
        self.pyrevit = pyrevit          # {module: [top-level names and class members]}
        self.by_name = {}
        for module, members in classes.items():
            for cls_name, info in members.items():
                self.by_name.setdefault(cls_name, []).append((module, info))
        self.all_members = set()
        for module, members in classes.items():
            for info in members.values():
                self.all_members.update(info["members"])
                self.all_members.update(m[4:] for m in info["members"] if m.startswith("add_"))

    def has_class(self, module, name):
        return name in self.classes.get(module, {})

    def members_of(self, name, seen=None):
        """Members of a class (any Autodesk/System module of that name), bases included."""
        seen = seen if seen is not None else set()
        if name in seen:
            return set()
        seen.add(name)
        result = set()
        for _, info in self.by_name.get(name, []):
            result.update(info["members"])
            for base in info["bases"]:
                result.update(self.members_of(base, seen))
        return result

    def call_arities(self, name, method, seen=None):
        """[[min, max, [argument types]], ...] of every overload of ``name.method`` (bases
        included); max -1 for ``*args``. Empty when the stubs list no such method (a property,
        an enum, ...)."""
        seen = seen if seen is not None else set()
        if name in seen:
            return []
        seen.add(name)
        result = []
        for _, info in self.by_name.get(name, []):
            result.extend(info.get("calls", {}).get(method, []))
            if method != "__init__":
                for base in info["bases"]:
                    result.extend(self.call_arities(base, method, seen))
        return result

    def has_member(self, class_name, member):
        members = self.members_of(class_name)
        if member in members or "add_" + member in members:   # .NET events: add_X / remove_X
            return True
        # IronPython spells indexed properties get_X / set_X.
        match = re.match(r"^[gs]et_(\w+)$", member)
        return bool(match and match.group(1) in members)


_COMMENTED_NONE = re.compile(r"^\s+#None = ")


def _class_index(tree, source):
    lines = source.splitlines()
    classes = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        members = set()
        calls = {}
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                members.add(item.name)
                arity = _arity(item)
                if arity is not None:
                    calls.setdefault(item.name, []).append(arity)
            elif isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name):
                        members.add(target.id)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                members.add(item.target.id)
            elif isinstance(item, ast.ClassDef):
                members.add(item.name)
        # Enum members named None are commented out in the stubs ("#None = 0").
        end = getattr(node, "end_lineno", node.lineno)
        if any("#None = " in line and _COMMENTED_NONE.match(line) for line in lines[node.lineno:end]):
            members.add("None")
        bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
        if "None__" in members:
            members.discard("None__")
            members.add("None")
        classes[node.name] = {"members": sorted(members), "bases": [b for b in bases if b], "calls": calls}
    return classes


def _arity(function):
    """[min, max, [argument types]] of the positional arguments a stub method takes (``self``
    excluded: the stubs spell static methods without it), max -1 for ``*args``; None for
    properties."""
    if any(getattr(d, "id", "") == "property" or getattr(d, "attr", "") == "setter"
           for d in function.decorator_list):
        return None
    args = list(function.args.args)
    if args and args[0].arg == "self":
        args = args[1:]
    required = len(args) - len(function.args.defaults)
    types = [ast.unparse(a.annotation) if a.annotation is not None else "" for a in args]
    return [required, -1 if function.args.vararg else len(args), types]


def _module_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.Assign)):
                        names.update([item.name] if isinstance(item, ast.FunctionDef) else
                                     [t.id for t in item.targets if isinstance(t, ast.Name)])
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return sorted(names)


_DEF_NONE = re.compile(r"\bdef None\(")
_ASSIGN_NONE = re.compile(r"^(\s*)None\s*=")
_CLASS_LINE = re.compile(r"^\s*class \w.*:\s*$")


def _repair(source):
    """The generated stubs leave some class bodies empty (no members): give them ``...``.

    Linear in the file's length: the stubs run to tens of thousands of lines, and the index is
    built for seven Revit versions inside one test fixture."""
    lines = source.splitlines()
    out = []
    for i, line in enumerate(lines):
        # Members called None (a keyword) are spelled out in some stubs: rename for ast.
        if "None" in line:
            line = _DEF_NONE.sub("def None__(", line)
            line = _ASSIGN_NONE.sub(r"\1None__ =", line)
        out.append(line)
        if "class " in line and _CLASS_LINE.match(line):
            indent = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            following = lines[j] if j < len(lines) else ""
            if len(following) - len(following.lstrip()) <= indent:
                out.append(" " * (indent + 4) + "...")
    return "\n".join(out) + "\n"


def load(version):
    wheel = wheel_path(version)
    index_file = wheel + ".index.json"
    if os.path.exists(index_file):
        with open(index_file, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("format") == INDEX_FORMAT:
            return ApiIndex(data["classes"], data["pyrevit"])
    classes = {}
    pyrevit = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            is_api = name.startswith("Autodesk/") and name.endswith(".pyi")
            is_system = name.startswith("System/") and name.endswith(".py")
            is_pyrevit = name.startswith("pyrevit/") and name.endswith(".py")
            if not (is_api or is_system or is_pyrevit):
                continue
            source = _repair(archive.read(name).decode("utf-8", "replace"))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")   # the generated docstrings have stray escapes
                    tree = ast.parse(source)
            except SyntaxError as error:
                if not is_api:
                    continue  # a few generated System stubs are not Python; the API ones must be
                raise AssertionError(f"cannot parse {name} in {wheel}: {error}")
            module = name.rsplit(".", 1)[0].replace("/", ".")
            if ".__init___parts." in module:       # System/__init___parts/AppDomain.py -> System
                module = module.split(".__init___parts.")[0] + ".__init__"
            module = module.removesuffix(".__init__")
            if is_pyrevit:
                pyrevit[module] = _module_names(tree)
            else:
                classes.setdefault(module, {}).update(_class_index(tree, source))
    with open(index_file, "w", encoding="utf-8") as handle:
        # dumps, not dump: dump streams through the pure-Python encoder, several times slower
        handle.write(json.dumps({"format": INDEX_FORMAT, "classes": classes, "pyrevit": pyrevit}))
    return ApiIndex(classes, pyrevit)
