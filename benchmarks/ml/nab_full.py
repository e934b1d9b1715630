"""``detect`` on the full NAB corpus (58 files), scored as numenta/NAB does, next to the published detectors.

Why: the issue's evaluation set is the 30 files in shared data (artificialWithAnomaly,
realAWSCloudwatch, realKnownCause), and ``detect``'s detectors and defaults were tuned on exactly
those files, so a score on them is in-sample. The other 28 files of the corpus (artificialNoAnomaly,
realAdExchange, realTraffic, realTweets) were never looked at while tuning: they are an honest
held-out set. The published 58-file scores (ARTime 74.85, numenta HTM 70.10, CAD OSE 69.90) are
in-sample for their authors, who developed on the whole corpus, so they are re-scored here from the
checkout's own result files on the same three file sets, with the same scorer (``nab_scoring``,
which reproduces the published 58-file figures exactly).

What it measures, for each ``--detect-args`` variant (the product's own CLI,
``python -m sidecar.analytics.offline.cli detect DATA --output-dir TMP ARGS``; default: one variant with no
extra arguments, i.e. what ``detect`` ships):

* the normalised NAB score of the three profiles (standard, reward_low_FP_rate, reward_low_FN_rate)
  on all 58 files, on the 30 shared files ("shared30") and on the other 28 ("other28"), each set
  with its own threshold per profile, as NAB chooses it over a corpus;
* the standard score per category, each category normalised on its own (as ``eval_nab.py`` does;
  artificialNoAnomaly has no windows, so no score of its own);
* the same for ARTime, numenta (HTM) and contextOSE from ``results/`` of the checkout;
* with several variants, leave-one-category-out over the 7 categories: for each category, the
  variant with the best standard score on the *other* categories' files supplies that category's
  scores, and the corpus is scored from these held-out choices (one threshold per profile).

Usage: python benchmarks/ml/nab_full.py PATH/TO/NAB [--detect-args "..."]... [--quick]
PATH/TO/NAB is a numenta/NAB checkout root (data/<category>/*.csv, labels/combined_windows.json,
config/profiles.json, results/<detector>/<category>/<detector>_<file>.csv). ``--quick`` skips the
published detectors and the per-category tables.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, emit, machine, run_cli

PUBLISHED = {"ARTime": "ARTime", "numenta": "numenta (HTM)", "contextOSE": "contextOSE (CAD OSE)"}
SETS = ("all58", "shared30", "other28")
DEFAULT_LABEL = "default"

PER_CATEGORY_THRESHOLD = "58 thr/cat"
Results = dict[str, pd.DataFrame]
Scores = dict[str, dict[str, float]]
Figures = dict[str, Any]  # JSON: rounded scores, labels


@dataclass(frozen=True)
class Corpus:
    """A numenta/NAB checkout: its files, labelled windows and cost profiles, and how to score them."""

    root: Path
    files: list[str]  # relative paths, e.g. realKnownCause/nyc_taxi.csv
    shared: frozenset[str]  # the files of shared data (the 30-file evaluation set)
    windows: dict[str, list[list[str]]]
    profiles: dict[str, dict[str, float]]

    @classmethod
    def load(cls, root: Path) -> Corpus:
        data = root / "data"
        if not data.is_dir():
            raise SystemExit(f"{data}: not a directory; PATH/TO/NAB must be a numenta/NAB checkout root")
        files = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.csv"))
        shared_dir = DATA / "nab"
        shared = frozenset(p.relative_to(shared_dir).as_posix() for p in shared_dir.rglob("*.csv"))
        if not shared or not shared <= set(files):
            raise SystemExit(f"{shared_dir}: expected the issue's NAB files, a subset of {data}")
        windows = nab_scoring.load_windows(root / "labels" / "combined_windows.json")
        profiles = nab_scoring.load_profiles(root / "config" / "profiles.json")
        return cls(root, files, shared, windows, profiles)

    @property
    def categories(self) -> list[str]:
        return sorted({f.split("/")[0] for f in self.files})

    def subset(self, name: str) -> list[str]:
        if name == "shared30":
            return [f for f in self.files if f in self.shared]
        if name == "other28":
            return [f for f in self.files if f not in self.shared]
        return list(self.files)

    def score(self, results: Mapping[str, pd.DataFrame]) -> Scores:
        return nab_scoring.score_windows(self.windows, results, self.profiles)

    def standard(self, results: Mapping[str, pd.DataFrame]) -> float:
        """Standard profile only: a third of the work, for choices and per-category figures."""
        return nab_scoring.score_windows(self.windows, results, {"standard": self.profiles["standard"]}
                                         )["standard"]["score"]


def _read(paths: Mapping[str, Path]) -> Results:
    return {rel: pd.read_csv(p, usecols=["timestamp", "anomaly_score"]) for rel, p in paths.items()}


def run_detect(corpus: Corpus, detect_args: list[str]) -> tuple[Results, float]:
    """The product's CLI over the checkout's data directory; (results, wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_cli("detect", str(corpus.root / "data"), "--output-dir", tmp, *detect_args)
        elapsed = time.perf_counter() - t0
        results = _read({rel: Path(tmp) / rel for rel in corpus.files})
    return results, elapsed


def published(corpus: Corpus, detector: str) -> Results:
    """A published detector's own result files, results/<det>/<category>/<det>_<file>.csv."""
    base = corpus.root / "results" / detector
    paths = {}
    for rel in corpus.files:
        cat, name = rel.split("/")
        paths[rel] = base / cat / f"{detector}_{name}"
    return _read(paths)


def score_sets(corpus: Corpus, results: Results) -> dict[str, Scores]:
    """Each file set scored as its own corpus (its own threshold per profile)."""
    return {name: corpus.score({f: results[f] for f in corpus.subset(name)}) for name in SETS}


def per_category(corpus: Corpus, results: Results) -> dict[str, float]:
    """Standard score of each category normalised on its own (NaN without windows)."""
    return {cat: corpus.standard({f: r for f, r in results.items() if f.startswith(cat + "/")})
            for cat in corpus.categories}


def threshold_per_category(corpus: Corpus, results: Results) -> float:
    """All 58 files, standard profile, each category with its own best threshold (not NAB's
    protocol): how good the detections are apart from how consistent the score scale is."""
    return nab_scoring.score_threshold_per_group(corpus.windows, results, lambda rel: rel.split("/")[0],
                                                 corpus.profiles["standard"])


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)


