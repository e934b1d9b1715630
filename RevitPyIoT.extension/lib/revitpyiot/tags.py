# -*- coding: utf-8 -*-
"""Health tags: shared parameters the extension creates when missing, bound to the exported
categories, and written from HealthRecords and Alerts.

An element that cannot take a value (in a linked model, in a group, owned by another user
of a workshared model, read-only parameter, deleted) is skipped and listed; it never stops
the batch. Runs on Revit's main thread.
"""
from __future__ import absolute_import

import os

from revitpyiot import protocol as P
from revitpyiot import alert_states
from revitpyiot import revit_compat as rc
from revitpyiot import ui
from revitpyiot import extract

GROUP_NAME = u"RevitPyIoT"
SHARED_PARAMETER_FILE = u"RevitPyIoT_shared_parameters.txt"
TXN_BIND = u"RevitPyIoT: create health parameters"
TXN_WRITE = u"RevitPyIoT: write health tags"

TEXT = "text"
NUMBER = "number"
HEALTH_PARAMETERS = (
    (P.PARAM_HEALTH_SCORE, NUMBER),
    (P.PARAM_HEALTH_STATUS, TEXT),
    (P.PARAM_FAILURE_PROBABILITY, NUMBER),
    (P.PARAM_TTF_HOURS, NUMBER),
    (P.PARAM_LAST_ALERT, TEXT),
    (P.PARAM_UPDATED, TEXT),
)

SKIP_LINKED = u"in a linked model (read-only here: tag it in its own model)"
SKIP_MISSING = u"not found in the model (deleted since the export?)"
SKIP_GROUP = u"member of a group (changing it would change every instance)"
SKIP_READ_ONLY = u"parameter '{0}' is read-only"
SKIP_UNBOUND = u"parameter '{0}' is not bound to this category"
SKIP_OWNED = u"owned by {0} (workshared: ask them to relinquish it)"
SKIP_NOT_YOURS = u"not yours (workshared: tagging it would borrow it; make its workset editable to tag it)"
SKIP_OUTDATED = u"changed in the central model: reload latest first"


class TagResult(object):
    def __init__(self):
        self.written = []      # element id ints
        self.skipped = []      # (key, element id or None, reason)
        self.created = []      # parameter names created
        self.bound = []        # parameter names bound or re-bound


def _spec_type(kind):
    return rc.definition_data_type(kind == TEXT)


def shared_parameter_file_path(data_dir):
    return os.path.join(data_dir, SHARED_PARAMETER_FILE)


def ensure_parameters(doc, category_names, data_dir, result=None):
    """Create the health-tag shared parameters when missing and bind them (instance
    binding) to the given categories. Uses our own shared-parameter file and restores
    the user's afterwards."""
    DB = rc._db()
    result = result or TagResult()
    app = doc.Application
    categories = app.Create.NewCategorySet()
    for name in category_names:
        category = rc.category_of(doc, name)
        if category is not None and category.AllowsBoundParameters:
            categories.Insert(category)
    if not os.path.isdir(data_dir):
        os.makedirs(data_dir)
    path = shared_parameter_file_path(data_dir)
    if not os.path.exists(path):
        open(path, "a").close()   # Revit opens an empty file and writes its header itself
    previous = app.SharedParametersFilename
    try:
        app.SharedParametersFilename = path
        definition_file = app.OpenSharedParameterFile()
        group = definition_file.Groups.get_Item(GROUP_NAME) or definition_file.Groups.Create(GROUP_NAME)
        bindings = doc.ParameterBindings
        with rc.transaction(doc, TXN_BIND):
            for name, kind in HEALTH_PARAMETERS:
                definition = group.Definitions.get_Item(name)
                if definition is None:
                    options = DB.ExternalDefinitionCreationOptions(name, _spec_type(kind))
                    options.Description = u"Written by RevitPyIoT from the sidecar's health data."
                    definition = group.Definitions.Create(options)
                    result.created.append(name)
                binding = app.Create.NewInstanceBinding(categories)
                if bindings.Contains(definition):
                    existing = bindings.get_Item(definition)
                    merged = app.Create.NewCategorySet()
                    for category in existing.Categories:
                        merged.Insert(category)
                    for category in categories:
                        merged.Insert(category)
                    bindings.ReInsert(definition, app.Create.NewInstanceBinding(merged))
                else:
                    bindings.Insert(definition, binding)
                result.bound.append(name)
    finally:
        app.SharedParametersFilename = previous or u""
    return result


