"""Every Revit API name the extension uses exists in the Revit API stubs of every Revit release
the extension claims (2020 to 2026, ``ext_revit_stubs.STUB_PACKAGES``), and so does every pyRevit
name; the fake Revit API used by the other tests only defines names the real API has.

The extension's code is parsed with ``ast``; nothing of it is imported here. Names are found as:
- attribute chains rooted at ``DB``/``UI`` (the extension's aliases of Autodesk.Revit.DB/UI, also
  ``_db()``) or at a class imported from Autodesk/System: class, member (bases included;
  IronPython's ``get_X`` spelling of indexed properties), nested class members;
- calls on such chains (constructors, static methods): some overload takes that many arguments;
- ``getattr(X, "Name")``/``hasattr`` with a literal on such a class (enum members like ``None``);
- any string literal ``OST_*`` (BuiltInCategory) and the literal passed to ``_param_text``
  (BuiltInParameter);
- PascalCase attributes on any other receiver (a .NET member: it must exist on some API class);
- attributes of pyRevit's ``script``, ``forms``, ``revit``, ``output`` and ``HOST_APP``.

Where the API changed between releases, the name is allowed only through ``VERSION_GATES``: each
gate says which releases have the name and the one place in the extension that may use it (the
function that tries it and falls back); ``test_version_gates_are_real`` checks the release range
against the stubs and that the gated name is used nowhere else.
"""
import ast
import os
import pathlib
import re

import ext_revit_stubs
import pytest

# On a fresh machine the first test here downloads seven stub wheels and indexes them (about 6 s a
# version on this 2-core machine, parsing ~2,400 stub files each); the suite-wide 120 s timeout is
# for hangs, not for that. Once indexed, the module runs in seconds.
pytestmark = pytest.mark.timeout(900)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSION = os.path.join(ROOT, "RevitPyIoT.extension")
FAKE = os.path.join(ROOT, "tests", "revit_fake")
VERSIONS = sorted(ext_revit_stubs.STUB_PACKAGES)
MODULE_ALIASES = {"DB": "Autodesk.Revit.DB", "UI": "Autodesk.Revit.UI"}
BIP_FUNCTIONS = {"_param_text": 1}
PYREVIT_RECEIVERS = {"script": ["pyrevit.script"], "forms": ["pyrevit.forms"],
                     "revit": ["pyrevit.revit"], "output": ["pyrevit.output"], "host": ["pyrevit"],
                     "HOST_APP": ["pyrevit"]}

COMPAT = "revitpyiot/revit_compat.py"
# Namespaces under Autodesk.Revit.DB/UI the extension reaches by attribute (DB.Mechanical.Space).
SUB_NAMESPACES = {"Architecture", "Electrical", "Mechanical", "Plumbing", "Structure", "Analysis",
                  "Selection", "Events"}


class Gate:
    """A Revit API name that only some releases have, and where the extension may use it.

    ``name`` is dotted from the class (``ElementId.Value``, ``SpecTypeId``,
    ``BuiltInCategory.OST_PlumbingEquipment``), or ``Class.Method(Type, ...)`` for one overload
    of a method (every call of that method is then held to ``used_in``). ``present`` is exactly the checked releases that have it. ``used_in`` lists the
    places allowed to use it: ``"file::function"`` or ``"file"`` (paths under lib/).
    """

    def __init__(self, name, present, used_in, reason):
        self.name = name
        self.present = tuple(present)
        self.used_in = tuple(used_in)
        self.reason = reason

    def covers(self, dotted):
        name = self.name.split("(")[0]
        dotted = dotted.split("(")[0]
        return dotted == name or dotted.startswith(name + ".")

    def allows(self, use):
        rel = use.where.rsplit(":", 1)[0].replace(os.sep, "/")
        for place in self.used_in:
            path, _, function = place.partition("::")
            if rel.endswith("/lib/" + path) and (not function or use.function == function):
                return True
        return False

    @property
    def member(self):
        """The gated member name when it is one member of one class (``ElementId.Value``)."""
        parts = self.name.split(".")
        if len(parts) == 2 and "(" not in self.name and parts[0] != "BuiltInCategory":
            return parts[1]
        return None


def _since(first, last=2026):
    return range(first, last + 1)


