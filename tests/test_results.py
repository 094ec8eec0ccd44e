"""channelae/results.py: the results.json format (typed object, strict-JSON non-finite numbers, schema versions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from channelae.errors import UsageError
from channelae.results import (
    CSV_HEADER,
    SCHEMA_VERSION,
    BreakingBudget,
    Budget,
    Convergence,
    Curve,
    LatentBars,
    Manifest,
    MetricInfo,
    ReferenceCurve,
    Results,
    decode_number,
    dumps_json,
    encode_json,
    format_number,
    load,
    snr_label,
)

INF, NAN = math.inf, math.nan


def _strict_loads(text: str):
    """json.loads that refuses the non-standard literals NaN / Infinity / -Infinity."""
    def refuse(name: str):
        raise AssertionError(f"non-strict JSON literal {name}")
    return json.loads(text, parse_constant=refuse)


def sample_results() -> Results:
    """Two SNR points (noiseless, 10 dB) × three budgets, jammer + noise control, every field set."""
    mean = [[0.9, 0.6, 0.2], [0.7, 0.5, NAN]]
    curve = Curve(mean=mean, lo=[[v - 0.1 for v in r] for r in mean], hi=[[v + 0.1 for v in r] for r in mean])
    return Results(
        snr_db=[INF, 10.0],
        budget=Budget(eps=[0.0, 0.5, 1.0], jsr_db=[-INF, -12.0, -6.0], highlight=1.0, highlight_index=2,
                      eps_relative=[0.0, 0.1, 0.2], gain=1.5, num_symbols=5, mean_latent_norm=5.0, eps_unit="link",
                      mean_symbol_norm=7.5, axis="eps"),
        metrics={"ssim": MetricInfo(higher_is_better=True, limit=0.4, unit="", limit_source="study"),
                 "psnr": MetricInfo(higher_is_better=True, limit=18.0, unit="dB", cap=58.9)},
        metric_order=["ssim", "psnr"],
        link_order=["jammer", "noise"],
        curves={ln: {"ssim": curve, "psnr": curve} for ln in ("jammer", "noise")},
        aaddc={"jammer": {"ssim": [0.3, 0.2], "psnr": [0.0, 0.0]}, "noise": {}},
        breaking_budget={"jammer": {"ssim": BreakingBudget(eps=[0.75, INF], jsr_db=[-8.0, INF])}},
        equivalent_snr_loss_db={"jammer": {"ssim": [[0.0, 3.0, INF], [0.0, NAN, 1.0]]}},
        equivalent_snr_db={"jammer": {"ssim": [[INF, 30.0, -INF], [10.0, NAN, 9.0]]}},
        equivalent_snr_status={"jammer": {"ssim": [["best", "ok", "beyond"], ["ok", "nan", "ok"]]}},
        paired_gap={"ssim": curve},
        reference_curve=ReferenceCurve(snr_db=[0.0, 10.0, INF], channel="noise-jammer",
                                       curves={"ssim": Curve(mean=[[0.2, 0.7, 0.9]], lo=[[0.1, 0.6, 0.9]],
                                                             hi=[[0.3, 0.8, 0.9]])}),
        convergence=Convergence(steps=20, half_steps=10, distance_half=[[NAN, 0.1, 0.2], [NAN, 0.1, 0.3]],
                                distance_final=[[NAN, 0.1, 0.25], [NAN, 0.12, 0.3]], restarts=1, mode="apgd",
                                precision="fp32", distance="mse", targeted=False, control_variate=True),
        draws=2,
        latent_bars=LatentBars(snr_db=INF, eps=1.0, z_abs=[1.0, 2.0], z_adv_abs=[1.5, 2.5], delta_abs=[0.5, 0.5]),
        channel="pgd-jammer", control="noise-jammer", reference="input", dataset="mnist-5k", n_images=4,
        skipped_metrics={"lpips": "no weights"},
        manifest=Manifest(versions={"channelae": "0.1.0"}, seed=0, command="channelae simulate",
                          config={"snr_db": ["inf", 10.0], "eps": [0.5]}, config_hash="abc", checkpoint="/ckpt",
                          checkpoint_sha256="00", model={"latent_dim": 10}, created="2026-01-01T00:00:00+00:00"),
    )


# ------------------------------------------------------------------------------------ non-finite numbers


def test_nonfinite_numbers_are_strings_in_strict_json() -> None:
    doc = {"a": [INF, -INF, NAN, 1.5, 2], "b": {"c": (INF,)}, 3: "inf text stays"}
    assert encode_json(doc) == {"a": ["inf", "-inf", "nan", 1.5, 2], "b": {"c": ["inf"]}, "3": "inf text stays"}
    back = _strict_loads(dumps_json(doc))
    assert back["a"][:2] == ["inf", "-inf"]
    assert [decode_number(v) for v in back["a"][:2]] == [INF, -INF]
    assert math.isnan(decode_number("nan"))
    assert decode_number(7) == 7 and isinstance(decode_number(7), int)  # ints stay ints (round trip)


@pytest.mark.parametrize("bad", ["Infinity", "+inf", "1.5", "", "INF"])
def test_decode_number_accepts_only_the_three_tokens(bad: str) -> None:
    with pytest.raises(ValueError, match="inf, -inf, nan"):
        decode_number(bad)


@pytest.mark.parametrize("bad", [None, True, [1.0], {"x": 1}])
def test_decode_number_refuses_non_numbers(bad) -> None:
    with pytest.raises(TypeError):
        decode_number(bad)


def test_labels_and_formats() -> None:
    assert snr_label(INF) == "noiseless" and snr_label(10.0) == "SNR 10 dB" and snr_label(-INF) == "SNR -inf dB"
    assert [format_number(v) for v in (INF, "-inf", NAN, None, 0.123456, 3)] == ["∞", "-∞", "n/a", "", "0.1235", "3"]


# ------------------------------------------------------------------------------------------ round trip


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    res = sample_results()
    f = res.save(tmp_path)
    assert f == tmp_path / "results.json"
    text = f.read_text()
    doc = _strict_loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert doc["snr_db"] == ["inf", 10.0] and doc["budget"]["jsr_db"][0] == "-inf"
    back = load(tmp_path)
    assert back.to_json() == text  # byte for byte
    assert back.snr_db == [INF, 10.0] and back.budget.jsr_db[0] == -INF
    assert math.isnan(back.curves["jammer"]["ssim"].mean[1][2])
    assert back.breaking_of("jammer", "ssim").eps == [0.75, INF]
    assert back.manifest.config["snr_db"] == ["inf", 10.0]  # the manifest's config is kept as written
    assert back.budget.eps_unit == "link" and back.budget.relative_to == "mean ‖s‖" and back.draws == 2
    assert back.gap_of("ssim").mean[0] == [0.9, 0.6, 0.2] and back.gap_of("psnr") is None
    assert back.reference_curve.snr_db == [0.0, 10.0, INF] and back.convergence.steps == 20
    assert back.convergence.control_variate and back.convergence.relative_gain()[1, 2] == 0.0
    assert back.equivalent_snr_status["jammer"]["ssim"][0] == ["best", "ok", "beyond"]
    assert back.metrics["psnr"].cap == 58.9 and back.metrics["ssim"].limit_source == "study"
    assert load(f).to_json() == text  # the file itself, not only its directory


def test_unknown_keys_survive_a_round_trip(tmp_path: Path) -> None:
    doc = json.loads(sample_results().to_json())
    doc["future_field"] = {"jammer": [1, 2]}
    doc["manifest"]["host"] = "x"
    (tmp_path / "results.json").write_text(json.dumps(doc))
    res = load(tmp_path)
    assert res.extra == {"future_field": {"jammer": [1, 2]}} and res.manifest.extra == {"host": "x"}
    assert json.loads(res.to_json()) == doc


def test_accessors() -> None:
    res = sample_results()
    assert res.links == ["jammer", "noise"] and res.metric_names == ["ssim", "psnr"]
    assert res.main_link == "jammer" and res.control_link == "noise"
    assert res.link_title("jammer") == "PGD jammer" and res.link_title("noise").startswith("noise jammer")
    assert res.aaddc_of("noise", "ssim") is None and res.aaddc_of("jammer", "ssim") == [0.3, 0.2]
    assert res.breaking_of("noise", "ssim") is None
    mean, lo, hi = res.curve("jammer", "ssim").arrays()
    assert mean.shape == lo.shape == hi.shape == (2, 3)
    assert res.snr_grid().tolist() == [INF, 10.0] and res.budget.grid().tolist() == [0.0, 0.5, 1.0]
    assert [(ln, m) for ln, m, _ in res.iter_curves()][:2] == [("jammer", "ssim"), ("jammer", "psnr")]
    rows = res.to_csv().splitlines()
    assert rows[0] == CSV_HEADER
    # 2 links × 2 metrics × 2 SNR × 3 ε, the paired gap of ssim (2 × 3), the reference curve of ssim (3 points)
    assert len(rows) == 1 + 2 * 2 * 2 * 3 + 2 * 3 + 3
    assert "jammer,ssim,inf,0,link,-inf,0,0.9,0.8,1,inf,0,best" in rows
    assert "jammer,psnr,10.0,0.5,link,-12,0.1,0.5,0.4,0.6,,," in rows
    assert "jammer-noise,ssim,inf,1,link,-6,0.2,0.2,0.1,0.3,,," in rows
    assert "noise-only,ssim,10.0,0,link,-inf,0,0.7,0.6,0.8,,," in rows


# --------------------------------------------------------------------------------------------- versions


def _version_1_doc() -> dict:
    """A results.json as schema version 1 wrote it: ε in latent units (no eps_unit), none of version 2's fields."""
    doc = json.loads(sample_results().to_json())
    for key in ("equivalent_snr_db", "equivalent_snr_status", "paired_gap", "reference_curve", "convergence",
                "draws"):
        del doc[key]
    for key in ("eps_unit", "mean_symbol_norm", "axis"):
        del doc["budget"][key]
    for m in doc["metrics"].values():
        m.pop("cap", None)
        m.pop("limit_source", None)
    doc["schema_version"] = 1
    return doc


