"""Pictures for docs/extension.md, rendered from the fake model's state with Pillow.

``python tests/extension/ext_render.py`` runs the walkthrough (fake Revit, real sidecar) and
writes docs/img/extension-*.png; the test ``test_ext_render`` runs the same code into a temp dir.
"""
import os
import sys

from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCALE = 2.2            # pixels per foot
MARGIN = 40
GREY = (190, 190, 190)
INK = (40, 52, 66)


def _font(size):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _colour_of(view, element):
    colour = view._effective_overrides(element).ProjectionLineColor
    return (colour.Red, colour.Green, colour.Blue) if colour.IsValid else None


def render_plan(building, view, level_index, path, title, linked_status=None):
    """Level ``level_index`` of the host and the annex, elements drawn in the colour the view
    shows them (grey when not coloured). ``linked_status``: {element: rgb} for the annex, which
    Revit cannot colour per element (drawn hatched)."""
    import ext_building
    ox, oy, _ = ext_building.LINK_OFFSET_FT
    width = int((ox + 20) * SCALE) + 2 * MARGIN
    height = int((ext_building.COLS * ext_building.ROOM_FT + oy + 20) * SCALE) + 2 * MARGIN + 60
    image = Image.new("RGB", (width, height), (250, 250, 248))
    d = ImageDraw.Draw(image)
    font, small = _font(16), _font(10)

    def px(x, y):
        return MARGIN + x * SCALE, height - MARGIN - 40 - (y + 20) * SCALE

    level = building.levels[level_index]
    for room in building.rooms:
        if room.LevelId != level.Id:
            continue
        a, b = px(room._min.X, room._min.Y), px(room._max.X, room._max.Y)
        d.rectangle([a[0], b[1], b[0], a[1]], outline=(120, 120, 120), width=1)
        d.text((a[0] + 3, b[1] + 3), room.Number, fill=(110, 110, 110), font=small)
    for element in building.equipment + building.sensors:
        if element.LevelId != level.Id or element.Location is None:
            continue
        p = element.Location.Point
        x, y = px(p.X, p.Y)
        colour = _colour_of(view, element) or GREY
        r = 6 if element in building.equipment else 3.5
        shape = d.rectangle if element in building.equipment else d.ellipse
        shape([x - r, y - r, x + r, y + r], fill=colour, outline=INK)
    # The linked annex, transformed into project coordinates.
    transform = building.link.GetTotalTransform()
    for room in building.linked.rooms:
        if room.LevelId != building.link_doc.GetElement(room.LevelId).Id or room._min.Z > level.Elevation + 1:
            continue
        corners = [transform.OfPoint(c) for c in (room._min, type(room._min)(room._max.X, room._min.Y, 0),
                                                  room._max, type(room._min)(room._min.X, room._max.Y, 0))]
        d.polygon([px(c.X, c.Y) for c in corners], outline=(150, 150, 190))
    for element in building.linked.equipment + building.linked.sensors:
        p = element.Location.Point
        if abs(p.Z - level.Elevation) > ext_building.FLOOR_HEIGHT_FT - 0.1 or p.Z < level.Elevation:
            continue
        q = transform.OfPoint(p)
        x, y = px(q.X, q.Y)
        colour = (linked_status or {}).get(element.UniqueId) or GREY
        r = 6 if element in building.linked.equipment else 3.5
        d.rectangle([x - r, y - r, x + r, y + r], fill=colour, outline=(90, 90, 160))
    d.text((MARGIN, 10), title, fill=INK, font=font)
    d.text((px(ox - 130, 0)[0], 34), "linked annex (rotated 90°, offset)", fill=(90, 90, 160), font=small)
    _legend(d, MARGIN, height - 34, small)
    image.save(path)
    return path


def _legend(d, x, y, font):
    from revitpyiot import protocol as P
    for status in P.HEALTH_STATUSES:
        d.rectangle([x, y, x + 14, y + 14], fill=P.STATUS_COLOURS[status], outline=INK)
        d.text((x + 18, y + 1), status, fill=INK, font=font)
        x += 90
    d.rectangle([x, y, x + 14, y + 14], fill=GREY, outline=INK)
    d.text((x + 18, y + 1), "not coloured", fill=INK, font=font)


def render_output(output, path, title, max_lines=26):
    """The pyRevit output window's text as a 'screenshot' (tables flattened to lines)."""
    lines = [title, ""]
    import re
    for line in output.text().splitlines():
        line = re.sub(r"<[^>]+>", "", line).replace("**", "").replace("`", "")
        if line.strip():
            lines.append(line[:118])
    lines = lines[:max_lines] + (["..."] if len(lines) > max_lines else [])
    font = _font(13)
    image = Image.new("RGB", (980, 22 * len(lines) + 30), (255, 255, 255))
    d = ImageDraw.Draw(image)
    d.rectangle([0, 0, 979, 26], fill=(45, 45, 48))
    d.text((10, 5), "pyRevit output – RevitPyIoT", fill=(255, 255, 255), font=font)
    for i, line in enumerate(lines):
        d.text((12, 34 + 22 * i), line, fill=INK if i else (0, 90, 170), font=font)
    image.save(path)
    return path


