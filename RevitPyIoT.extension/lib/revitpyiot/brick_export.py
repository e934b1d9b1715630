# -*- coding: utf-8 -*-
"""Export Brick: the model as a Brick 1.4 semantic model (Turtle), see docs/onboarding.md.

The extension extracts the BuildingConfig as **Export Sensors** does; the installed sidecar's
CPython writes the Turtle (``python -m sidecar brick export``), since rdflib does not live in
Revit. The BuildingConfig goes through a temporary JSON file that is removed afterwards.

IronPython 2.7-safe (and CPython 3).
"""
from __future__ import absolute_import

import io
import json
import os
import subprocess
import sys
import tempfile

from revitpyiot import launcher

CREATE_NO_WINDOW = 0x08000000   # winbase.h: no console window flashing up over Revit
TIMEOUT_NOTE = u"(this can take a minute on a large model)"


def brick_command(record, building_path, output_path, isolated=True):
    """The argv of the installed sidecar's ``brick export``, or None when it is not installed."""
    if not record or not isinstance(record.get("sidecar"), dict):
        return None
    sidecar = record["sidecar"]
    python = sidecar.get("python") or sidecar.get("pythonw")
    if not python or not os.path.isfile(python):
        return None
    command = [python]
    if isolated:
        command.append("-I")   # Revit's or the user's PYTHONPATH never reach the venv
    return command + ["-m", sidecar.get("module") or "sidecar", "brick", "export", building_path,
                      "--output", output_path]


def write_building(config, path):
    """The BuildingConfig as UTF-8 JSON (ASCII-escaped: IronPython's json is safest that way)."""
    text = json.dumps(config, ensure_ascii=True, sort_keys=True)
    with io.open(path, "w", encoding="utf-8") as handle:
        handle.write(text if not isinstance(text, bytes) else text.decode("utf-8"))


def run_export(command, env=None):
    """Run ``brick export``; returns (exit code, its output as text)."""
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    if sys.platform.startswith("win") or (sys.platform == "cli" and os.name == "nt"):
        kwargs["creationflags"] = CREATE_NO_WINDOW
    if env is not None:
        kwargs["env"] = env
    process = subprocess.Popen(command, **kwargs)
    printed = process.communicate()[0]
    if isinstance(printed, bytes):
        printed = printed.decode("utf-8", "replace")
    return process.returncode, printed


def export_to_file(config, output_path, record, isolated=True, env=None):
    """Write ``config`` as Brick Turtle at ``output_path`` with the installed sidecar.
    Returns (ok, message)."""
    handle, building_path = tempfile.mkstemp(prefix="revitpyiot-brick-", suffix=".json")
    os.close(handle)
    try:
        write_building(config, building_path)
        command = brick_command(record, building_path, output_path, isolated=isolated)
        if command is None:
            return False, (u"The RevitPyIoT sidecar is not installed for this user (no %s with a working "
                           u"interpreter): run the RevitPyIoT installer." % launcher.install_record_path())
        code, printed = run_export(command, env=env)
        if code != 0:
            return False, u"brick export failed (exit %d): %s" % (code, printed.strip())
        return True, printed.strip()
    finally:
        if os.path.exists(building_path):
            os.remove(building_path)


def export_brick(ctx):
    """The button: ask where to save, read the model a few elements per idle call on Revit's
    main thread, write the Turtle with the sidecar's CPython on a worker thread, report on the
    main thread."""
    from revitpyiot import extract, main_thread
    out = ctx.output
    name = u"%s.ttl" % (ctx.doc.Title or u"building")
    target = ctx.forms.save_file(file_ext="ttl", default_name=name)
    if not target:
        return None
    queue = main_thread.MainThreadQueue(on_error=lambda error: out.print_md(
        u"**Export Brick did not complete.** %s" % error))
    steps = extract.export_steps(ctx.doc, ctx.settings, active_view=ctx.uidoc.ActiveView,
                                 revit_version=ctx.revit_version())
    record = launcher.read_install_record()

    def read(result):
        out.print_md(u"Read %d elements from the model; writing the Brick model %s..." % (
            len(result.config["elements"]), TIMEOUT_NOTE))
        queue.background(write, result)

    def write(result):
        try:
            ok, message = export_to_file(result.config, target, record)
        except Exception as error:          # never die silently on the worker
            ok, message = False, u"%s" % error
        queue.post(report, result, ok, message)

    def report(result, ok, message):
        if ok:
            counts = result.counts
            out.print_md(u"## Brick model written to `%s`" % target)
            out.print_md(u"%d equipment, %d sensors, %d levels, %d rooms/spaces. %s" % (
                counts["equipment"], counts["sensors"], counts["levels"], counts["spaces"], message))
        else:
            out.print_md(u"**Export Brick did not complete.** %s" % message)

    queue.run_in_steps(steps, read)
    return True
