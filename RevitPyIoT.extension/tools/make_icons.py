"""Draw the ribbon icons (96 x 96 PNG, light and dark theme) with Pillow.

Run with the project's CPython: ``python RevitPyIoT.extension/tools/make_icons.py``. The PNGs
are committed; pyRevit does not load this folder. Shapes are drawn 4x larger and scaled down
for smooth edges. Status colours come from PROTOCOL.md (shared_schemas.protocol).
"""
import math
import os
import sys

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
EXTENSION = os.path.dirname(HERE)
sys.path.insert(0, os.path.dirname(EXTENSION))
from shared_schemas.protocol import STATUS_COLOURS

SIZE = 96
SCALE = 4
S = SIZE * SCALE
INK = {"light": (40, 52, 66, 255), "dark": (226, 232, 240, 255)}
ACCENT = (0, 120, 212, 255)
OK = STATUS_COLOURS["ok"] + (255,)
WARN = STATUS_COLOURS["warning"] + (255,)
CRIT = STATUS_COLOURS["critical"] + (255,)
GREY = STATUS_COLOURS["unknown"] + (255,)
W = 7 * SCALE


def p(x):
    return int(x * S / 96.0)


def canvas():
    image = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    return image, ImageDraw.Draw(image)


def save(image, path):
    image.resize((SIZE, SIZE), Image.LANCZOS).save(path)


def sensor_waves(d, ink, cx, cy):
    d.ellipse([p(cx - 8), p(cy - 8), p(cx + 8), p(cy + 8)], fill=ink)
    for r in (20, 32):
        d.arc([p(cx - r), p(cy - r), p(cx + r), p(cy + r)], 300, 60, fill=ink, width=W)


def draw_connect(d, ink):
    d.ellipse([p(8), p(30), p(44), p(66)], outline=ink, width=W)
    d.ellipse([p(52), p(30), p(88), p(66)], outline=ACCENT, width=W)
    d.line([p(34), p(48), p(62), p(48)], fill=ink, width=W)


def draw_pulse(d, ink, colour=None):
    if colour is not None:
        d.ellipse([p(4), p(4), p(92), p(92)], fill=colour)
        ink = (255, 255, 255, 255)
    pts = [(10, 52), (30, 52), (38, 30), (50, 72), (60, 40), (66, 52), (86, 52)]
    d.line([(p(x), p(y)) for x, y in pts], fill=ink, width=W, joint="curve")


def draw_offline(d, ink):
    draw_pulse(d, ink, GREY)
    d.line([p(62), p(62), p(90), p(90)], fill=CRIT, width=W * 2)
    d.line([p(90), p(62), p(62), p(90)], fill=CRIT, width=W * 2)


def draw_dashboard(d, ink):
    d.rectangle([p(8), p(10), p(88), p(86)], outline=ink, width=W)
    for i, (h, c) in enumerate(((30, OK), (50, WARN), (22, CRIT), (40, ACCENT))):
        x = 20 + i * 17
        d.rectangle([p(x), p(78 - h), p(x + 10), p(78)], fill=c)


def draw_export(d, ink):
    d.rectangle([p(8), p(30), p(62), p(88)], outline=ink, width=W)
    sensor_waves(d, ink, 30, 62)
    d.line([p(50), p(46), p(86), p(10)], fill=ACCENT, width=W)
    d.polygon([(p(62), p(8)), (p(90), p(6)), (p(88), p(34))], fill=ACCENT)


