"""Score numenta/NAB's published detector results on the same 30 files with the same scorer.

The published full-corpus scores (58 files) are not comparable with a score on 30 files; this
re-scores the detectors' own result files (``results/<detector>/<category>/<detector>_<file>.csv``
in a numenta/NAB checkout, e.g. commit ea702d7) restricted to the files in shared data.
Usage: python benchmarks/ml/nab_published.py PATH/TO/NAB [DETECTOR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, emit

DEFAULT = ("ARTime", "numenta", "contextOSE", "knncad", "relativeEntropy", "windowedGaussian")


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    root = Path(sys.argv[1])
    detectors = sys.argv[2:] or list(DEFAULT)
    nab = DATA / "nab"
    files = sorted(str(p.relative_to(nab)).replace("\\", "/") for p in nab.rglob("*.csv"))
    figures = {}
    for det in detectors:
        results = {}
        for rel in files:
            cat, name = rel.split("/")
            frame = pd.read_csv(root / "results" / det / cat / f"{det}_{name}")
            results[rel] = frame[["timestamp", "anomaly_score"]]
        scores = nab_scoring.score_corpus(nab, results)
        figures[det] = {k: round(v["score"], 2) for k, v in scores.items()}
        print(det, figures[det], flush=True)
    emit({"nab_published_same_files": figures})


if __name__ == "__main__":
    main()