def parameters_bound(doc):
    """True when every health-tag parameter exists in the document (as a shared parameter)."""
    DB = rc._db()
    names = set(rc.text(e.Name) for e in DB.FilteredElementCollector(doc).OfClass(DB.SharedParameterElement))
    return all(name in names for name, _ in HEALTH_PARAMETERS)


def tag_values(record, alert=None, alerts_known=False):
    """{parameter name: value} for one HealthRecord and its newest active alert. With
    ``alerts_known`` and no active alert, "last alert" is emptied (a cleared or shelved alert
    must not linger there); otherwise it is left as it is."""
    values = {
        P.PARAM_HEALTH_SCORE: float(record.get("health_score", 0.0)),
        P.PARAM_HEALTH_STATUS: record.get("status") or P.STATUS_UNKNOWN,
        P.PARAM_UPDATED: rc.utc_text(record.get("updated_ts") or 0.0),
    }
    if record.get("failure_probability") is not None:
        values[P.PARAM_FAILURE_PROBABILITY] = float(record["failure_probability"])
    if record.get("ttf_hours") is not None:
        values[P.PARAM_TTF_HOURS] = float(record["ttf_hours"])
    if alert is not None:
        values[P.PARAM_LAST_ALERT] = alert_text(alert)
    elif alerts_known:
        values[P.PARAM_LAST_ALERT] = u""
    return values


def alert_text(alert):
    sensor = alert.get("sensor_id")
    return u"{0} {1}: {2}{3} ({4})".format(alert.get("severity", u""), alert.get("state", u""),
                                         (sensor + u": ") if sensor else u"", ui.alert_message(alert),
                                         rc.utc_text(alert.get("updated_ts") or alert.get("raised_ts") or 0))


def _skip_reason(doc, element):
    """Why ``element`` must not be tagged, or None. In a workshared model only elements the user
    already owns (an editable workset, or borrowed by the user) are written: tagging any other
    element would borrow it, so it is skipped and listed, and one another user owns names them."""
    DB = rc._db()
    if rc.is_valid_id(element.GroupId):
        return SKIP_GROUP
    if doc.IsWorkshared:
        status = DB.WorksharingUtils.GetCheckoutStatus(doc, element.Id)
        if status == DB.CheckoutStatus.OwnedByOtherUser:
            owner = DB.WorksharingUtils.GetWorksharingTooltipInfo(doc, element.Id).Owner
            return SKIP_OWNED.format(rc.text(owner) or u"another user")
        if status != DB.CheckoutStatus.OwnedByCurrentUser:
            return SKIP_NOT_YOURS
        updates = DB.WorksharingUtils.GetModelUpdatesStatus(doc, element.Id)
        if updates == DB.ModelUpdatesStatus.UpdatedInCentral:
            return SKIP_OUTDATED
    return None


def write_tags(doc, health_records, alerts=None, result=None, now=None, only_changed=False, name=TXN_WRITE):
    """Write the health tags of every record; one transaction (or the caller's). ``alerts``
    (every alert known, any state; None: unknown) give each element's "last alert": its
    newest active, unshelved one. ``only_changed``: elements whose tags already say the same
    (the update time aside) are left alone, and only changed values are set."""
    result = result or TagResult()
    by_key = alert_states.newest_active_by_element(alerts or [], now)
    with rc.transaction(doc, name):
        for record in health_records:
            key = record["unique_id"]
            link_uid, element_uid = extract.split_key(key)
            if link_uid is not None:
                result.skipped.append((key, record.get("element_id"), SKIP_LINKED))
                continue
            element = doc.GetElement(element_uid)
            if element is None:
                result.skipped.append((key, record.get("element_id"), SKIP_MISSING))
                continue
            element_id = rc.element_id_value(element.Id)
            values = tag_values(record, by_key.get(key), alerts is not None)
            if only_changed:
                values = changed_values(element, values)
                if not values:
                    continue
            reason = _skip_reason(doc, element)
            if reason is None:
                reason = _write_element(element, values)
            if reason is None:
                result.written.append(element_id)
            else:
                result.skipped.append((key, element_id, reason))
    return result