def test_version_0_file_without_orders_is_converted(tmp_path: Path) -> None:
    """Files written before schema_version existed; the first ones also lacked metric_order/link_order."""
    doc = _version_1_doc()
    for key in ("schema_version", "metric_order", "link_order"):
        del doc[key]
    (tmp_path / "results.json").write_text(json.dumps(doc, sort_keys=True))
    res = load(tmp_path)
    assert res.schema_version == SCHEMA_VERSION
    assert res.metric_names == ["psnr", "ssim"]  # the (sorted) key order is all such a file has
    assert res.links == ["jammer", "noise"]
    assert json.loads(res.to_json())["schema_version"] == SCHEMA_VERSION
    assert res.budget.eps_unit == "latent"


def test_version_1_file_is_read_as_latent_units(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(_version_1_doc()))
    res = load(tmp_path)
    assert res.schema_version == SCHEMA_VERSION
    assert res.budget.eps_unit == "latent" and res.budget.relative_to == "mean ‖z‖"
    assert res.budget.mean_symbol_norm == pytest.approx(1.5 * 5.0)  # g · mean ‖z‖
    assert res.paired_gap == {} and res.reference_curve is None and res.convergence is None and res.draws == 1
    assert res.curve("jammer", "ssim").mean[0] == [0.9, 0.6, 0.2]
    rows = res.to_csv().splitlines()
    assert rows[0] == CSV_HEADER and len(rows) == 1 + 2 * 2 * 2 * 3
    assert "jammer,ssim,inf,0,latent,-inf,0,0.9,0.8,1,,0," in rows  # its stored losses, no s′


def test_newer_schema_is_refused_with_one_line(tmp_path: Path) -> None:
    doc = json.loads(sample_results().to_json())
    doc["schema_version"] = SCHEMA_VERSION + 1
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="newer than this channelae reads.*channelae simulate") as info:
        load(tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("mutate", [
    lambda d: d["curves"]["jammer"]["ssim"]["mean"].pop(),          # [S-1][E]
    lambda d: d["snr_db"].__setitem__(0, "Infinity"),               # a foreign non-finite token
    lambda d: d.pop("budget"),
    lambda d: d["metrics"]["ssim"].__setitem__("higher_is_better", "yes"),
    lambda d: d["budget"].__setitem__("highlight_index", 7),
])
def test_malformed_files_are_one_line_usage_errors(tmp_path: Path, mutate) -> None:
    doc = json.loads(sample_results().to_json())
    mutate(doc)
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="is not a channelae results file.*regenerate") as info:
        load(tmp_path)
    assert "\n" not in str(info.value) and info.value.argument == "RESULTS_DIR"


def test_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no results.json in .*channelae simulate --out"):
        load(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(UsageError, match="is not a channelae results file"):
        load(tmp_path)
