"""``channelae simulate --link digital`` end to end (in-process CLI): BER/BLER, channel uses, JSR on n_c,
common random numbers with the noise control, equal bandwidth, usage errors.

Runs use the small ``trained_checkpoint`` (swt-vae, d = 10: the analog link sends n = 5 symbols), 4 images,
a 5-step PGD jammer, ``ssim`` only and ``--no-plots``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from _cli import run_cli

from channelae.errors import UsageError

FAST = ["--n-images", "4", "--metrics", "ssim", "--no-plots", "--quiet", "--device", "cpu"]
#: 4 bits × 10 dimensions = 40 payload bits; rate 1/2 on 16-QAM: n_cw = 4·ceil(40 / 2) = 80 coded bits, one
#: codeword, n_c = 80 / 4 = 20 channel uses (channelae.digital.plan's rule, by hand).
N_C = 20
DIGITAL = ["simulate", "--link", "digital", "--bits", "4", "--code-rate", "0.5", "--qam", "16",
           "--channel", "awgn+pgd-jammer", "--jsr-db=-10,0", "--snr-db", "10,inf", "--steps", "5", *FAST]


def num(v) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity").replace("nan", "NaN"))


@pytest.fixture(scope="module")
def digital_run(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("digital")
    code, stdout, stderr = run_cli([*DIGITAL, "--checkpoint", trained_checkpoint, "--out", out])
    assert code == 0, stderr
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"out": out, "doc": doc, "stdout": stdout}


def test_results_carry_ber_and_bler_per_snr_and_budget_for_both_links(digital_run: dict) -> None:
    doc = digital_run["doc"]
    S, E = len(doc["snr_db"]), len(doc["budget"]["eps"])
    assert (S, E) == (2, 3)  # ε = 0 added to the two JSR points
    for link in ("jammer", "noise"):
        for rate in ("ber", "coded_ber", "bler"):
            c = doc["curves"][link][rate]
            mean = [[num(v) for v in row] for row in c["mean"]]
            assert len(mean) == S and all(len(row) == E for row in mean)
            assert all(0.0 <= v <= 1.0 for row in mean for v in row)
            lows = [num(v) for row in c["lo"] for v in row]
            assert all(lo <= m + 1e-12 for lo, m in zip(lows, [v for row in mean for v in row], strict=True))
    assert doc["metrics"]["ber"]["higher_is_better"] is False
    assert "ber" in doc["paired_gap"] and "bler" in doc["paired_gap"]


def test_noiseless_jammer_free_link_delivers_the_quantised_latent(digital_run: dict) -> None:
    doc = digital_run["doc"]
    si = [num(s) for s in doc["snr_db"]].index(math.inf)
    for rate in ("ber", "coded_ber", "bler"):
        assert num(doc["curves"]["jammer"][rate]["mean"][si][0]) == 0.0
    # a budget of JSR 0 dB (the jammer's power equals the signal's) through PGD breaks blocks
    assert num(doc["curves"]["jammer"]["bler"]["mean"][si][-1]) > 0.0


def test_jammer_and_noise_control_share_the_jammer_free_rows(digital_run: dict) -> None:
    doc = digital_run["doc"]
    for m in ("ssim", "ber", "coded_ber", "bler"):
        for si in range(len(doc["snr_db"])):
            assert doc["curves"]["jammer"][m]["mean"][si][0] == doc["curves"]["noise"][m]["mean"][si][0]


def test_channel_uses_and_jsr_on_the_digital_symbols(digital_run: dict) -> None:
    doc = digital_run["doc"]
    dig, budget = doc["digital"], doc["budget"]
    assert dig["num_channel_uses"] == N_C and dig["analog_channel_uses"] == 5
    assert (dig["bits"], dig["qam"], dig["num_codewords"]) == (4, 16, 1)
    assert budget["num_symbols"] == N_C and budget["gain"] == 1.0 and budget["eps_unit"] == "link"
    eps = [num(e) for e in budget["eps"]]
    jsr = [num(j) for j in budget["jsr_db"]]
    assert eps[0] == 0.0 and jsr[0] == -math.inf
    for e, j in zip(eps[1:], jsr[1:]):
        assert j == pytest.approx(10 * math.log10(e**2 / N_C), abs=1e-6)  # JSR = ε²/n_c
    assert jsr[1:] == pytest.approx([-10.0, 0.0], abs=1e-6)
    assert eps[-1] == pytest.approx(math.sqrt(N_C))


def test_summary_names_the_digital_link_and_both_channel_use_counts(digital_run: dict) -> None:
    text = " ".join(digital_run["stdout"].split())
    assert "digital link" in text
    assert f"n_c = {N_C} channel uses" in text and "n = 5" in text


def test_csv_and_per_image_file_hold_the_error_rates(digital_run: dict) -> None:
    out = digital_run["out"]
    with open(out / "results.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for link in ("jammer", "noise", "jammer-noise"):
        for rate in ("ber", "bler"):
            assert sum(r["link"] == link and r["metric"] == rate for r in rows) == 2 * 3
    from safetensors.torch import load_file

    per = load_file(str(out / "per_image.safetensors"))
    assert tuple(per["jammer.ber"].shape) == (2, 3, 4)
    doc = digital_run["doc"]
    assert per["noise.bler"].mean(-1).flatten().tolist() == pytest.approx(
        [num(v) for row in doc["curves"]["noise"]["bler"]["mean"] for v in row])


def test_digital_link_over_ofdm_with_the_pgd_jammer(trained_checkpoint: Path, tmp_path: Path) -> None:
    """``--link digital`` with the jammer on an OFDM resource grid (TDL-A, LS estimation): it runs end to end,
    the digital symbols travel on the grid (JSR over the signal REs), the budget-0 rows of the jammer and the
    noise control are identical (common random numbers) and a JSR 0 dB jammer breaks blocks at 20 dB."""
    code, _, stderr = run_cli(["simulate", "--link", "digital", "--bits", "4", "--code-rate", "0.5", "--qam", "16",
                               "--channel", "ofdm+pgd-jammer", "--jsr-db=-20,0", "--snr-db", "20", "--steps", "4",
                               *FAST, "--checkpoint", trained_checkpoint, "--out", tmp_path])
    assert code == 0, stderr
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert doc["digital"]["num_channel_uses"] == N_C and doc["channel"] == "ofdm+pgd-jammer"
    assert [num(j) for j in doc["budget"]["jsr_db"][1:]] == pytest.approx([-20.0, 0.0], abs=1e-9)
    for m in ("ssim", "ber", "coded_ber", "bler"):
        assert doc["curves"]["jammer"][m]["mean"][0][0] == doc["curves"]["noise"][m]["mean"][0][0]
    assert num(doc["curves"]["jammer"]["bler"]["mean"][0][-1]) > num(doc["curves"]["jammer"]["bler"]["mean"][0][0])


def test_equal_bandwidth_uses_the_analog_channel_uses(trained_checkpoint: Path, tmp_path: Path) -> None:
    code, _, stderr = run_cli(["simulate", "--link", "digital", "--equal-bandwidth", "--channel", "awgn",
                                    "--snr-db", "inf", "--n-images", "2", "--metrics", "ssim", "--no-plots",
                                    "--quiet", "--device", "cpu", "--checkpoint", trained_checkpoint,
                                    "--out", tmp_path])
    assert code == 0, stderr
    dig = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["digital"]
    # d = 10 on n = 5 symbols: 3 bits (30 payload bits) on 256-QAM at rate 30/40 = 0.75 (the rule, by hand)
    assert dig["num_channel_uses"] == dig["analog_channel_uses"] == 5
    assert (dig["bits"], dig["qam"], dig["code_rate"]) == (3, 256, 0.75)


def test_equal_bandwidth_impossible_says_why() -> None:
    from channelae.digital.simulation import grid_units
    from channelae.simulate import SimulationConfig

    cfg = SimulationConfig(link="digital", equal_bandwidth=True)
    with pytest.raises(UsageError, match="equal bandwidth is impossible for latent_dim=1") as info:
        grid_units(cfg, {"config": {"latent_dim": 1}})  # 1 symbol: at most 10 coded bits, a 5G block needs 12
    assert info.value.argument == "--equal-bandwidth"
    assert grid_units(cfg, {"config": {"latent_dim": 10}}) == (1.0, 5)


@pytest.mark.parametrize(("args", "flag"), [
    (["--bits", "4"], "--bits"),  # digital option on the analog link
    (["--equal-bandwidth"], "--equal-bandwidth"),
    (["--link", "digital", "--bits", "17"], "--bits"),
    (["--link", "digital", "--qam", "32"], "--qam"),
    (["--link", "digital", "--code-rate", "0.99"], "--code-rate"),
    (["--link", "digital", "--eps-unit", "latent"], "--eps-unit"),
    (["--link", "digital", "--channel", "ofdm+pgd-jammer", "--channel-option", "res=pilots"], "--channel-option"),
])
def test_bad_combinations_are_one_usage_line(trained_checkpoint: Path, tmp_path: Path, args: list, flag: str) -> None:
    code, _, stderr = run_cli(["simulate", *args, *FAST, "--checkpoint", trained_checkpoint,
                                    "--out", tmp_path])
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], stderr
    assert not (tmp_path / "results.json").exists()


def test_cli_link_choices_are_the_library_set() -> None:
    from channelae.cli import _LinkKind
    from channelae.digital.simulation import LINKS

    assert tuple(c.value for c in _LinkKind) == LINKS


# ------------------------------------------------------------------------------------ analog_vs_digital plot


def _results(digital: bool, shift: float = 0.0):
    """A small jammed results object: 3 SNR points (one noiseless), ε = 0 and JSR -10, 0 dB, ssim only."""
    from channelae.results import Budget, Curve, MetricInfo, ReferenceCurve, Results

    def curve(drop: float) -> Curve:
        mean = [[0.8 - 0.1 * s - drop * e + shift for e in range(3)] for s in range(3)]
        return Curve(mean=mean, lo=[[v - 0.02 for v in row] for row in mean],
                     hi=[[v + 0.02 for v in row] for row in mean])

    n = 5
    extra = {"digital": {"bits": 3, "qam": 256, "code_rate": 0.75, "coded": True, "num_channel_uses": n,
                         "analog_channel_uses": 5}} if digital else {}
    ref = ReferenceCurve(snr_db=[0.0, 5.0, 10.0, 20.0, math.inf], channel="awgn+noise-jammer",
                         curves={"ssim": Curve(mean=[[0.4, 0.5, 0.6, 0.7, 0.8]], lo=[[0.3] * 5], hi=[[0.9] * 5])})
    return Results(snr_db=[20.0, 10.0, math.inf], budget=Budget(
        eps=[0.0, math.sqrt(n / 10), math.sqrt(n)], jsr_db=[-math.inf, -10.0, 0.0], highlight=math.sqrt(n),
        highlight_index=2, num_symbols=n, gain=1.0, axis="jsr_db"),
        metrics={"ssim": MetricInfo(higher_is_better=True, limit=0.4)},
        curves={"jammer": {"ssim": curve(0.2)}, "noise": {"ssim": curve(0.1)}}, link_order=["jammer", "noise"],
        channel="awgn+pgd-jammer", control="awgn+noise-jammer", dataset="mnist-5k", n_images=4,
        reference_curve=ref, extra=extra)


def test_analog_vs_digital_plot_draws_every_link_and_jsr() -> None:
    from channelae.plots.analog_digital import build, link_kind, link_label

    analog, digital = _results(False), _results(True, shift=-0.05)
    assert (link_kind(analog), link_kind(digital)) == ("analog", "digital")
    fig = build({link_label(analog): [analog], link_label(digital): [digital, _results(True, shift=-0.03)]})
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["JSR -10 dB", "JSR 0 dB"]
    for ax in axes:  # per link: no jammer, PGD, noise
        assert len(ax.get_lines()) == 6
        xs = ax.get_lines()[1].get_xdata()
        assert list(xs) == [10.0, 20.0]  # finite SNR points, ascending
    # the PGD line of the analog link at JSR 0 dB: the ε index 2 means at 10 and 20 dB
    pgd = axes[1].get_lines()[1].get_ydata()
    assert list(pgd) == pytest.approx([0.8 - 0.1 - 0.4, 0.8 - 0.4])
    # two digital seeds: the mean of the seeds' means
    dig = axes[1].get_lines()[4].get_ydata()
    assert list(dig) == pytest.approx([0.8 - 0.1 - 0.4 - 0.04, 0.8 - 0.4 - 0.04])
    assert build({"a": [analog]}, jsr_db=[-30.0]) is None  # no such budget: nothing to draw


def test_analog_vs_digital_plot_of_a_run_folder(tmp_path: Path) -> None:
    from channelae.plots import render_analog_digital

    runs = []
    for label, digital in (("analog", False), ("digital", True)):
        _results(digital).save(tmp_path / "swt-vae" / label)
        runs.append({"model": "swt-vae", "seed": 0, "simulation": label, "reference": "input",
                     "dir": f"swt-vae/{label}"})
    paths = render_analog_digital(tmp_path, {"runs": runs}, formats=["png"])
    assert paths == [tmp_path / "analog_vs_digital.png"] and paths[0].stat().st_size > 10_000
    assert render_analog_digital(tmp_path, {"runs": runs[:1]}) == []  # analog only: no figure, stale one removed
    assert not paths[0].exists()
