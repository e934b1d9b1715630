"""Display symbols for the UCUM unit codes sensors carry on the wire.

The table itself is ``shared_schemas.units`` (one table for the sidecar, the demo console
and the Revit extension, which cannot import the sidecar); this module gives it types for
the sidecar's code. It is served to the dashboard page with the building
(``/api/building``'s ``units``).
"""
from __future__ import annotations

from shared_schemas import units as _shared

UNIT_SYMBOLS: dict[str, str] = _shared.UNIT_SYMBOLS


def unit_symbol(code: str | None) -> str:
    """``Cel`` -> ``°C``; an unknown code as it is; None -> ``""``."""
    return str(_shared.unit_symbol(code))


def with_unit(value_text: str, code: str | None) -> str:
    """``"19.5"`` + ``Cel`` -> ``"19.5 °C"`` (a space before every symbol, ``%`` too, as SI writes it)."""
    return str(_shared.with_unit(value_text, code))


def symbols_in_text(text: str) -> str:
    """``"Office 31.2 Cel > 30 Cel"`` -> ``"Office 31.2 °C > 30 °C"``: codes after numbers as symbols."""
    return str(_shared.symbols_in_text(text))
