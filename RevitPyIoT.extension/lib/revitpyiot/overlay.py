# -*- coding: utf-8 -*-
"""Colour elements in a view by health status, clear them again, and the legend.

Element overrides: solid fill (surface and cut) in the status colour plus projection and
cut lines, so it reads in plans, sections and 3D. A view controlled by a view template
refuses element overrides: there the colouring goes through one view filter per status on
the ``IoT Health Status`` parameter, applied to the template (or a clear message, as the
user chooses in Settings). Runs on Revit's main thread.
"""
from __future__ import absolute_import

from revitpyiot import protocol as P
from revitpyiot import revit_compat as rc
from revitpyiot import extract

FILTER_PREFIX = u"RevitPyIoT health: "
TXN_COLOUR = u"RevitPyIoT: colour by health"
TXN_CLEAR = u"RevitPyIoT: clear health colours"

MODE_ELEMENTS = "elements"
MODE_FILTERS = "filters"
MODE_REFUSED = "refused"


class OverlayResult(object):
    def __init__(self, mode, view_name):
        self.mode = mode
        self.view_name = view_name
        self.coloured = {}          # status -> [element id int]
        self.linked = []            # keys of elements in links (cannot be overridden one by one)
        self.missing = []           # keys not found in the model any more
        self.message = u""
        self.template_name = None

    def count(self):
        return sum(len(ids) for ids in self.coloured.values())


def refusal_reason(view):
    """Why this view cannot be coloured at all, or None."""
    if view is None:
        return u"There is no active view."
    if view.IsTemplate:
        return u"'{0}' is a view template: open a view that uses it instead.".format(rc.text(view.Name))
    if not view.AreGraphicsOverridesAllowed():
        return (u"'{0}' cannot show graphic overrides (schedules, sheets and legends cannot be coloured): "
                u"open a plan, section, elevation or 3D view.".format(rc.text(view.Name)))
    return None


def has_template(view):
    return rc.is_valid_id(view.ViewTemplateId)


def build_overrides(rgb, solid_fill_id):
    DB = rc._db()
    colour = rc.make_colour(rgb)
    settings = DB.OverrideGraphicSettings()
    if solid_fill_id is not None:
        settings.SetSurfaceForegroundPatternId(solid_fill_id)
        settings.SetSurfaceForegroundPatternColor(colour)
        settings.SetCutForegroundPatternId(solid_fill_id)
        settings.SetCutForegroundPatternColor(colour)
    settings.SetProjectionLineColor(colour)
    settings.SetCutLineColor(colour)
    return settings


def colour_view(doc, view, health_records, settings, template_mode=None):
    """Colour ``view`` by the statuses in ``health_records`` ([HealthRecord]).

    Opens its own transaction unless the caller already holds one (live sync).
    """
    result = OverlayResult(MODE_ELEMENTS, rc.text(view.Name) if view is not None else u"")
    reason = refusal_reason(view)
    if reason:
        result.mode = MODE_REFUSED
        result.message = reason
        return result
    template_mode = template_mode or settings.template_mode
    if has_template(view):
        template = doc.GetElement(view.ViewTemplateId)
        result.template_name = rc.text(template.Name) if template is not None else None
        if template_mode != "filters":
            result.mode = MODE_REFUSED
            result.message = (u"View '{0}' is controlled by the view template '{1}', which does not allow "
                              u"element colours. Remove the template from the view, or choose 'filters' in "
                              u"Settings to colour through view filters on '{2}' (after Write Health Tags)."
                              .format(result.view_name, result.template_name, P.PARAM_HEALTH_STATUS))
            return result
        return _colour_with_filters(doc, view, template, health_records, settings, result)

    solid = rc.find_solid_fill_pattern_id(doc)
    overrides = {}
    for status in P.HEALTH_STATUSES:
        overrides[status] = build_overrides(settings.status_colour(status), solid)
    with rc.transaction(doc, TXN_COLOUR):
        for record in health_records:
            status = record.get("status") or P.STATUS_UNKNOWN
            element = resolve(doc, record["unique_id"], result)
            if element is None:
                continue
            view.SetElementOverrides(element.Id, overrides.get(status, overrides[P.STATUS_UNKNOWN]))
            result.coloured.setdefault(status, []).append(rc.element_id_value(element.Id))
    return result


def resolve(doc, key, result=None):
    """The host-model element for an exported key, or None (recorded in ``result``)."""
    link_uid, element_uid = extract.split_key(key)
    if link_uid is not None:
        if result is not None:
            result.linked.append(key)
        return None
    element = doc.GetElement(element_uid)
    if element is None and result is not None:
        result.missing.append(key)
    return element


def _is_ours(overrides, colours):
    """True when an element's overrides carry one of our status colours as line colour: Clear
    Colours then resets only what Colour by Health set, never the user's own overrides."""
    colour = overrides.ProjectionLineColor
    if colour is None or not colour.IsValid:
        return False
    return (colour.Red, colour.Green, colour.Blue) in colours


