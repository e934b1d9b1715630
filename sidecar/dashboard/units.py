"""Display symbols for the UCUM unit codes sensors carry on the wire.

The wire keeps UCUM (``Cel``, ``kW.h``, ``ug/m3``: PROTOCOL.md); people read symbols
(``°C``, ``kWh``, ``µg/m³``). One small table, served to the dashboard page with the
building (``/api/building``'s ``units``) and importable by any other console
(``unit_symbol``). Codes not in the table are shown as they are, which is right for
most of UCUM's plain ones (``Pa``, ``A``, ``L/s``).
"""
from __future__ import annotations

UNIT_SYMBOLS: dict[str, str] = {
    "Cel": "°C", "[degF]": "°F", "K": "K",
    "%": "%", "1": "", "{persons}": "people", "{count}": "", "{ratio}": "",
    "ppm": "ppm", "[ppm]": "ppm", "ppb": "ppb", "[ppb]": "ppb", "ug/m3": "µg/m³", "mg/m3": "mg/m³",
    "mm/s": "mm/s", "m/s": "m/s", "m/s2": "m/s²", "[g]": "g",
    "W": "W", "kW": "kW", "MW": "MW", "W.h": "Wh", "kW.h": "kWh", "MW.h": "MWh",
    "V.A": "VA", "kV.A": "kVA", "V": "V", "A": "A", "Hz": "Hz",
    "Pa": "Pa", "kPa": "kPa", "hPa": "hPa", "bar": "bar", "mbar": "mbar",
    "L/s": "L/s", "L/min": "L/min", "m3": "m³", "m3/h": "m³/h", "m3/s": "m³/s", "L": "L",
    "lx": "lx", "dB": "dB", "dB[A]": "dB(A)",
    "s": "s", "min": "min", "h": "h", "d": "days",
}


def unit_symbol(code: str | None) -> str:
    """``Cel`` -> ``°C``; an unknown code as it is; None -> ``""``."""
    if not code:
        return ""
    return UNIT_SYMBOLS.get(code, code)


def with_unit(value_text: str, code: str | None) -> str:
    """``"19.5"`` + ``Cel`` -> ``"19.5 °C"`` (a space before every symbol, ``%`` too, as SI writes it)."""
    symbol = unit_symbol(code)
    return f"{value_text} {symbol}" if symbol else value_text
