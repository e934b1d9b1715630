"""Figures for docs/analytics.md, drawn with Pillow (no matplotlib in the environment).

* ``docs/img/analytics-nab-scores.png``: NAB standard score on the 30 shared-data files, this
  detector next to numenta/NAB's published detectors re-scored on the same files
  (``nab_published.py``; the figures are passed in below from its output).
* ``docs/img/analytics-nab-example.png``: one NAB series with its labelled anomaly windows and the
  readings this detector flags at the standard-profile threshold.
* ``docs/img/analytics-nab-full.png`` (``--full``): NAB standard score on all 58 files, the 30 shared
  files and the other 28, ``detect``'s default next to the published detectors (figures from
  ``nab_full.py``, passed in below), and ``docs/img/analytics-nab-lookahead.png``: ARTime's method
  with the file's exact range (look-ahead), that range widened by 2 % and 10 %, and causal
  (figures from ``nab_vigilance.py``).
Usage: python benchmarks/ml/plots.py [OURS_STANDARD_SCORE] [THRESHOLD] | --full
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, REPO

# From `python benchmarks/ml/nab_published.py <numenta/NAB @ ea702d7>` (standard profile, 30 files).
PUBLISHED_SAME_FILES = {"ARTime": 67.95, "HTM (numenta)": 66.99, "CAD OSE": 62.59, "KNN CAD": 53.67,
                        "relative entropy": 50.71, "windowed Gaussian": 21.97}
# From `python benchmarks/ml/nab_full.py <numenta/NAB @ ea702d7> --detect-args "" --detect-args
# "--detector ensemble-resonance"` (standard profile): all 58 files, shared 30, other 28.
FULL_CORPUS = {
    "RevitPyIoT ensemble-vigilance (default)": (71.66, 68.77, 74.37),
    "RevitPyIoT first full-corpus default (ensemble-resonance + mask)": (59.95, 67.32, 62.66),
    "ARTime": (74.85, 67.95, 81.45),
    "HTM (numenta)": (70.10, 66.99, 73.02),
    "CAD OSE": (69.90, 62.59, 77.57),
}
# From `python benchmarks/ml/nab_vigilance.py <numenta/NAB @ ea702d7>` (standard profile, all 58 files):
# ARTime's method (our dual-vigilance detector) on ARTime's look-ahead range, that range widened,
# and causal; ARTime's own result files from `nab_full.py`.
Bar = tuple[str, float, tuple[int, int, int]]  # label, score, colour
LOOK_AHEAD: list[Bar] = [
    ("ARTime, published (file range, look-ahead)", 74.85, (160, 160, 160)),
    ("dual vigilance, the same file range", 75.10, (150, 180, 210)),
    ("dual vigilance, file range widened 2 %", 71.59, (150, 180, 210)),
    ("dual vigilance, file range widened 10 %", 72.73, (150, 180, 210)),
    ("dual vigilance, causal (warm-up range, 15 % margin)", 68.42, (31, 119, 180)),
    ("ensemble-vigilance, causal (default)", 71.66, (31, 119, 180)),
]
PREVIOUS = 52.69  # previous version (refractory damping 0.3)
EXAMPLE = "realKnownCause/machine_temperature_system_failure.csv"


def _bars(rows: list[Bar], title: str, path: Path, width: int, left: int) -> None:
    """One horizontal bar per row, score printed at its end, on a 0-100 scale."""
    bar = 22
    img = Image.new("RGB", (width, 40 + 34 * len(rows)), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 8), title, fill="black")
    scale = (width - left - 60) / 100.0
    for i, (name, v, colour) in enumerate(rows):
        y = 34 + 34 * i
        d.text((10, y + 5), name, fill="black")
        d.rectangle([left, y, left + v * scale, y + bar], fill=colour)
        d.text((left + v * scale + 6, y + 5), f"{v:.1f}", fill="black")
    img.save(path)


def bar_chart(ours: float, path: Path) -> None:
    rows: list[Bar] = [("RevitPyIoT (this version)", ours, (31, 119, 180)),
                       ("RevitPyIoT (previous, damping 0.3)", PREVIOUS, (150, 180, 210))]
    rows += [(k, v, (160, 160, 160)) for k, v in PUBLISHED_SAME_FILES.items()]
    rows.sort(key=lambda r: -r[1])
    _bars(rows, "NAB standard score, 30 files of shared data (0 = null detector, 100 = perfect)", path,
          width=760, left=230)


def full_corpus_chart(path: Path) -> None:
    """Grouped bars: each detector's score on all 58 files, the shared 30 and the other 28."""
    sets = ("all 58 files", "shared 30 (the issue's set)", "other 28")
    shades = ((31, 119, 180), (120, 170, 210), (190, 215, 235))
    w, left, bar = 820, 330, 12
    h = 60 + len(FULL_CORPUS) * (3 * bar + 16)
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 8), "NAB standard score (0 = null detector, 100 = perfect), numenta/NAB corpus", fill="black")
    for k, (name, shade) in enumerate(zip(sets, shades)):
        d.rectangle([left + 150 * k, 26, left + 150 * k + 12, 38], fill=shade)
        d.text((left + 150 * k + 18, 26), name, fill="black")
    scale = (w - left - 60) / 100.0
    for i, (name, values) in enumerate(FULL_CORPUS.items()):
        y = 50 + i * (3 * bar + 16)
        d.text((10, y + bar), name if len(name) < 48 else name[:46] + "…", fill="black")
        for k, (v, shade) in enumerate(zip(values, shades)):
            yy = y + k * bar
            d.rectangle([left, yy, left + v * scale, yy + bar - 2], fill=shade)
            d.text((left + v * scale + 4, yy - 1), f"{v:.1f}", fill="black")
    img.save(path)


