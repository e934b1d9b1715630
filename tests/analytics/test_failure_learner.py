"""The failure model learns interactions from anonymous columns; declared roles add physics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from sidecar.analytics.offline import cli
from sidecar.analytics.offline.errors import CliError
from sidecar.analytics.offline.failure import FailureModel, parse_roles


def _hidden_product(n: int, seed: int) -> pd.DataFrame:
    # Failure when the product of two anonymous readings leaves a band (a power limit in disguise);
    # each reading alone overlaps the failing rows heavily.
    rng = np.random.default_rng(seed)
    a = rng.normal(40, 10, n)
    b = rng.normal(1500, 180, n)
    frame = pd.DataFrame({"row": np.arange(n), "a": a, "b": b, "c": rng.normal(300, 2, n),
                          "d": rng.uniform(0, 200, n)})
    power = a * b
    frame["y"] = ((power < np.quantile(power, 0.03)) | (power > np.quantile(power, 0.985))).astype(int)
    frame["mode_flag"] = frame["y"]  # a failure record: 1 only on failing rows
    return frame


def test_interactions_are_learned_from_anonymous_columns() -> None:
    train, test = _hidden_product(3000, 0), _hidden_product(3000, 1)
    grid = ({"learning_rate": 0.1, "max_leaf_nodes": 7, "max_iter": 100, "min_samples_leaf": 20},)
    learner = FailureModel(grid=grid, max_interactions=2).fit(train, "y")
    raw = FailureModel(grid=grid, interactions=False).fit(train, "y")
    assert ("*", "a", "b") in learner.interactions_
    assert {"row", "mode_flag"} <= set(learner.dropped_)   # identifier and failure record ignored
    y = test["y"].to_numpy()
    f1_learned, f1_raw = f1_score(y, learner.predict(test)), f1_score(y, raw.predict(test))
    assert f1_learned > 0.9 and f1_learned > f1_raw + 0.05, (f1_learned, f1_raw)


def test_declared_roles_add_physical_quantities() -> None:
    assert parse_roles("torque=T [Nm], speed=n") == {"torque": "T [Nm]", "speed": "n"}
    with pytest.raises(CliError, match="unknown column role"):
        parse_roles("voltage=V")
    frame = _hidden_product(1500, 2).rename(columns={"a": "T [Nm]", "b": "n"})
    model = FailureModel(grid=(), max_iter=60, interactions=False, roles={"torque": "T [Nm]", "speed": "n"})
    model.fit(frame, "y")
    assert "power_w" in model.features_ and "power_w" in model.flags_
    assert model.predict_proba(frame.drop(columns=["y"])).shape == (1500,)
    with pytest.raises(CliError, match="declared column"):
        FailureModel(roles={"torque": "missing"}).fit(frame, "y")


def test_failure_cli_roles_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _hidden_product(1200, 3).rename(columns={"a": "T", "b": "n"})
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "roles.toml").write_text('torque = "T"\nspeed = "n"  # rpm\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    assert cli.main(["failure", "--train", str(tmp_path / "train.csv"), "--label", "y", "--predict",
                     str(tmp_path / "train.csv"), "--output", str(out), "--roles", str(tmp_path / "roles.toml"),
                     "--no-interactions"]) == 0
    assert "interactions: none" in capsys.readouterr().out
    assert pd.read_csv(out)["failure_probability"].between(0, 1).all()


def test_a_model_file_from_before_the_learner_still_predicts() -> None:
    # The live maintenance model persists a FailureModel (fixed settings, explicit drop list); a
    # file written before interactions/roles existed lacks those attributes.
    frame = _hidden_product(800, 4).drop(columns=["mode_flag", "row"])
    model = FailureModel(grid=(), tune_threshold=False, drop=[], max_iter=50).fit(frame, "y")
    assert model.interactions_ == [] and model.dropped_ == []
    want = model.predict_proba(frame)
    for name in ("interactions_", "roles", "dropped_", "flags_", "selection_", "interactions"):
        model.__dict__.pop(name, None)
    np.testing.assert_array_equal(model.predict_proba(frame), want)
