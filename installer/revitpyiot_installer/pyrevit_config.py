"""Adding and removing one folder in pyRevit's ``[core] userextensions`` list, touching nothing else.

pyRevit keeps its settings in ``%APPDATA%\\pyRevit\\pyRevit_config.ini``: an INI file whose values
are JSON (pyRevit >= 5 writes lists as ``["C:\\\\a","C:\\\\b"]``) or, in configs written by older
pyRevit versions, Python list literals (``['C:\\\\a', 'C:\\\\b']``); both are still read by pyRevit.
``userextensions`` holds extension *search paths*: folders that contain ``*.extension`` folders.

The edit is textual and minimal: the new item is appended inside the existing brackets in the
list's own quoting style and separator; removal cuts out exactly that item and one separator.
Every other byte of the file (comments, ordering, other keys and sections, line endings, BOM)
is kept. A list this module cannot read is left alone and reported (``ConfigFormatError``),
never rewritten.
"""
from __future__ import annotations

import json
import ntpath
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CORE_SECTION = "core"
JSON_STYLE = '"'
USER_EXTENSIONS_KEY = "userextensions"
EXTENSION_SETTINGS_SECTION = "RevitPyIoT"   # RevitPyIoT.extension/lib/revitpyiot/settings.py

_SECTION_RE = re.compile(r"^\s*\[([^\]]*)\]\s*$")
_KEY_RE = re.compile(r"^(\s*)([^=:\s;#\[][^=:]*?)(\s*[=:]\s*)(.*?)(\s*)$")


class ConfigFormatError(ValueError):
    """The config holds something this module will not edit blindly (it says what and where)."""


@dataclass(frozen=True)
class ListItem:
    start: int          # span of the quoted item inside the value text
    end: int
    value: str          # the decoded path


@dataclass(frozen=True)
class EditResult:
    text: str
    changed: bool
    added_key: bool = False        # the userextensions line did not exist before
    added_section: bool = False    # the [core] section did not exist before


def _key_line(line: str) -> tuple[re.Match[str], str]:
    """A ``key = value`` line split by ``_KEY_RE`` (indent, key, ``=``, value, trailing blanks),
    and its line ending."""
    body = line.rstrip("\r\n")
    match = _KEY_RE.match(body)
    assert match is not None
    return match, line[len(body):]


def _split_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _newline_of(text: str) -> str:
    match = re.search(r"\r\n|\n|\r", text)
    return match.group(0) if match else os.linesep


def _section_span(lines: Sequence[str], name: str) -> tuple[int, int] | None:
    """(header index, index after the section's last line) of the first section ``name``."""
    start = None
    for index, line in enumerate(lines):
        match = _SECTION_RE.match(line.rstrip("\r\n"))
        if not match:
            continue
        if start is not None:
            return start, index
        if match.group(1).strip() == name:
            start = index
    return (start, len(lines)) if start is not None else None


def _find_key(lines: Sequence[str], span: tuple[int, int], key: str) -> int | None:
    for index in range(span[0] + 1, span[1]):
        match = _KEY_RE.match(lines[index].rstrip("\r\n"))
        if match and match.group(2).strip().lower() == key:
            return index
    return None


def parse_list(value: str) -> list[ListItem]:
    """The quoted items of a JSON or Python-literal list of strings, with their spans."""
    text = value
    if not (text.startswith("[") and text.endswith("]")):
        raise ConfigFormatError(f"userextensions is not a [list]: {value!r}")
    items: list[ListItem] = []
    position, end = 1, len(text) - 1
    expect_item = True
    while position < end:
        char = text[position]
        if char.isspace():
            position += 1
        elif char == "," and not expect_item:
            expect_item = True
            position += 1
        elif char == '"' and expect_item:
            item = _read_json_string(text, position, end)
            items.append(item)
            position, expect_item = item.end, False
        elif char == "'" and expect_item:
            item = _read_python_string(text, position, end)
            items.append(item)
            position, expect_item = item.end, False
        else:
            raise ConfigFormatError(
                f"userextensions has unexpected {char!r} at column {position}: {value!r}")
    if expect_item and items:
        raise ConfigFormatError(f"userextensions ends with a comma: {value!r}")
    return items