def draw_tags(d, ink):
    d.polygon([(p(10), p(18)), (p(56), p(18)), (p(88), p(50)), (p(56), p(82)), (p(10), p(82))],
              outline=ink, width=W)
    d.ellipse([p(20), p(42), p(32), p(54)], fill=ink)
    d.line([p(42), p(50), p(50), p(50), p(56), p(38), p(62), p(62), p(68), p(50), p(74), p(50)], fill=CRIT,
           width=W // 2 + SCALE)


def draw_sync(d, ink, colour=None):
    ink = colour or ink
    d.arc([p(14), p(14), p(82), p(82)], 200, 340, fill=ink, width=W)
    d.arc([p(14), p(14), p(82), p(82)], 20, 160, fill=ink, width=W)
    d.polygon([(p(82), p(30)), (p(90), p(54)), (p(66), p(46))], fill=ink)
    d.polygon([(p(14), p(66)), (p(6), p(42)), (p(30), p(50))], fill=ink)
    d.ellipse([p(38), p(38), p(58), p(58)], fill=ACCENT if colour is None else ink)


def draw_colour(d, ink):
    colours = (OK, STATUS_COLOURS["watch"] + (255,), WARN, CRIT)
    for i, c in enumerate(colours):
        x, y = (i % 2) * 42 + 8, (i // 2) * 42 + 8
        d.rounded_rectangle([p(x), p(y), p(x + 36), p(y + 36)], radius=p(6), fill=c)


def draw_clear(d, ink):
    for i, c in enumerate((GREY, GREY, GREY, GREY)):
        x, y = (i % 2) * 42 + 8, (i // 2) * 42 + 8
        d.rounded_rectangle([p(x), p(y), p(x + 36), p(y + 36)], radius=p(6), outline=ink, width=W // 2)
    d.line([p(10), p(86), p(86), p(10)], fill=CRIT, width=W)


def draw_alerts(d, ink):
    d.polygon([(p(48), p(8)), (p(90), p(84)), (p(6), p(84))], fill=CRIT)
    d.rectangle([p(44), p(32), p(52), p(62)], fill=(255, 255, 255, 255))
    d.ellipse([p(43), p(68), p(53), p(78)], fill=(255, 255, 255, 255))


def draw_settings(d, ink):
    cx = cy = 48
    for k in range(8):
        a = k * math.pi / 4
        x, y = cx + 34 * math.cos(a), cy + 34 * math.sin(a)
        d.ellipse([p(x - 9), p(y - 9), p(x + 9), p(y + 9)], fill=ink)
    d.ellipse([p(18), p(18), p(78), p(78)], fill=ink)
    d.ellipse([p(36), p(36), p(60), p(60)], fill=(0, 0, 0, 0))


def draw_sync_error(d, ink):
    draw_sync(d, ink, CRIT)
    d.rectangle([p(44), p(22), p(52), p(52)], fill=(255, 255, 255, 255))
    d.ellipse([p(43), p(58), p(53), p(68)], fill=(255, 255, 255, 255))


def draw_live_view(d, ink):
    d.rectangle([p(8), p(14), p(88), p(82)], outline=ink, width=W)
    for i, c in enumerate((OK, WARN, CRIT)):
        x = 22 + i * 22
        d.ellipse([p(x - 7), p(40), p(x + 7), p(54)], fill=c)
    d.rectangle([p(30), p(82), p(66), p(90)], fill=ink)


def draw_replay(d, ink):
    d.arc([p(12), p(12), p(84), p(84)], 120, 420, fill=ink, width=W)
    d.polygon([(p(8), p(30)), (p(30), p(22)), (p(26), p(44))], fill=ink)
    d.line([p(48), p(48), p(48), p(26)], fill=ACCENT, width=W)
    d.line([p(48), p(48), p(64), p(58)], fill=ACCENT, width=W)


BUTTONS = {
    "Sidecar.panel/Connect.pushbutton": {"icon": draw_connect},
    "Sidecar.panel/Monitoring.smartbutton": {"icon": draw_pulse,
                                             "on": lambda d, ink: draw_pulse(d, ink, OK),
                                             "off": lambda d, ink: draw_pulse(d, ink, GREY),
                                             "offline": draw_offline},
    "Sidecar.panel/Open Dashboard.pushbutton": {"icon": draw_dashboard},
    "Sidecar.panel/Settings.pushbutton": {"icon": draw_settings},
    "Model.panel/Export Sensors.pushbutton": {"icon": draw_export},
    "Model.panel/Write Health Tags.pushbutton": {"icon": draw_tags},
    "Live.panel/Live Sync.smartbutton": {"icon": draw_sync,
                                         "on": lambda d, ink: draw_sync(d, ink, OK),
                                         "off": lambda d, ink: draw_sync(d, ink, GREY),
                                         "error": draw_sync_error},
    "Live.panel/Live View.pushbutton": {"icon": draw_live_view},
    "Live.panel/Replay.pushbutton": {"icon": draw_replay},
    "Live.panel/Colour by Health.pushbutton": {"icon": draw_colour},
    "Live.panel/Clear Colours.pushbutton": {"icon": draw_clear},
    "Live.panel/Alerts.pushbutton": {"icon": draw_alerts},
}


def main():
    tab = os.path.join(EXTENSION, "RevitPyIoT.tab")
    written = []
    for folder, drawings in sorted(BUTTONS.items()):
        for name, draw in drawings.items():
            for theme in ("light", "dark"):
                image, d = canvas()
                draw(d, INK[theme])
                suffix = ".png" if theme == "light" else ".dark.png"
                path = os.path.join(tab, folder, name + suffix)
                save(image, path)
                written.append(path)
    print("wrote {0} icons".format(len(written)))


if __name__ == "__main__":
    main()
