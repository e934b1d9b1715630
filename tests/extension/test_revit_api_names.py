"""Every Revit API name the extension uses exists in the Revit API stubs of every Revit release
the extension claims (2024, 2025, 2026), and so does every pyRevit name; the fake API used by
the other tests only defines names the real API has.

The extension's code is parsed with ``ast``; nothing of it is imported here. Names are found as:
- attribute chains rooted at ``DB``/``UI`` (the extension's aliases of Autodesk.Revit.DB/UI) or at
  a class imported from Autodesk/System: class, member (bases included; IronPython's ``get_X``
  spelling of indexed properties), nested class members;
- ``getattr(X, "Name")``/``hasattr`` with a literal on such a class (enum members like ``None``);
- any string literal ``OST_*`` (BuiltInCategory) and the literal passed to ``_param_text``
  (BuiltInParameter);
- PascalCase attributes on any other receiver (a .NET member: it must exist on some API class);
- attributes of pyRevit's ``script``, ``forms``, ``revit``, ``output`` and ``HOST_APP``.
"""
import ast
import os
import pathlib
import re

import ext_revit_stubs
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSION = os.path.join(ROOT, "RevitPyIoT.extension")
FAKE = os.path.join(ROOT, "tests", "revit_fake")
VERSIONS = sorted(ext_revit_stubs.STUB_PACKAGES)
MODULE_ALIASES = {"DB": "Autodesk.Revit.DB", "UI": "Autodesk.Revit.UI"}
BIP_FUNCTIONS = {"_param_text": 1}
PYREVIT_RECEIVERS = {"script": ["pyrevit.script"], "forms": ["pyrevit.forms"],
                     "revit": ["pyrevit.revit"], "output": ["pyrevit.output"], "host": ["pyrevit"],
                     "HOST_APP": ["pyrevit"]}

# Names that do not exist in every checked release, each reached only where it does.
VERSION_GATED = {
    ("ElementId", "IntegerValue"): "removed in 2026; revit_compat.element_id_value reads ElementId.Value "
                                   "first and falls back to IntegerValue only before 2024",
}
# Non-Revit PascalCase attributes the extension uses on its own or .NET base objects.
NOT_REVIT = {"Equals"}   # System.Object.Equals (stubs list it per class as well)


def extension_files():
    for dirpath, dirnames, filenames in os.walk(EXTENSION):
        dirnames[:] = [d for d in dirnames if d not in ("tools", "__pycache__")]
        for filename in filenames:
            if filename.endswith(".py"):
                yield os.path.join(dirpath, filename)


class Use:
    def __init__(self, kind, parts, where):
        self.kind = kind        # "class" (module, Class, members...), "member" (name), "bic", "bip", "pyrevit"
        self.parts = parts
        self.where = where

    def __repr__(self):
        return "{}: {} {}".format(self.where, self.kind, ".".join(str(p) for p in self.parts))