def _read_json_string(text: str, start: int, end: int) -> ListItem:
    position = start + 1
    while position < end:
        if text[position] == "\\":
            position += 2
        elif text[position] == '"':
            raw = text[start:position + 1]
            try:
                decoded = json.loads(raw)
            except ValueError as error:
                raise ConfigFormatError(f"userextensions item {raw} is not valid JSON: {error}") from None
            return ListItem(start, position + 1, decoded)
        else:
            position += 1
    raise ConfigFormatError(f"userextensions has an unterminated string: {text!r}")


def _read_python_string(text: str, start: int, end: int) -> ListItem:
    # pyRevit's own legacy reader decodes only \\ and \' and treats a quote as closing only
    # when a comma or the end of the list follows: do the same, so both agree on the items.
    position, chars = start + 1, []
    while position < end:
        char = text[position]
        if char == "\\" and position + 1 < end and text[position + 1] in "\\'":
            chars.append(text[position + 1])
            position += 2
        elif char == "'" and text[position + 1:end].lstrip()[:1] in (",", ""):
            return ListItem(start, position + 1, "".join(chars))
        else:
            chars.append(char)
            position += 1
    raise ConfigFormatError(f"userextensions has an unterminated string: {text!r}")


def encode_item(path: str, style: str) -> str:
    if style == "'":
        return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"
    # ensure_ascii=False: IronPython 2.7's eval (older pyRevit) does not decode \u escapes
    # in a plain string literal, so a non-ASCII profile name must stay literal.
    return json.dumps(path, ensure_ascii=False)


def _style_and_separator(value: str, items: Sequence[ListItem]) -> tuple[str, str]:
    style = value[items[0].start] if items else '"'
    if len(items) >= 2:
        separator = value[items[0].end:items[1].start]
    else:
        separator = ", " if style == "'" else ","   # Python repr vs Newtonsoft's JSON
    return style, separator


def same_path(entry: str, target: str, windows: bool, environ: Mapping[str, str]) -> bool:
    """Whether a stored entry points at ``target`` (environment variables expanded, case and
    separators folded on Windows), the way pyRevit decides a path is already registered."""
    return _normalise(entry, windows, environ) == _normalise(target, windows, environ)


def _normalise(path: str, windows: bool, environ: Mapping[str, str]) -> str:
    if windows:
        path = re.sub(r"%([^%]+)%", lambda m: environ.get(m.group(1), m.group(0)), path)
        return ntpath.normcase(ntpath.normpath(path)).rstrip("\\")
    path = re.sub(r"\$\{?(\w+)\}?", lambda m: environ.get(m.group(1), m.group(0)), path)
    return posixpath.normpath(path).rstrip("/") or "/"


def read_user_extensions(text: str) -> list[str]:
    lines = _split_lines(text)
    span = _section_span(lines, CORE_SECTION)
    if span is None:
        return []
    index = _find_key(lines, span, USER_EXTENSIONS_KEY)
    if index is None:
        return []
    match = _KEY_RE.match(lines[index].rstrip("\r\n"))
    assert match is not None
    return [item.value for item in parse_list(match.group(4))]


def add_extension_dir(text: str, path: str, windows: bool,
                      environ: Mapping[str, str]) -> EditResult:
    """``text`` with ``path`` in ``[core] userextensions`` (unchanged when already there)."""
    lines = _split_lines(text)
    newline = _newline_of(text)
    span = _section_span(lines, CORE_SECTION)
    if span is None:
        prefix = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text.strip() else ""
        block = f"[{CORE_SECTION}]{newline}{USER_EXTENSIONS_KEY} = [{encode_item(path, JSON_STYLE)}]{newline}"
        return EditResult(text + prefix + gap + block, True, added_key=True, added_section=True)
    index = _find_key(lines, span, USER_EXTENSIONS_KEY)
    if index is None:
        # After the section's last key line, so comments and blank lines that introduce the
        # next section stay where they are.
        insert_at = span[0] + 1
        for candidate in range(span[0] + 1, span[1]):
            if _KEY_RE.match(lines[candidate].rstrip("\r\n")):
                insert_at = candidate + 1
        if insert_at > 0 and not lines[insert_at - 1].endswith(("\n", "\r")):
            lines[insert_at - 1] += newline
        lines.insert(insert_at, f"{USER_EXTENSIONS_KEY} = [{encode_item(path, JSON_STYLE)}]{newline}")
        return EditResult("".join(lines), True, added_key=True)
    match, ending = _key_line(lines[index])
    value = match.group(4)
    if value == "":
        value = "[]"
    items = parse_list(value)
    if any(same_path(item.value, path, windows, environ) for item in items):
        return EditResult(text, False)
    style, separator = _style_and_separator(value, items)
    closing = value.rstrip()[:-1]
    new_value = closing + (separator if items else "") + encode_item(path, style) + "]"
    lines[index] = match.group(1) + match.group(2) + match.group(3) + new_value + match.group(5) + ending
    return EditResult("".join(lines), True)