def render_icons(path):
    tab = os.path.join(ROOT, "RevitPyIoT.extension", "RevitPyIoT.tab")
    order = [("Model", ["Export Sensors", "Write Health Tags"]),
             ("Live", ["Live Sync", "Colour by Health", "Clear Colours", "Alerts"]),
             ("Sidecar", ["Connect", "Monitoring", "Open Dashboard", "Settings"])]
    font = _font(11)
    image = Image.new("RGB", (10 * 96 + 60, 150), (243, 243, 243))
    d = ImageDraw.Draw(image)
    x = 10
    for panel, buttons in order:
        start = x
        for name in buttons:
            folder = next(f for f in os.listdir(os.path.join(tab, panel + ".panel")) if f.startswith(name + "."))
            icon = Image.open(os.path.join(tab, panel + ".panel", folder, "icon.png")).convert("RGBA").resize((48, 48))
            image.paste(icon, (x + 24, 14), icon)
            w = d.textlength(name, font=font)
            d.text((x + 48 - w / 2, 70), name, fill=INK, font=font)
            x += 96
        d.line([x + 4, 8, x + 4, 120], fill=(200, 200, 200))
        w = d.textlength(panel, font=font)
        d.text(((start + x) / 2 - w / 2, 124), panel, fill=(100, 100, 100), font=font)
        x += 10
    image.save(path)
    return path


def walkthrough(out_dir):
    """Run the walkthrough against a real sidecar and render each step; returns the files."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "revit_fake"))
    import time

    import ext_building
    import fake_host
    from revitpyiot import live_revit
    from revitpyiot import protocol as P
    from support.sidecar_process import running_sidecar
    files = [render_icons(os.path.join(out_dir, "extension-ribbon.png"))]
    with running_sidecar() as sidecar:
        os.environ["REVITPYIOT_DATA_DIR"] = str(sidecar.data_dir)
        host = fake_host.FakeRevit()
        host.config({"command_endpoint": sidecar.command_endpoint, "event_endpoint": sidecar.event_endpoint})
        b = ext_building.build(host)
        out = host.run_button("Export Sensors")
        files.append(render_output(out, os.path.join(out_dir, "extension-export-output.png"), "Export Sensors"))
        host.run_button("Monitoring")
        host.run_button("Live Sync")
        session = live_revit.current_session()
        host.pump_until(lambda: session.sync.stats["snapshots"] >= 1 and session.sync.pending() == 0)
        files.append(render_plan(b, b.plan, 0, os.path.join(out_dir, "extension-plan-before.png"),
                                 "Ebene 0 after Export + Live Sync: no readings yet"))
        from revitpyiot.transport.client import SidecarClient
        client = SidecarClient(sidecar.command_endpoint, sidecar.event_endpoint, token=sidecar.token)
        now = time.time()
        readings = []
        for i, sensor in enumerate(b.sensors[:120] + b.linked.sensors[:40]):
            sid = sensor.LookupParameter(P.PARAM_SENSOR_ID).AsString()
            quantity = sensor.LookupParameter(P.PARAM_QUANTITY).AsString()
            value = {"temperature": 21.0 + (i % 13), "co2": 600.0 + 90 * (i % 9), "humidity": 45.0,
                     "occupancy": 3.0}[quantity]
            readings.append([sid, now, value])
        client.request(P.INGEST, {"readings": readings})
        client.close()
        host.pump_until(lambda: sum(1 for r in session.sync.health.values() if r["status"] == "critical") >= 3
                        and session.sync.pending() == 0)
        linked_status = {}
        for key, record in session.sync.health.items():
            if "/" in key:
                linked_status[key.split("/", 1)[1]] = P.STATUS_COLOURS[record["status"]]
        files.append(render_plan(b, b.plan, 0, os.path.join(out_dir, "extension-plan-live.png"),
                                 "Ebene 0 with Live Sync: readings crossed limits", linked_status))
        host.answer(lambda labels: labels[0], False)
        out = host.run_button("Alerts")
        files.append(render_output(out, os.path.join(out_dir, "extension-alerts-output.png"), "Alerts"))
        out = host.run_button("Write Health Tags")
        files.append(render_output(out, os.path.join(out_dir, "extension-tags-output.png"), "Write Health Tags"))
        session.stop()
    return files


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(ROOT, "RevitPyIoT.extension", "lib"))
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    target = os.path.join(ROOT, "docs", "img")
    os.makedirs(target, exist_ok=True)
    for f in walkthrough(target):
        print(f)