def clear_view(doc, view, settings):
    """Remove our element overrides and our view filters (from the view or its template).
    Returns the number of elements reset. Needs no sidecar: it reads the view itself."""
    if refusal_reason(view):
        return 0
    DB = rc._db()
    colours = set(tuple(int(c) for c in rgb) for rgb in settings.colours().values())
    reset = 0
    with rc.transaction(doc, TXN_CLEAR):
        target = view
        if has_template(view):
            target = doc.GetElement(view.ViewTemplateId)
        else:
            blank = DB.OverrideGraphicSettings()
            # Every element of the model, not only those the view shows: Colour by Health and live
            # sync may have coloured elements on other levels (overrides stay with the view).
            collector = DB.FilteredElementCollector(doc).WhereElementIsNotElementType()
            for element in collector:
                if _is_ours(view.GetElementOverrides(element.Id), colours):
                    view.SetElementOverrides(element.Id, blank)
                    reset += 1
        for filter_id in list(target.GetFilters()):
            filter_element = doc.GetElement(filter_id)
            if filter_element is not None and rc.text(filter_element.Name).startswith(FILTER_PREFIX):
                target.RemoveFilter(filter_id)
    return reset


def health_status_parameter_id(doc):
    """The id of the shared parameter ``IoT Health Status`` in this document, or None."""
    DB = rc._db()
    for shared in DB.FilteredElementCollector(doc).OfClass(DB.SharedParameterElement):
        if rc.text(shared.Name) == P.PARAM_HEALTH_STATUS:
            return shared.Id
    return None


def _filter_categories(doc, settings):
    ids = []
    for name in list(settings.equipment_categories) + list(settings.sensor_categories):
        category = rc.category_of(doc, name)
        if category is not None and category.AllowsBoundParameters:
            ids.append(category.Id)
    return ids


def _colour_with_filters(doc, view, template, health_records, settings, result):
    DB = rc._db()
    param_id = health_status_parameter_id(doc)
    if param_id is None:
        result.mode = MODE_REFUSED
        result.message = (u"View '{0}' uses the template '{1}'. Colouring it needs view filters on the "
                          u"'{2}' parameter, which this model does not have yet: run Write Health Tags "
                          u"first.".format(result.view_name, result.template_name, P.PARAM_HEALTH_STATUS))
        return result
    target = template if template is not None else view
    solid = rc.find_solid_fill_pattern_id(doc)
    existing = {}
    for filter_element in DB.FilteredElementCollector(doc).OfClass(DB.ParameterFilterElement):
        existing[rc.text(filter_element.Name)] = filter_element
    category_ids = rc.id_list(_filter_categories(doc, settings))
    with rc.transaction(doc, TXN_COLOUR):
        for status in P.HEALTH_STATUSES:
            name = FILTER_PREFIX + status
            rule = rc.string_equals_rule(param_id, status)
            element_filter = DB.ElementParameterFilter(rule)
            filter_element = existing.get(name)
            if filter_element is None:
                filter_element = DB.ParameterFilterElement.Create(doc, name, category_ids, element_filter)
            else:
                filter_element.SetCategories(category_ids)
                filter_element.SetElementFilter(element_filter)
            if not target.IsFilterApplied(filter_element.Id):
                target.AddFilter(filter_element.Id)
            target.SetFilterOverrides(filter_element.Id, build_overrides(settings.status_colour(status), solid))
    result.mode = MODE_FILTERS
    for record in health_records:
        status = record.get("status") or P.STATUS_UNKNOWN
        element = resolve(doc, record["unique_id"], result)
        if element is not None:
            result.coloured.setdefault(status, []).append(rc.element_id_value(element.Id))
    result.message = (u"View '{0}' uses the template '{1}': coloured through view filters on '{2}', applied "
                      u"to the template (every view using it shows them). Colours follow the tags written by "
                      u"Write Health Tags or Live Sync.".format(result.view_name, result.template_name,
                                                              P.PARAM_HEALTH_STATUS))
    return result


def legend_html(settings, counts=None):
    """An HTML legend: one swatch per status with its meaning and count."""
    meanings = {
        P.STATUS_OK: u"healthy",
        P.STATUS_WATCH: u"drifting, no action yet",
        P.STATUS_WARNING: u"act soon",
        P.STATUS_CRITICAL: u"act now",
        P.STATUS_UNKNOWN: u"no or stale data",
    }
    rows = []
    for status in P.HEALTH_STATUSES:
        rgb = settings.status_colour(status)
        count = u"" if counts is None else u" ({0})".format(counts.get(status, 0))
        rows.append(u"<div><span style=\"display:inline-block;width:14px;height:14px;margin-right:6px;"
                    u"background:rgb({0},{1},{2});border:1px solid #444\"></span><b>{3}</b> {4}{5}</div>"
                    .format(rgb[0], rgb[1], rgb[2], status, meanings[status], count))
    return u"".join(rows)