def look_ahead_chart(path: Path) -> None:
    """Bars: what the exact file range (look-ahead) is worth to ARTime's method."""
    _bars(LOOK_AHEAD, "NAB standard score, all 58 files: ARTime's method with and without the file's exact range",
          path, width=820, left=330)


def example(threshold: float, path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

    frame = pd.read_csv(DATA / "nab" / EXAMPLE)
    x = frame["value"].to_numpy(float)
    t = (pd.to_datetime(frame["timestamp"]) - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float)
    s = StreamingAnomalyDetector().score_many(["m"] * len(x), x, t)
    windows = nab_scoring.load_labels(DATA / "nab")[EXAMPLE]
    index = {str(ts): i for i, ts in enumerate(frame["timestamp"])}
    w, h, pad = 1000, 320, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    n = len(x)
    lo, hi = float(np.min(x)), float(np.max(x))

    def px(i: float) -> float:
        return pad + (w - 2 * pad) * i / (n - 1)

    def py(v: float) -> float:
        return h - pad - (h - 2 * pad) * (v - lo) / (hi - lo)

    for a, b in windows:
        i0, i1 = index[a.split(".")[0]], index[b.split(".")[0]]
        d.rectangle([px(i0), pad, px(i1), h - pad], fill=(255, 225, 225))
    probation = int(min(np.floor(0.15 * n), 750))
    d.line([px(probation), pad, px(probation), h - pad], fill=(200, 200, 200))
    step = max(1, n // (w - 2 * pad))
    pts = [(px(i), py(float(x[i]))) for i in range(0, n, step)]
    d.line(pts, fill=(31, 119, 180), width=1)
    for i in np.flatnonzero(s >= threshold).tolist():
        if i >= probation:
            d.ellipse([px(i) - 4, py(float(x[i])) - 4, px(i) + 4, py(float(x[i])) + 4], outline=(214, 39, 40), width=2)
    d.text((pad, 10), f"{EXAMPLE.split('/')[1]}: labelled anomaly windows (pink), readings flagged at the "
           f"standard threshold {threshold:.3f} (red circles); grey line = end of NAB's probation", fill="black")
    img.save(path)


def main() -> None:
    if sys.argv[1:] == ["--full"]:
        path = REPO / "docs" / "img" / "analytics-nab-full.png"
        full_corpus_chart(path)
        look_ahead_chart(REPO / "docs" / "img" / "analytics-nab-lookahead.png")
        print(f"wrote {path}")
        return
    ours = float(sys.argv[1]) if len(sys.argv) > 1 else 53.10
    threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1472
    out = REPO / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    bar_chart(ours, out / "analytics-nab-scores.png")
    example(threshold, out / "analytics-nab-example.png")
    print(f"wrote {out / 'analytics-nab-scores.png'} and {out / 'analytics-nab-example.png'}")


if __name__ == "__main__":
    main()
