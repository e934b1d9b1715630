# -*- coding: utf-8 -*-
# ruff: noqa: UP009, UP025  (IronPython 2.7 reads this file: it needs the coding line and u"" for "\u00b0")
"""Display symbols for the UCUM unit codes sensors carry on the wire.

The wire keeps UCUM (``Cel``, ``kW.h``, ``ug/m3``: PROTOCOL.md); people read symbols
(``°C``, ``kWh``, ``µg/m³``). This is the one table, shared by the sidecar (its
dashboard, its alert sentences, the demo console) and the Revit extension, so it must
stay importable by IronPython 2.7 like ``protocol.py``: no f-strings, no type hints,
unicode literals for the symbols. Codes not in the table are shown as they are, which
is right for most of UCUM's plain ones (``Pa``, ``A``, ``L/s``).
"""
import re

UNIT_SYMBOLS = {
    u"Cel": u"\u00b0C", u"[degF]": u"\u00b0F", u"K": u"K",
    u"%": u"%", u"1": u"", u"{persons}": u"people", u"{count}": u"", u"{ratio}": u"",
    u"ppm": u"ppm", u"[ppm]": u"ppm", u"ppb": u"ppb", u"[ppb]": u"ppb",
    u"ug/m3": u"\u00b5g/m\u00b3", u"mg/m3": u"mg/m\u00b3",
    u"mm/s": u"mm/s", u"m/s": u"m/s", u"m/s2": u"m/s\u00b2", u"[g]": u"g",
    u"W": u"W", u"kW": u"kW", u"MW": u"MW", u"W.h": u"Wh", u"kW.h": u"kWh", u"MW.h": u"MWh",
    u"V.A": u"VA", u"kV.A": u"kVA", u"V": u"V", u"A": u"A", u"Hz": u"Hz",
    u"Pa": u"Pa", u"kPa": u"kPa", u"hPa": u"hPa", u"bar": u"bar", u"mbar": u"mbar",
    u"L/s": u"L/s", u"L/min": u"L/min", u"m3": u"m\u00b3", u"m3/h": u"m\u00b3/h", u"m3/s": u"m\u00b3/s",
    u"L": u"L", u"lx": u"lx", u"dB": u"dB", u"dB[A]": u"dB(A)",
    u"s": u"s", u"min": u"min", u"h": u"h", u"d": u"days",
}


def unit_symbol(code):
    """``Cel`` -> ``°C``; an unknown code as it is; None or empty -> ``u""``."""
    if not code:
        return u""
    return UNIT_SYMBOLS.get(code, code)


def with_unit(value_text, code):
    """``"19.5"`` + ``Cel`` -> ``"19.5 °C"`` (a space before every symbol, ``%`` too, as SI writes it)."""
    symbol = unit_symbol(code)
    return value_text + u" " + symbol if symbol else value_text


# The codes whose symbol differs from the code, longest first (``kW.h`` before ``W.h``);
# plain numbers (``1``) are left out: they would hit the numbers themselves.
_REWRITTEN = sorted((code for code, symbol in UNIT_SYMBOLS.items()
                     if symbol != code and not code.isdigit()), key=len, reverse=True)
# A code right after a number and a space, and not the start of a longer word
# ("21.5 Cel", "+0.3 Cel/min", "(820 Cel)"), so that "Cel" in "Cellar" is never touched.
_IN_TEXT = re.compile(u"(\\d) (" + u"|".join(re.escape(code) for code in _REWRITTEN)
                      + u")(?![A-Za-z0-9_\\[{]|\\.[A-Za-z0-9])", re.UNICODE)


def _replace(match):
    symbol = UNIT_SYMBOLS[match.group(2)]
    return match.group(1) + (u" " + symbol if symbol else u"")


def symbols_in_text(text):
    """A sentence with its UCUM codes after numbers shown as symbols: ``"Office 31.2 Cel >
    30 Cel"`` -> ``"Office 31.2 °C > 30 °C"``. For text written with codes (alert messages
    of an older sidecar, stored alerts); text already in symbols comes back unchanged."""
    if not text:
        return text
    return _IN_TEXT.sub(_replace, text)
