"""Command-line tools over users' own exports: ``detect``, ``fdd``, ``failure`` and ``rul``.

``python -m sidecar detect|fdd|failure|rul ...`` delegates here (``main(argv)``); this module also
runs on its own as ``python -m sidecar.analytics.offline.cli ...``. Heavy imports happen inside each
subcommand so ``--help`` is instant.

The CLI sits on top of analytics: it imports the live detectors (``detect`` runs them over files)
and the offline models; none of them imports it. A user error is a ``CliError`` (``errors``),
printed as ``error: ...`` with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CliError

# Detectors of ``detect``; the default is the one that scored best out of sample (NAB,
# leave-one-category-out, benchmarks/ml/nab_loco.py; docs/analytics.md).
DETECTORS = ("streaming", "contextual", "resonance", "vigilance", "ensemble", "ensemble-resonance",
             "ensemble-vigilance")
DEFAULT_DETECTOR = "ensemble-vigilance"
# ``--warmup fixed``: the live detector's default warm-up (detectors.live.DEFAULT_WARMUP_READINGS).
DEFAULT_FIXED_WARMUP = 750


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sidecar", description="RevitPyIoT analytics tools")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="streaming anomaly scores for timestamp,value CSVs (NAB format)")
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="CSV files or directories (walked recursively)")
    d.add_argument("--output-dir", required=True, type=Path, help="where scored CSVs are written")
    d.add_argument("--value-column", default="value")
    d.add_argument("--timestamp-column", default="timestamp")
    d.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help="streaming: robust residuals (the live detector); contextual: learned value "
                        "contexts (CAD OSE idea); resonance: novel recent-window shapes (fuzzy ART, "
                        "ARTime idea); ensemble: streaming damped where the contexts foresaw the "
                        "reading; vigilance: self-tuning dual-vigilance ART over downsampled windows "
                        "(ARTime's method); ensemble-resonance: ensemble with the resonance novelties "
                        "as a maximum; ensemble-vigilance: vigilance novelties with the ensemble's "
                        f"large residuals at 0.2 as a maximum (default: {DEFAULT_DETECTOR}, best "
                        "leave-one-category-out on the full NAB corpus)")
    d.add_argument("--daily-mask", choices=("auto", "on", "off"), default="auto",
                   help="ensemble detectors: silence a score that already occurred at the same time of "
                        "day on one of the last 3 days as routine (auto: on for ensemble-resonance, "
                        "where it was measured, off otherwise; it did not carry over to NAB files it "
                        "was not tuned on)")
    d.add_argument("--no-daily-mask", dest="daily_mask", action="store_const", const="off",
                   help="same as --daily-mask off")
    d.add_argument("--warmup", choices=("nab", "fixed"), default="nab",
                   help="each file's warm-up (which fixes its value range and the vigilance detector's "
                        "time scale): nab = NAB's probationary period, 15 %% of the file's rows (at most "
                        "750; it needs the file's total length, which NAB gives every detector); fixed = "
                        "the first --warmup-readings readings of every file (causal: what a live sensor "
                        "gets) (default: nab)")
    d.add_argument("--warmup-readings", type=int, default=None, metavar="N",
                   help=f"readings of the fixed warm-up (default {DEFAULT_FIXED_WARMUP}; implies --warmup fixed)")
    d.add_argument("--residual-gain", type=float, default=0.2, metavar="G",
                   help="ensemble-vigilance: weight of the residual ensemble next to the vigilance "
                        "novelties, in (0, 1] (default 0.2; higher reports more single-reading excursions)")

    f = sub.add_parser("fdd", help="AHU fault detection (ASHRAE Guideline 36 rules + learned detector)")
    f.add_argument("input", type=Path, metavar="INPUT.csv")
    f.add_argument("--output", required=True, type=Path)
    f.add_argument("--columns", default=None,
                   help="column map: a TOML file, or the name of a shipped map (lbnl)")
    f.add_argument("--train", nargs="+", type=Path, default=[], metavar="LABELLED.csv",
                   help="labelled trend files of other units to fit the learned layer; its probability "
                        "is written (learned_probability) and enters confidence and fault")
    f.add_argument("--label-column", default=None, help="ground-truth column of --train files")

    fl = sub.add_parser("failure", help="tabular failure probability (learns interactions of the columns)")
    fl.add_argument("--train", required=True, type=Path)
    fl.add_argument("--label", required=True)
    fl.add_argument("--predict", required=True, type=Path)
    fl.add_argument("--output", required=True, type=Path)
    fl.add_argument("--drop", nargs="*", default=None,
                    help="columns never used as features (default: columns named id or unit; identifiers "
                         "and 0/1 failure records are also recognised from the data)")
    fl.add_argument("--roles", default=None, metavar="ROLE=COLUMN,...|FILE",
                    help="declare what columns are (torque, speed, temperature, ambient_temperature, wear) "
                         "to add their physical quantities (power, temperature rise, wear x torque)")
    fl.add_argument("--no-interactions", action="store_true",
                    help="do not search products, differences and ratios of column pairs")
    fl.add_argument("--model-out", type=Path, default=None, help="also save the fitted model here")

    r = sub.add_parser("rul", help="remaining useful life from run-to-failure histories (C-MAPSS style)")
    r.add_argument("--train", required=True, type=Path)
    r.add_argument("--predict", required=True, type=Path)
    r.add_argument("--output", required=True, type=Path)
    r.add_argument("--cap", type=float, default=125.0, help="RUL cap used for the training target")
    return parser


def _collect_csvs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(source file, relative output path) pairs; directories are walked recursively."""
    pairs: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for file in sorted(path.rglob("*.csv")):
                pairs.append((file, file.relative_to(path)))
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        else:
            raise CliError(f"input not found: {path}")
    if not pairs:
        raise CliError("no CSV files in the inputs")
    return pairs