def _figures(sets: dict[str, Scores], cats: dict[str, float] | None) -> Figures:
    out: Figures = {name: {p: _r(v["score"]) for p, v in scores.items()} for name, scores in sets.items()}
    if cats is not None:
        out["per_category"] = {c: _r(v) for c, v in cats.items()}
    return out


def _table(rows: dict[str, dict[str, Scores]], corpus: Corpus) -> None:
    profiles = list(corpus.profiles)
    short = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}
    width = max(len(k) for k in rows) + 2
    head = "".join(f"{f'{s} ({len(corpus.subset(s))})':^21s}" for s in SETS)
    print(f"{'':{width}s}{head}")
    print(f"{'':{width}s}" + "".join(f"{short.get(p, p):>7s}" for _ in SETS for p in profiles))
    for label, sets in rows.items():
        print(f"{label:{width}s}" + "".join(f"{sets[s][p]['score']:7.2f}" for s in SETS for p in profiles))


def _category_table(rows: dict[str, dict[str, float]]) -> None:
    cats = list(next(iter(rows.values())))
    width = max(len(k) for k in rows) + 2
    print("standard per category (each normalised on its own; artificialNoAnomaly has no windows); last "
          "column: all 58 files with a threshold per category (not NAB's protocol):")
    short = [c.replace("artificial", "art").removeprefix("real") for c in cats]
    print(f"{'':{width}s}" + "".join(f"{c:>15s}" for c in short))
    for label, vals in rows.items():
        cells = ("n/a" if math.isnan(v) else f"{v:.2f}" for v in vals.values())
        print(f"{label:{width}s}" + "".join(f"{c:>15s}" for c in cells))


