"""The RUL model must beat naive baselines on held-out synthetic degradation (a constant predictor
fails this test)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sidecar.analytics.offline.rul import RULModel


def _fleet(units: int, seed: int, first_unit: int = 1) -> pd.DataFrame:
    # Each unit starts with its own offset, degrades exponentially after a random onset and fails
    # at its own life; one flat sensor and one pure-noise sensor.
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(first_unit, first_unit + units):
        life = int(rng.integers(120, 260))
        offset = rng.normal(0, 1.0)
        onset = life - int(rng.integers(60, 110))
        for c in range(1, life + 1):
            wear = np.expm1(max(0, c - onset) / 25.0) / np.expm1((life - onset) / 25.0)
            rows.append({"unit": unit, "cycle": c, "temp": 640 + offset + 6 * wear + rng.normal(0, 0.4),
                         "press": 21 - offset / 2 - 3 * wear + rng.normal(0, 0.3), "noise": rng.normal(0, 1),
                         "flat": 5.0})
    return pd.DataFrame(rows)


def test_rul_beats_constant_and_cycle_count_baselines() -> None:
    train, held = _fleet(24, 0), _fleet(12, 1, first_unit=100)
    model = RULModel(max_iter=150).fit(train)
    rng = np.random.default_rng(2)
    pieces, truth = [], []
    for k, (_, hist) in enumerate(held.groupby("unit")):
        for cut in rng.integers(40, len(hist) + 1, size=3):
            piece = hist.iloc[:cut].copy()
            piece["unit"] = 1000 + 10 * k + len(truth) % 3
            pieces.append(piece)
            truth.append(min(len(hist) - cut, 125))
    frame = pd.concat(pieces, ignore_index=True)
    pred = model.predict_last(frame).sort_values("unit")["rul"].to_numpy()
    order = np.argsort([p["unit"].iloc[0] for p in pieces])
    t = np.asarray(truth, float)[order]
    rmse = float(np.sqrt(np.mean((pred - t) ** 2)))
    # Naive baselines fitted on the training fleet: the mean capped RUL (best constant) and the
    # mean capped RUL at the same cycle count (knows the age, not the condition).
    life = train.groupby("unit")["cycle"].transform("max")
    target = np.minimum(life - train["cycle"], 125)
    constant = float(np.sqrt(np.mean((target.mean() - t) ** 2)))
    by_cycle = target.groupby(train["cycle"]).mean()
    cycles = np.asarray([p["cycle"].iloc[-1] for p in pieces])[order]
    aged = by_cycle.reindex(cycles).ffill().fillna(0).to_numpy()
    age = float(np.sqrt(np.mean((aged - t) ** 2)))
    assert rmse < 0.5 * constant, (rmse, constant)
    assert rmse < 0.7 * age, (rmse, age)