def _cmd_detect(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from ..detectors.streaming import StreamingAnomalyDetector

    if not 0.0 < args.residual_gain <= 1.0:
        raise CliError(f"--residual-gain must be in (0, 1], got {args.residual_gain}")
    fixed = args.warmup == "fixed" or args.warmup_readings is not None
    warmup_readings = DEFAULT_FIXED_WARMUP if args.warmup_readings is None else args.warmup_readings
    if warmup_readings < 2:
        raise CliError(f"--warmup-readings must be >= 2, got {warmup_readings}")
    pairs = _collect_csvs(args.inputs)
    frames = []
    keys: list[int] = []
    values = []
    times = []
    for i, (src, _) in enumerate(pairs):
        # Read as text so every original cell is written back unchanged.
        frame = pd.read_csv(src, dtype=str, keep_default_na=False)
        for col in (args.timestamp_column, args.value_column):
            if col not in frame.columns:
                raise CliError(f"{src}: missing column {col!r} (columns: {', '.join(frame.columns)})")
        value = pd.to_numeric(frame[args.value_column], errors="coerce").to_numpy(dtype=float)
        stamp = pd.to_datetime(frame[args.timestamp_column], errors="coerce")
        if stamp.isna().any():
            bad = int(np.flatnonzero(stamp.isna().to_numpy())[0])
            raise CliError(f"{src}: row {bad + 2}: unparseable timestamp {frame[args.timestamp_column][bad]!r}")
        if getattr(stamp.dt, "tz", None) is not None:
            stamp = stamp.dt.tz_localize(None)
        frames.append(frame)
        keys.extend([i] * len(frame))
        values.append(value)
        # Epoch seconds whatever the datetime resolution (pandas 3 parses to microseconds).
        times.append((stamp - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float))
    x = np.concatenate(values)
    t = np.concatenate(times)
    finite = np.isfinite(x)
    scores = np.zeros(len(x))
    # Missing/non-numeric values get score 0 and do not touch the state (as the live path rejects them).
    key_arr = np.asarray(keys)
    if args.detector == "streaming":
        scores[finite] = StreamingAnomalyDetector().score_many(list(key_arr[finite]), x[finite], t[finite])
    else:
        from ..detectors.contextual import (
            ContextualAnomalyDetector,
            DailyRecurrenceMask,
            EnsembleAnomalyDetector,
            nab_probation,
        )
        from ..detectors.dual_vigilance import DualVigilanceDetector
        from ..detectors.live import ensemble_vigilance
        from ..detectors.resonance import ResonanceAnomalyDetector

        # Each file is one sensor; its contextual/resonance warm-up (which fixes the value range)
        # is the file's NAB probationary length, 15 % of its rows (at most 750), which NAB scores
        # 0 anyway; with --warmup fixed, the same number of readings for every file (causal).
        det: ContextualAnomalyDetector | ResonanceAnomalyDetector | DualVigilanceDetector | EnsembleAnomalyDetector
        # A score that already happened at the same time of day recently is routine (a daily batch
        # job): --daily-mask on silences it (docs/analytics.md, "Daily recurrence mask").
        masked = args.daily_mask == "on" or (args.daily_mask == "auto" and args.detector == "ensemble-resonance")
        mask = DailyRecurrenceMask() if masked else None
        if args.detector == "contextual":
            det = ContextualAnomalyDetector()
        elif args.detector == "resonance":
            det = ResonanceAnomalyDetector()
        elif args.detector == "vigilance":
            det = DualVigilanceDetector()
        elif args.detector == "ensemble":
            det = EnsembleAnomalyDetector(recurrence=mask)
        elif args.detector == "ensemble-resonance":
            det = EnsembleAnomalyDetector(resonance=ResonanceAnomalyDetector(), recurrence=mask)
        else:
            # The same construction as the live pipeline's ``ensemble-vigilance`` model.
            det = ensemble_vigilance(residual_gain=args.residual_gain, recurrence=mask)
        for i in range(len(frames)):
            det.set_warmup(i, warmup_readings if fixed else nab_probation(int(finite[key_arr == i].sum())))
        # Every detector takes the timestamps (those that do not use time ignore them).
        scores[finite] = det.score_many(list(key_arr[finite]), x[finite], t[finite])
    offset = 0
    for (src, rel), frame in zip(pairs, frames):
        out = frame.copy()
        out["anomaly_score"] = np.round(scores[offset:offset + len(frame)], 6)
        offset += len(frame)
        dest = args.output_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(dest, index=False)
    warm = f"fixed {warmup_readings}-reading" if fixed else "NAB file-length"
    print(f"detect: scored {len(x)} rows in {len(pairs)} file(s) with the {args.detector} detector "
          f"({warm} warm-up) -> {args.output_dir}")
    return 0


def _cmd_fdd(args: argparse.Namespace) -> int:
    import pandas as pd

    from .ahu_fdd import AHUFaultDetector, ColumnMap, LearnedAHUDetector, load_points

    cmap = ColumnMap.load(args.columns)
    frame, points = load_points(args.input, cmap)
    detector = AHUFaultDetector()
    if args.train:
        frames, labels = [], []
        for path in args.train:
            raw, pts = load_points(path, cmap)
            label_col = args.label_column or next(iter(cmap.columns.get("label", [])), None)
            stripped = {c.strip(): c for c in raw.columns}
            if label_col is None or label_col.strip() not in stripped:
                raise CliError(f"{path}: label column {label_col!r} not found (use --label-column)")
            y = pd.to_numeric(raw[stripped[label_col.strip()]], errors="coerce").fillna(0).to_numpy()
            frames.append(pts)
            labels.append(y)
        detector.learned = LearnedAHUDetector().fit(frames, labels)
    result = detector.predict(points)
    out = frame.copy()
    for col in ("fault", "fault_condition", "fault_class", "confidence", "learned_probability"):
        if col in result:
            out[col] = result[col].to_numpy()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.output, index=False)
    print(f"fdd: {int(out['fault'].sum())} of {len(out)} rows flagged -> {args.output}")
    return 0


