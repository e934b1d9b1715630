"""Fake ``pyrevit.output``: records what the extension prints."""


class PyRevitOutputWindow:
    def __init__(self):
        self.entries = []       # (kind, payload)
        self.title = None
        self.closed = False
        self.progress = []      # indeterminate_progress states, in order

    def set_title(self, new_title):
        self.title = new_title

    def print_md(self, md_str):
        self.entries.append(("md", md_str))

    def print_html(self, html_str):
        self.entries.append(("html", html_str))

    def print_table(self, table_data, columns=None, formats=None, title='', last_line_style=''):
        self.entries.append(("table", {"rows": [list(r) for r in table_data], "columns": list(columns or []),
                                       "title": title}))

    def linkify(self, element_ids, title=None):
        ids = element_ids if isinstance(element_ids, (list, tuple)) else [element_ids]
        values = ",".join(str(i.Value) for i in ids)
        return f"<a class=\"elementlink\" data-ids=\"{values}\">{title or values}</a>"

    def indeterminate_progress(self, state):
        self.progress.append(bool(state))

    def close(self):
        self.closed = True

    # test helpers
    def text(self):
        parts = []
        for kind, payload in self.entries:
            if kind == "table":
                parts.append(payload["title"])
                parts.append(" | ".join(payload["columns"]))
                for row in payload["rows"]:
                    parts.append(" | ".join(f"{c}" for c in row))
            else:
                parts.append(payload)
        return "\n".join(parts)

    def tables(self):
        return [payload for kind, payload in self.entries if kind == "table"]


_CURRENT = {"output": PyRevitOutputWindow()}


def get_output():
    return _CURRENT["output"]