def _chain(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return list(reversed(parts)), True
    return list(reversed(parts)), False


def collect_uses(path):
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    tree = ast.parse(source)
    rel = os.path.relpath(path, ROOT)
    modules = dict(MODULE_ALIASES)
    classes = {}
    python_modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                name = alias.asname or alias.name
                if node.module.startswith(("Autodesk", "System")):
                    full = node.module + "." + alias.name
                    if full in ("Autodesk.Revit.DB", "Autodesk.Revit.UI"):
                        modules[name] = full
                    else:
                        classes[name] = (node.module, alias.name)
                elif not node.module.startswith("pyrevit"):
                    python_modules.add(name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                python_modules.add((alias.asname or alias.name).split(".")[0])
    uses = []
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        where = "{}:{}".format(rel, getattr(node, "lineno", "?"))
        if isinstance(node, ast.Attribute) and not isinstance(parents.get(node), ast.Attribute):
            parts, rooted = _chain(node)
            uses.extend(_chain_uses(parts, rooted, modules, classes, python_modules, where))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = node.args
            if node.func.id in ("getattr", "hasattr") and len(args) >= 2 and isinstance(args[1], ast.Constant) \
                    and isinstance(args[1].value, str):
                parts, rooted = _chain(args[0])
                if rooted:
                    uses.extend(_chain_uses(parts + [args[1].value], rooted, modules, classes, python_modules,
                                            where, literal_tail=True))
            if node.func.id in BIP_FUNCTIONS and len(args) > BIP_FUNCTIONS[node.func.id]:
                literal = args[BIP_FUNCTIONS[node.func.id]]
                if isinstance(literal, ast.Constant):
                    uses.append(Use("bip", [literal.value], where))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(r"^OST_\w+$", node.value):
            uses.append(Use("bic", [node.value], where))
    return uses


def _chain_uses(parts, rooted, modules, classes, python_modules, where, literal_tail=False):
    uses = []
    for index, part in enumerate(parts):
        if part in PYREVIT_RECEIVERS and index + 1 < len(parts) and (index > 0 or rooted):
            uses.append(Use("pyrevit", [part, parts[index + 1]], where))
            return uses   # what pyRevit returns is not Revit API
    if not rooted:
        return uses + [Use("member", [p], where) for p in parts if _pascal(p)]
    root = parts[0]
    if root in modules:
        return uses + [Use("class", [modules[root]] + parts[1:], where)]
    if root in classes:
        module, name = classes[root]
        return uses + [Use("class", [module, name] + parts[1:], where)]
    rest = parts[2:] if root in python_modules else parts[1:]
    if literal_tail and not _pascal(parts[-1]):
        rest = rest[:-1]
    return uses + [Use("member", [p], where) for p in rest if _pascal(p)]


def _pascal(name):
    return bool(re.match(r"^[A-Z][a-z0-9]", name)) or bool(re.match(r"^[gs]et_[A-Z]", name))


def check_use(api, use):
    """None when the use exists in ``api``, else why not."""
    if use.kind == "bic":
        return None if api.has_member("BuiltInCategory", use.parts[0]) else "no BuiltInCategory." + use.parts[0]
    if use.kind == "bip":
        return None if api.has_member("BuiltInParameter", use.parts[0]) else "no BuiltInParameter." + use.parts[0]
    if use.kind == "member":
        name = use.parts[0]
        if name in NOT_REVIT or name in api.all_members or name in api.by_name:
            return None
        match = re.match(r"^[gs]et_(\w+)$", name)
        if match and match.group(1) in api.all_members:
            return None
        return "no API class has a member " + name
    if use.kind == "pyrevit":
        receiver, name = use.parts
        for module in PYREVIT_RECEIVERS[receiver]:
            if name in api.pyrevit.get(module, ()):
                return None
        return f"pyRevit's {receiver} has no {name}"
    module, rest = use.parts[0], list(use.parts[1:])
    if not rest:
        return None
    # Walk sub-modules (DB.Mechanical.Space).
    while rest and (module + "." + rest[0]) in api.classes:
        module = module + "." + rest.pop(0)
    if not rest:
        return None
    cls = rest.pop(0)
    if not api.has_class(module, cls):
        return f"no class {module}.{cls}"
    while rest:
        member = rest.pop(0)
        if api.has_member(cls, member):
            if member in api.by_name and not rest:
                return None
            if member in api.by_name:       # nested class, flattened in the stubs (SpecTypeId.String)
                cls = member
                continue
            return None                     # the member's type is unknown: stop here
        if member in api.by_name:
            cls = member
            continue
        if (cls, member) in VERSION_GATED:
            return None
        return f"{cls} has no member {member}"
    return None


@pytest.fixture(scope="module")
def apis():
    return {version: ext_revit_stubs.load(version) for version in VERSIONS}


@pytest.fixture(scope="module")
def uses():
    found = []
    for path in extension_files():
        found.extend(collect_uses(path))
    return found


def test_the_checker_sees_the_extension_api_surface(uses):
    text = {repr(u).split(": ", 1)[1] for u in uses}
    # A few uses we know are there: if these vanish the parser broke, not the code.
    for expected in ("class Autodesk.Revit.DB.FilteredElementCollector",
                     "class Autodesk.Revit.UI.ExternalEvent.Create",
                     "class Autodesk.Revit.DB.BuiltInParameter.VIEW_PHASE",
                     "bic OST_MechanicalControlDevices", "bip ROOM_NAME", "member IsSolidFill",
                     "member IntegerValue", "pyrevit script.get_output"):
        assert expected in text, expected
    assert len(uses) > 150


@pytest.mark.parametrize("version", VERSIONS)
def test_every_api_name_exists_in_the_stubs(apis, uses, version):
    api = apis[version]
    problems = []
    for use in uses:
        if use.kind == "member" and use.parts[0] in [m for (_, m) in VERSION_GATED]:
            continue
        reason = check_use(api, use)
        if reason:
            problems.append(f"{use} -> {reason}")
    assert not problems, f"Revit {version}:\n" + "\n".join(sorted(set(problems)))


def test_version_gates_are_real(apis):
    """Each allow-listed name is missing in some checked release and present in another, and the
    replacement the code prefers exists in all of them."""
    for (cls, member) in VERSION_GATED:
        present = [v for v in VERSIONS if apis[v].has_member(cls, member)]
        assert present and len(present) < len(VERSIONS), (cls, member, present)
    for version in VERSIONS:
        assert apis[version].has_member("ElementId", "Value")


def test_checker_rejects_names_that_do_not_exist(apis):
    api = apis[2025]
    assert check_use(api, Use("class", ["Autodesk.Revit.DB", "BuiltInCategory", "OST_Sensors"], "x"))
    assert check_use(api, Use("bic", ["OST_Sensors"], "x"))
    assert check_use(api, Use("member", ["LookupParamter"], "x"))
    assert check_use(api, Use("class", ["Autodesk.Revit.DB", "View", "SetElementOverride"], "x"))
    assert check_use(api, Use("pyrevit", ["forms", "ask_for_strings"], "x"))
    assert check_use(apis[2026], Use("class", ["Autodesk.Revit.DB", "ElementId", "IntegerValue"], "y")) is None
    assert check_use(api, Use("class", ["Autodesk.Revit.DB", "SpecTypeId", "String", "Text"], "x")) is None


def _fake_public_names():
    """(module, class, member) for every public name the fake Revit API defines."""
    names = []
    for dirpath, _, filenames in os.walk(os.path.join(FAKE, "Autodesk")):
        for filename in filenames:
            if not filename.endswith(".py"):
                continue
            path = os.path.join(dirpath, filename)
            module = os.path.relpath(path, FAKE)[:-3].replace(os.sep, ".").replace(".__init__", "")
            tree = ast.parse(pathlib.Path(path).read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    names.append((module, node.name, None))
                    for item in node.body:
                        member = getattr(item, "name", None)
                        if member is None and isinstance(item, ast.Assign):
                            member = getattr(item.targets[0], "id", None)
                        if member and not member.startswith("_"):
                            names.append((module, node.name, member))
                elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                        getattr(node.value.func, "id", "") == "_enum":
                    cls = node.targets[0].id
                    names.append((module, cls, None))
                    for key in node.value.args[1].keys:
                        names.append((module, cls, key.value))
                elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
                    target = node.targets[0]
                    names.append((module, target.value.id, target.attr))
    return names


def test_the_fake_only_defines_real_api_names(apis):
    api = apis[2025]
    wrong = []
    for module, cls, member in _fake_public_names():
        nested = cls in api.by_name and not member       # SpecTypeId.String: flattened nested class
        in_namespace = api.has_class(module + "." + cls, cls)  # UI.Selection.Selection
        if not (api.has_class(module, cls) or nested or in_namespace or cls in api.by_name):
            wrong.append(f"{module}.{cls}")
        elif member is not None and not (api.has_member(cls, member) or member in api.by_name):
            wrong.append(f"{module}.{cls}.{member}")
    assert not wrong, "the fake defines names the Revit 2025 API does not have:\n" + "\n".join(wrong)