def remove_extension_dir(text: str, path: str, windows: bool, environ: Mapping[str, str],
                         drop_empty_key: bool = False, drop_empty_section: bool = False) -> EditResult:
    """``text`` without ``path`` in ``[core] userextensions``; the key line (and the section)
    go too when ``drop_*`` says the installer added them and nothing else is left in them."""
    lines = _split_lines(text)
    span = _section_span(lines, CORE_SECTION)
    if span is None:
        return EditResult(text, False)
    index = _find_key(lines, span, USER_EXTENSIONS_KEY)
    if index is None:
        return EditResult(text, False)
    match, ending = _key_line(lines[index])
    value = match.group(4)
    items = parse_list(value)
    keep = [item for item in items if not same_path(item.value, path, windows, environ)]
    if len(keep) == len(items):
        return EditResult(text, False)
    # Kept items keep their exact text; the list's own separator joins them.
    _, separator = _style_and_separator(value, items)
    new_value = (value[:items[0].start]
                 + separator.join(value[item.start:item.end] for item in keep)
                 + value[items[-1].end:])
    if not keep and drop_empty_key:
        del lines[index]
        if drop_empty_section:
            _drop_section_if_empty(lines, index)
        return EditResult("".join(lines), True)
    lines[index] = match.group(1) + match.group(2) + match.group(3) + new_value + match.group(5) + ending
    return EditResult("".join(lines), True)


def _drop_section_if_empty(lines: list[str], removed_at: int) -> None:
    span = _section_span(lines, CORE_SECTION)
    if span is None:
        return
    if any(line.strip() for line in lines[span[0] + 1:span[1]]):
        return
    del lines[span[0]:span[1]]
    # the blank line the installer put before the section it added
    if span[0] > 0 and not lines[span[0] - 1].strip():
        del lines[span[0] - 1]


def remove_section(text: str, name: str) -> EditResult:
    """``text`` without section ``name`` (``--purge`` drops the extension's own settings)."""
    lines = _split_lines(text)
    span = _section_span(lines, name)
    if span is None:
        return EditResult(text, False)
    last = span[1] == len(lines)
    # The section takes its trailing blank lines along; the blank line before it then separates
    # its neighbours, or, when it was the last section, goes too.
    del lines[span[0]:span[1]]
    if last and span[0] > 0 and not lines[span[0] - 1].strip():
        del lines[span[0] - 1]
    return EditResult("".join(lines), True)


def user_can_extend(text: str) -> bool:
    """False when ``[core] usercanextend`` forbids adding extensions (an admin lock)."""
    lines = _split_lines(text)
    span = _section_span(lines, CORE_SECTION)
    if span is None:
        return True
    index = _find_key(lines, span, "usercanextend")
    if index is None:
        return True
    match = _KEY_RE.match(lines[index].rstrip("\r\n"))
    assert match is not None
    return match.group(4).strip().strip('"').lower() not in ("false", "0", "no")


def decode_config(data: bytes) -> tuple[str, str]:
    """(text, encoding) keeping a UTF-8 BOM; pyRevit writes UTF-8 without one."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # A config saved by an old ANSI-writing tool: keep its bytes round-trippable.
        return data.decode("cp1252", errors="surrogateescape"), "cp1252"


def encode_config(text: str, encoding: str) -> bytes:
    if encoding == "cp1252":
        return text.encode("cp1252", errors="surrogateescape")
    return text.encode(encoding)