def records_to_write(doc, health_records, alerts, result, now=None):
    """Read-only pre-pass (no transaction): [(element, changed values)] to write.
    Elements that must be skipped go to ``result.skipped``. Also says whether the tag
    parameters are bound already (False: the writer binds them in its own transaction)."""
    by_key = alert_states.newest_active_by_element(alerts or [], now)
    pending = []
    bound = True
    for record in health_records:
        key = record["unique_id"]
        link_uid, element_uid = extract.split_key(key)
        if link_uid is not None:
            continue
        element = doc.GetElement(element_uid)
        if element is None:
            continue
        if element.LookupParameter(P.PARAM_HEALTH_STATUS) is None:
            bound = False
        changed = changed_values(element, tag_values(record, by_key.get(key), alerts is not None))
        if not changed:
            continue
        reason = _skip_reason(doc, element) or _unwritable(element, changed, bound)
        if reason is not None:
            result.skipped.append((key, rc.element_id_value(element.Id), reason))
            continue
        pending.append((element, changed))
    return pending, bound


def write_prepared(doc, pending, result, name=TXN_WRITE):
    """Set the values ``records_to_write`` found (one transaction, or the caller's). An element
    whose parameters were bound only now is re-read: it takes every value then."""
    with rc.transaction(doc, name):
        for element, values in pending:
            reason = _write_element(element, values)
            element_id = rc.element_id_value(element.Id)
            if reason is None:
                result.written.append(element_id)
            else:
                result.skipped.append((element.UniqueId, element_id, reason))
    return result


def _unwritable(element, values, bound):
    """Why a value cannot be set (read-only; not bound once the binding is done), or None."""
    for name in sorted(values):
        param = element.LookupParameter(name)
        if param is None:
            if bound:
                return SKIP_UNBOUND.format(name)
        elif param.IsReadOnly:
            return SKIP_READ_ONLY.format(name)
    return None


def _current(param):
    if param is None or not param.HasValue:
        return None
    DB = rc._db()
    if param.StorageType == DB.StorageType.String:
        return rc.text(param.AsString())
    if param.StorageType == DB.StorageType.Double:
        return float(param.AsDouble())
    return None


def changed_values(element, values):
    """The values that differ from the element's tags; {} when only the update time would
    change (a tag write is a model change: it is not made for a timestamp alone)."""
    changed = {}
    for name, value in values.items():
        current = _current(element.LookupParameter(name))
        if isinstance(value, float) and current is not None and not isinstance(current, type(u"")):
            same = abs(current - value) < 1e-6
        else:
            same = current == value or (current is None and value == u"")   # an empty text has no value
        if not same:
            changed[name] = value
    if list(changed) == [P.PARAM_UPDATED]:
        return {}
    return changed


def _write_element(element, values):
    """Set every value, or none: the element is checked first so a skipped element is never
    left half-tagged. Returns the skip reason, None when all values were set."""
    params = []
    for name, value in sorted(values.items()):
        param = element.LookupParameter(name)
        if param is None:
            return SKIP_UNBOUND.format(name)
        if param.IsReadOnly:
            return SKIP_READ_ONLY.format(name)
        params.append((name, param, value))
    for name, param, value in params:
        try:
            accepted = param.Set(value)
        except Exception as error:  # Revit refuses a value: report it, keep the batch going
            return u"could not set '{0}': {1}".format(name, rc.text(error))
        if accepted is False:
            return u"Revit refused the value of '{0}'".format(name)
    return None