def _detail(label: str, sets: dict[str, Scores]) -> None:
    v = sets["all58"]["standard"]
    print(f"  {label}: all58 standard threshold {v['threshold']:.4f}, windows {v['windows_detected']}/"
          f"{v['windows']}, FP rows {v['fp_rows']}")


def loco(corpus: Corpus, runs: dict[str, Results]) -> tuple[dict[str, Scores], dict[str, str]]:
    """Leave-one-category-out choice among the variants; the held-out results scored on every set."""
    held_out, chosen = nab_scoring.leave_one_category_out(runs, corpus.categories, corpus.standard)
    return score_sets(corpus, held_out), chosen


def _join_option_values(argv: list[str], option: str) -> list[str]:
    """``--detect-args --no-daily-mask`` -> ``--detect-args=--no-daily-mask``: argparse would take a
    value that looks like an option for an option of its own."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == option and i + 1 < len(argv):
            out.append(f"{option}={argv[i + 1]}")
            i += 2
        else:  # a trailing option without its value stays for argparse to report
            out.append(argv[i])
            i += 1
    return out


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("nab", type=Path, metavar="PATH/TO/NAB", help="numenta/NAB checkout root")
    ap.add_argument("--detect-args", action="append", default=None, metavar="ARGS",
                    help="extra arguments of `detect` for one variant (repeatable; default: one variant "
                         "without extra arguments)")
    ap.add_argument("--quick", action="store_true",
                    help="skip the published detectors and the per-category tables")
    return ap.parse_args(_join_option_values(argv, "--detect-args"))


def _score_variants(corpus: Corpus, variants: list[str], quick: bool) -> tuple[
        dict[str, Results], dict[str, dict[str, Scores]], dict[str, dict[str, float]], Figures]:
    """Run ``detect`` once per variant and score it: (results, set scores, per-category, JSON figures)."""
    runs: dict[str, Results] = {}
    sets: dict[str, dict[str, Scores]] = {}
    cats: dict[str, dict[str, float]] = {}
    figures: Figures = {}
    for args in variants:
        label = args or DEFAULT_LABEL
        runs[label], elapsed = run_detect(corpus, shlex.split(args))
        t0 = time.perf_counter()
        sets[label] = score_sets(corpus, runs[label])
        if not quick:
            cats[label] = {**per_category(corpus, runs[label]),
                           PER_CATEGORY_THRESHOLD: threshold_per_category(corpus, runs[label])}
        print(f"detect {args or '(default)'}: {elapsed:.1f} s over {len(runs[label])} files; scored in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        figures[label] = {**_figures(sets[label], cats.get(label)), "detect_s": round(elapsed, 1)}
    return runs, sets, cats, figures


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    corpus = Corpus.load(args.nab)
    variants = args.detect_args or [""]
    print(f"NAB checkout {corpus.root}: {len(corpus.files)} files, {len(corpus.categories)} categories, "
          f"{sum(len(corpus.windows[f]) for f in corpus.files)} windows; shared30 = {DATA / 'nab'}")
    runs, sets, cats, figures = _score_variants(corpus, variants, args.quick)
    figures["published"] = None
    if not args.quick:
        figures["published"] = {}
        for det, label in PUBLISHED.items():
            results = published(corpus, det)
            sets[label] = score_sets(corpus, results)
            cats[label] = {**per_category(corpus, results),
                           PER_CATEGORY_THRESHOLD: threshold_per_category(corpus, results)}
            figures["published"][det] = _figures(sets[label], cats[label])
    print("normalised NAB score, each file set scored as its own corpus (threshold per profile):")
    _table(sets, corpus)
    for label in runs:
        _detail(label, sets[label])
    if cats:
        _category_table(cats)
    figures["loco7"] = None
    if len(runs) > 1:
        held, chosen = loco(corpus, runs)
        for cat, label in chosen.items():
            print(f"leave-one-category-out: held out {cat}: chosen on the others: {label}")
        _table({"loco7 (held-out choices)": held}, corpus)
        figures["loco7"] = {**_figures(held, None), "chosen": chosen}
    else:
        print("leave-one-category-out: one variant only, nothing to choose (give several --detect-args)")
    print(f"machine: {machine()}")
    emit({"nab_full": figures})


if __name__ == "__main__":
    main()
