"""Command-line contracts of detect, fdd, failure and rul."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sidecar.analytics.offline import cli


def _nab_csv(path: Path, n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2014-01-01", periods=n, freq="5min").strftime("%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame({"timestamp": ts, "value": np.round(rng.normal(10, 1, n), 3)})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def test_detect_directory_is_walked_and_mirrored(tmp_path: Path) -> None:
    src = tmp_path / "in"
    a = _nab_csv(src / "cat1" / "a.csv")
    _nab_csv(src / "cat2" / "deep" / "b.csv", seed=1)
    out = tmp_path / "out"
    assert cli.main(["detect", str(src), "--output-dir", str(out)]) == 0
    got = pd.read_csv(out / "cat1" / "a.csv", dtype={"timestamp": str})
    assert (out / "cat2" / "deep" / "b.csv").is_file()
    assert list(got.columns) == ["timestamp", "value", "anomaly_score"]
    assert got["timestamp"].tolist() == a["timestamp"].tolist()
    np.testing.assert_allclose(got["value"], a["value"])
    assert got["anomaly_score"].between(0, 1).all()


def test_detect_file_input_and_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _nab_csv(tmp_path / "x.csv")
    assert cli.main(["detect", str(tmp_path / "x.csv"), "--output-dir", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "x.csv").is_file()
    (tmp_path / "bad.csv").write_text("time,val\n2014-01-01,1\n")
    assert cli.main(["detect", str(tmp_path / "bad.csv"), "--output-dir", str(tmp_path / "o2")]) == 2
    assert "missing column 'timestamp'" in capsys.readouterr().err
    for gain in ("0", "1.5", "nan"):
        out = tmp_path / f"g{gain}"
        assert cli.main(["detect", str(tmp_path / "x.csv"), "--output-dir", str(out), "--residual-gain", gain]) == 2
        assert f"--residual-gain must be in (0, 1], got {float(gain)}" in capsys.readouterr().err
        assert not out.exists()  # nothing half-written


def _ahu_frame(n: int, fault: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2020-06-01", periods=n, freq="1min").strftime("%m/%d/%Y %H:%M")
    mat = 70 + rng.normal(0, 0.2, n)
    frame = pd.DataFrame({
        "Datetime": ts, "AHU: Supply Air Temperature": 55 + rng.normal(0, 0.2, n) + (12 if fault else 0),
        "AHU: Supply Air Temperature Set Point": 55.0, "AHU: Outdoor Air Temperature": 80.0,
        "AHU: Mixed Air Temperature": mat, "AHU: Return Air Temperature": 72.0,
        "AHU: Supply Air Fan Status": 1, "AHU: Supply Air Fan Speed Control Signal": 0.6,
        "AHU: Outdoor Air Damper Control Signal  ": 0.2, "AHU: Cooling Coil Valve Control Signal": 1.0,
        "AHU: Heating Coil Valve Control Signal": 0.0, "Occupancy Mode Indicator": 1,
        "Fault Detection Ground Truth": int(fault)})
    return frame


def test_fdd_output_columns_rules_and_learned(tmp_path: Path) -> None:
    pd.concat([_ahu_frame(200, False, 1), _ahu_frame(200, True, 2)]).to_csv(tmp_path / "train.csv", index=False)
    test = _ahu_frame(120, True, 3)
    test.to_csv(tmp_path / "t.csv", index=False)
    for extra in ([], ["--train", str(tmp_path / "train.csv")]):
        out = tmp_path / f"o{len(extra)}.csv"
        assert cli.main(["fdd", str(tmp_path / "t.csv"), "--output", str(out), "--columns", "lbnl", *extra]) == 0
        got = pd.read_csv(out, keep_default_na=False)
        assert list(got.columns) == list(test.columns) + ["fault", "fault_condition", "fault_class", "confidence"] + (
            ["learned_probability"] if extra else [])
        assert len(got) == len(test)
        assert set(got["fault"]) <= {0, 1}
        # SAT 12 F above set point with the cooling valve full open: FC13 after the 30-min delay
        # (which starts after the 15-min mode delay at the first row).
        assert got["fault"].iloc[-1] == 1 and "FC13" in got["fault_condition"].iloc[-1]
        if not extra:  # rules alone honour the guideline's delays
            assert got["fault"].iloc[:30].eq(0).all()


def test_fdd_unknown_map_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ahu_frame(10, False, 0).to_csv(tmp_path / "t.csv", index=False)
    assert cli.main(["fdd", str(tmp_path / "t.csv"), "--output", str(tmp_path / "o.csv"), "--columns", "nope"]) == 2
    assert "column map not found" in capsys.readouterr().err


def _failure_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0, 250, n)
    torque = rng.normal(40, 10, n)
    frame = pd.DataFrame({"UDI": np.arange(n), "Type": rng.choice(["L", "M", "H"], n),
                          "Air temperature [K]": rng.normal(300, 2, n),
                          "Process temperature [K]": rng.normal(310, 1.5, n),
                          "Rotational speed [rpm]": rng.normal(1500, 150, n),
                          "Torque [Nm]": torque, "Tool wear [min]": wear})
    frame["Machine failure"] = ((wear * torque > 11000) | (rng.uniform(size=n) < 0.005)).astype(int)
    frame["OSF"] = frame["Machine failure"]  # a leaking column the model must ignore
    return frame


def test_failure_cli_appends_probability(tmp_path: Path) -> None:
    _failure_frame(1500, 0).to_csv(tmp_path / "train.csv", index=False)
    test = _failure_frame(300, 1)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "out.csv"
    assert cli.main(["failure", "--train", str(tmp_path / "train.csv"), "--label", "Machine failure",
                     "--predict", str(tmp_path / "test.csv"), "--output", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == list(test.columns) + ["failure_probability"]
    assert got["failure_probability"].between(0, 1).all()
    pos = got["failure_probability"][test["Machine failure"] == 1].mean()
    neg = got["failure_probability"][test["Machine failure"] == 0].mean()
    assert pos > 0.5 > neg


def test_rul_cli_long_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for unit in range(1, 13):
        life = int(rng.integers(80, 160))
        for c in range(1, life + 1):
            rows.append({"unit": unit, "cycle": c, "temp": 500 + 20 * (c / life) ** 2 + rng.normal(0, 0.5),
                         "flat": 1.0})
    train = pd.DataFrame(rows)
    train.to_csv(tmp_path / "train.csv", index=False)
    test = train[train["unit"] <= 3].groupby("unit").head(60)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "rul.csv"
    assert cli.main(["rul", "--train", str(tmp_path / "train.csv"), "--predict", str(tmp_path / "test.csv"),
                     "--output", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["unit", "rul"] and got["unit"].tolist() == [1, 2, 3]
    assert got["rul"].between(0, 125).all()


def test_detect_uses_epoch_seconds_whatever_the_datetime_resolution(tmp_path: Path) -> None:
    # 50 h of 5-minute readings with a new extreme after 33 h: the spatial check (which waits for
    # a day of history) must see real seconds, as score_many given true epoch seconds does.
    from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

    rng = np.random.default_rng(3)
    stamps = pd.date_range("2014-01-01", periods=600, freq="5min")
    values = np.round(rng.normal(10, 1, 600), 3)
    values[400] = 18.0
    src = tmp_path / "in" / "x.csv"
    src.parent.mkdir()
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(src, index=False)
    assert cli.main(["detect", str(src), "--output-dir", str(tmp_path / "out"), "--detector", "streaming"]) == 0
    got = pd.read_csv(tmp_path / "out" / "x.csv")["anomaly_score"].to_numpy()
    epoch = np.array([ts.timestamp() for ts in stamps.tz_localize("UTC")])
    want = StreamingAnomalyDetector().score_many([0] * 600, values, epoch)
    assert np.allclose(got, np.round(want, 6))
    assert got[400] == 1.0


def test_detect_fixed_causal_warmup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sidecar.analytics.detectors.live import DEFAULT_WARMUP_READINGS

    assert cli.DEFAULT_FIXED_WARMUP == DEFAULT_WARMUP_READINGS
    rng = np.random.default_rng(5)
    values = np.round(rng.normal(10, 1, 1200), 3)
    values[900:905] = 30.0
    stamps = pd.date_range("2014-01-01", periods=1200, freq="5min").strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(tmp_path / "x.csv", index=False)
    got = {}
    for name, extra in (("nab", []), ("fixed", ["--warmup-readings", "400"])):
        assert cli.main(["detect", str(tmp_path / "x.csv"), "--output-dir", str(tmp_path / name), *extra]) == 0
        got[name] = pd.read_csv(tmp_path / name / "x.csv")["anomaly_score"].to_numpy()
    assert "fixed 400-reading warm-up" in capsys.readouterr().out
    # NAB's convention: 15 % of 1200 rows = 180 warm-up readings; fixed: the first 400, whatever the length.
    assert got["fixed"][:400].max() == 0.0 and got["nab"][180:400].max() > 0.0
    assert got["fixed"][900:910].max() > 0.5
    assert cli.main(["detect", str(tmp_path / "x.csv"), "--output-dir", str(tmp_path / "bad"),
                     "--warmup-readings", "1"]) == 2
    assert "--warmup-readings must be >= 2" in capsys.readouterr().err