def _cmd_failure(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from .failure import FailureModel, parse_roles

    roles = parse_roles(args.roles)
    for p in (args.train, args.predict):
        if not Path(p).is_file():
            raise CliError(f"input not found: {p}")
    train = pd.read_csv(args.train)
    test_text = pd.read_csv(args.predict, dtype=str, keep_default_na=False)
    test = pd.read_csv(args.predict)
    model = FailureModel(drop=args.drop, roles=roles, interactions=not args.no_interactions).fit(train, args.label)
    prob = model.predict_proba(test)
    out = test_text.copy()
    out["failure_probability"] = np.round(prob, 6)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.output, index=False)
    if args.model_out:
        from .models import ModelCard, save_model

        save_model(model, args.model_out, ModelCard(kind="failure", params={"label": args.label}))
    learned = ", ".join(" ".join((s[1], s[0], s[2])) for s in model.interactions_) or "none"
    print(f"failure: {int((prob >= 0.7).sum())} of {len(prob)} rows at p >= 0.7 -> {args.output} "
          f"(interactions: {learned}; ignored: {', '.join(model.dropped_) or 'none'})")
    return 0


def _cmd_rul(args: argparse.Namespace) -> int:
    from .rul import RULModel, read_histories

    train = read_histories(args.train)
    test = read_histories(args.predict)
    model = RULModel(cap=args.cap).fit(train)
    out = model.predict_last(test)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.output, index=False)
    print(f"rul: {len(out)} units -> {args.output}")
    return 0


_COMMANDS = {"detect": _cmd_detect, "fdd": _cmd_fdd, "failure": _cmd_failure, "rul": _cmd_rul}


def main(argv: list[str] | None = None) -> int:
    """Run one analytics subcommand; returns the process exit code (2 on user errors)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