VERSION_GATES = [
    Gate("ElementId.Value", _since(2024), [COMPAT + "::element_id_value"],
         "64-bit id from 2024; tried first, AttributeError falls back to IntegerValue"),
    Gate("ElementId.IntegerValue", _since(2020, 2025), [COMPAT + "::element_id_value"],
         "removed in 2026; reached only when ElementId.Value is missing (before 2024)"),
    Gate("Category.BuiltInCategory", _since(2023), [COMPAT + "::category_bic_name"],
         "new in 2023; before, AttributeError falls back to matching the category id value"),
    Gate("BuiltInCategory.OST_PlumbingEquipment", _since(2023),
         ["revitpyiot/settings.py", COMPAT + "::built_in_category"],
         "category new in 2023; a default setting resolved only through built_in_category "
         "(getattr with default None): export skips it with a missing-category warning"),
    Gate("BuiltInCategory.OST_MechanicalControlDevices", _since(2023),
         ["revitpyiot/settings.py", COMPAT + "::built_in_category"],
         "category new in 2023; same path as OST_PlumbingEquipment"),
    Gate("Parameter.GetUnitTypeId", _since(2021), [COMPAT + "::parameter_unit"],
         "ForgeTypeId units from 2021; AttributeError falls back to DisplayUnitType"),
    Gate("Parameter.DisplayUnitType", _since(2020, 2021), [COMPAT + "::parameter_unit"],
         "removed in 2022; reached only when GetUnitTypeId is missing (2020)"),
    Gate("SpecTypeId", _since(2021), [COMPAT + "::definition_data_type"],
         "new in 2021; looked up with getattr(DB, 'SpecTypeId', None)"),
    Gate("SpecTypeId.String.Text", _since(2022), [COMPAT + "::definition_data_type"],
         "text spec (and the ForgeTypeId ExternalDefinitionCreationOptions constructor) from 2022; "
         "hasattr-checked, else ParameterType"),
    Gate("ParameterType", _since(2020, 2022), [COMPAT + "::definition_data_type"],
         "removed in 2023; used only when SpecTypeId.String.Text is missing (before 2022)"),
    Gate("ParameterFilterRuleFactory.CreateEqualsRule(ElementId, str)", _since(2023),
         [COMPAT + "::string_equals_rule"],
         "new in 2023 and the only string overload in 2026; tried first"),
    Gate("ParameterFilterRuleFactory.CreateEqualsRule(ElementId, str, bool)", _since(2020, 2025),
         [COMPAT + "::string_equals_rule"],
         "removed in 2026; reached only when the two-argument call raises TypeError (before 2023)"),
    # The live overlay (issue 14): in-canvas images from 2022, AVF markers before (live_overlay.py).
    Gate("TemporaryGraphicsManager", _since(2022), [COMPAT + "::temporary_graphics_manager"],
         "new in 2022; getattr(DB, 'TemporaryGraphicsManager', None): None selects the AVF markers"),
    Gate("TemporaryGraphicsManager.GetTemporaryGraphicsManager", _since(2022),
         [COMPAT + "::temporary_graphics_manager"], "reached only when the class exists (2022+)"),
    Gate("InCanvasControlData", _since(2022), [COMPAT + "::in_canvas_control"],
         "new in 2022; built only for a TemporaryGraphicsManager (TemporaryMarkers)"),
    Gate("TemporaryGraphicsManager.AddControl", _since(2022), ["revitpyiot/live_overlay.py::show"],
         "TemporaryMarkers.show, only constructed with a manager from temporary_graphics_manager"),
    Gate("TemporaryGraphicsManager.UpdateControl", _since(2022), ["revitpyiot/live_overlay.py::show"],
         "TemporaryMarkers.show, as AddControl"),
    Gate("TemporaryGraphicsManager.RemoveControl", _since(2022), ["revitpyiot/live_overlay.py::remove"],
         "TemporaryMarkers.remove, as AddControl"),
]

# Non-Revit PascalCase attributes the extension uses on its own or .NET base objects.
NOT_REVIT = {"Equals"}   # System.Object.Equals (stubs list it per class as well)


def extension_files():
    for dirpath, dirnames, filenames in os.walk(EXTENSION):
        dirnames[:] = [d for d in dirnames if d not in ("tools", "__pycache__")]
        for filename in filenames:
            if filename.endswith(".py"):
                yield os.path.join(dirpath, filename)


class Use:
    def __init__(self, kind, parts, where, function=None, nargs=None):
        # "class" (module, Class, members...), "call" (the same, called with nargs arguments),
        # "member" (name), "bic", "bip", "pyrevit"
        self.kind = kind
        self.parts = parts
        self.where = where
        self.function = function    # the enclosing function's name, None at module level
        self.nargs = nargs

    def dotted(self):
        """The name from the class on (what VERSION_GATES are written in)."""
        if self.kind == "bic":
            return "BuiltInCategory." + self.parts[0]
        if self.kind == "bip":
            return "BuiltInParameter." + self.parts[0]
        if self.kind in ("class", "call"):
            names = list(self.parts[1:])
            while names[:1] and names[0] in SUB_NAMESPACES:
                names.pop(0)
            text = ".".join(names)
            return text + f"({self.nargs})" if self.kind == "call" else text
        return ".".join(str(p) for p in self.parts)

    def __repr__(self):
        text = "{}: {} {}".format(self.where, self.kind, ".".join(str(p) for p in self.parts))
        return text + f"({self.nargs} args)" if self.kind == "call" else text


def _chain(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return list(reversed(parts)), True
    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "_db":
        parts.append("DB")             # revit_compat._db() returns Autodesk.Revit.DB
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
    found = []
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        where = "{}:{}".format(rel, getattr(node, "lineno", "?"))
        uses = []
        if isinstance(node, ast.Attribute) and not isinstance(parents.get(node), ast.Attribute):
            parts, rooted = _chain(node)
            uses.extend(_chain_uses(parts, rooted, modules, classes, python_modules, where))
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)) \
                and not any(isinstance(a, ast.Starred) for a in node.args):
            parts, rooted = _chain(node.func)
            called = _chain_uses(parts, rooted, modules, classes, python_modules, where) if rooted else []
            for use in called:
                if use.kind == "class":
                    uses.append(Use("call", use.parts, where, nargs=len(node.args) + len(node.keywords)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
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
        function = _enclosing_function(node, parents)
        for use in uses:
            use.function = function
        found.extend(uses)
    return found


def _enclosing_function(node, parents):
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name
    return None


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
    if use.kind == "call":
        return _check_call(api, use)
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
        return f"{cls} has no member {member}"
    return None


def _check_call(api, use):
    """A constructor or static method call: some overload takes ``use.nargs`` arguments."""
    module, rest = use.parts[0], list(use.parts[1:])
    while rest and (module + "." + rest[0]) in api.classes:
        module = module + "." + rest.pop(0)
    if not rest:
        return None
    cls, method = (rest[0], "__init__") if len(rest) == 1 else (rest[-2], rest[-1])
    arities = api.call_arities(cls, method)
    if not arities:
        return None          # a property, an enum value, a delegate: nothing to count
    for low, high, _ in arities:
        if low <= use.nargs and (high == -1 or use.nargs <= high):
            return None
    shown = ["({})".format(", ".join(types)) for _, _, types in arities]
    return "no overload of {}.{} takes {} arguments: {}".format(cls, method, use.nargs, " ".join(shown))


def gate_present(api, name):
    """Whether the release ``api`` describes has the gated name (see ``Gate``)."""
    call = re.match(r"^(\w+)\.(\w+)\((.*)\)$", name)
    if call:
        cls, method, types = call.group(1), call.group(2), [t.strip() for t in call.group(3).split(",")]
        return any(overload[2] == types for overload in api.call_arities(cls, method))
    parts = name.split(".")
    if parts[0] not in api.by_name:
        return False
    cls = parts[0]
    for index, member in enumerate(parts[1:], start=1):
        if api.has_member(cls, member):
            cls = member
        elif member in api.by_name and index < len(parts) - 1:
            cls = member        # a nested class the stubs flatten (SpecTypeId.String)
        else:
            return False
    return True


def gate_problem(use, version):
    """None when ``use`` is allowed by a version gate (or needs none), else why not."""
    dotted = use.dotted()
    for gate in VERSION_GATES:
        by_name = gate.covers(dotted)
        by_member = gate.member is not None and use.kind == "member" and use.parts[0] == gate.member
        if not (by_name or by_member):
            continue
        if not gate.allows(use):
            return "{} is version-gated (Revit {}-{} only) and may only be used in {}".format(
                gate.name, gate.present[0], gate.present[-1], ", ".join(gate.used_in))
        if version not in gate.present or by_member or "(" in gate.name:
            return None
    return "missing"


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
                     "member IntegerValue", "pyrevit script.get_output",
                     "class Autodesk.Revit.DB.Analysis.SpatialFieldManager.CreateSpatialFieldManager",
                     "class Autodesk.Revit.DB.Analysis.AnalysisDisplayStyle.CreateAnalysisDisplayStyle",
                     "class Autodesk.Revit.DB.Analysis.FieldDomainPointsByUV",
                     "class Autodesk.Revit.DB.SpatialElementGeometryCalculator",
                     "class Autodesk.Revit.DB.TemporaryGraphicsManager", "member UpdateSpatialFieldPrimitive",
                     "member AddControl", "class Autodesk.Revit.DB.ViewDuplicateOption.Duplicate"):
        assert expected in text, expected
    assert len(uses) > 150


@pytest.mark.parametrize("version", VERSIONS)
def test_every_api_name_exists_in_the_stubs(apis, uses, version):
    api = apis[version]
    problems = []
    for use in uses:
        reason = check_use(api, use)
        gated = gate_problem(use, version)
        if gated != "missing" and gated is not None:
            problems.append(f"{use} -> {gated}")
        elif reason and gated is not None:
            problems.append(f"{use} -> {reason}")
    assert not problems, f"Revit {version}:\n" + "\n".join(sorted(set(problems)))


def test_version_gates_are_real(apis, uses):
    """Each gate's release range is exactly what the stubs say (so it is missing in some checked
    release), it is used, and only in the places it names, each of which exists."""
    functions = {}
    for path in extension_files():
        rel = os.path.relpath(path, os.path.join(EXTENSION, "lib")).replace(os.sep, "/")
        tree = ast.parse(pathlib.Path(path).read_text(encoding="utf-8"))
        functions[rel] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for gate in VERSION_GATES:
        present = tuple(v for v in VERSIONS if gate_present(apis[v], gate.name))
        assert present == gate.present, (gate.name, "stubs have it in", present)
        assert len(present) < len(VERSIONS), (gate.name, "is in every release: not a gate")
        for place in gate.used_in:
            path, _, function = place.partition("::")
            assert path in functions and (not function or function in functions[path]), place
        using = [u for u in uses if gate.covers(u.dotted())
                 or (gate.member is not None and u.kind == "member" and u.parts[0] == gate.member)]
        assert using, (gate.name, "is not used any more: drop the gate")
        assert all(gate.allows(u) for u in using), [u for u in using if not gate.allows(u)]


def test_checker_rejects_names_that_do_not_exist(apis):
    api = apis[2025]
    assert check_use(api, Use("class", ["Autodesk.Revit.DB", "BuiltInCategory", "OST_Sensors"], "x"))
    assert check_use(api, Use("bic", ["OST_Sensors"], "x"))
    assert check_use(api, Use("member", ["LookupParamter"], "x"))
    assert check_use(api, Use("class", ["Autodesk.Revit.DB", "View", "SetElementOverride"], "x"))
    assert check_use(api, Use("pyrevit", ["forms", "ask_for_strings"], "x"))
    assert check_use(apis[2026], Use("class", ["Autodesk.Revit.DB", "ElementId", "IntegerValue"], "y"))
    assert check_use(apis[2026], Use("call", ["Autodesk.Revit.DB", "ParameterFilterRuleFactory",
                                              "CreateEqualsRule"], "x", nargs=4))
    assert not gate_present(apis[2022], "ParameterFilterRuleFactory.CreateEqualsRule(ElementId, str)")
    assert check_use(api, Use("call", ["Autodesk.Revit.DB", "Color"], "x", nargs=2))
    assert check_use(api, Use("call", ["Autodesk.Revit.DB", "Color"], "x", nargs=3)) is None
    outside = Use("member", ["IntegerValue"], "RevitPyIoT.extension/lib/revitpyiot/extract.py:1", "f")
    assert gate_problem(outside, 2023) not in (None, "missing")
    inside = Use("member", ["IntegerValue"], "RevitPyIoT.extension/lib/revitpyiot/revit_compat.py:1",
                 "element_id_value")
    assert gate_problem(inside, 2026) is None
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
