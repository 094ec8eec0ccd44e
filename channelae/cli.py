"""Command-line interface: parses, calls the library, prints. Heavy imports happen inside commands.

User mistakes (``UsageError``, click's usage errors) print one line ``error: <argument>: <what>`` on stderr
and exit with code 2; no traceback. Mistakes visible in the arguments alone (grids, registry names, choices,
``--limit`` syntax, missing ``--checkpoint``/``--target`` files) are refused before torch is imported, in well
under a second. Bare ``channelae`` prints the help on stdout and exits with code 0; ``channelae --version``
prints the version.

Every option's help shows its default. Options whose default belongs to a channel (``--distance``,
``--mode``, ``--eot``, ...) show the library's default but reach the library only when given on the command
line (:func:`_given`): a channel without a PGD stage refuses PGD options, and each stage applies its own.
"""

from __future__ import annotations

import difflib
import os
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from channelae._timing import lap as _lap
from channelae.attack_defaults import DEFAULT_ATTACK_PRECISION, DEFAULT_EOT, DEFAULT_STEPS

#: The arguments of the running command (recorded in result manifests).
_ARGV: list[str] = []

app = typer.Typer(
    name="channelae",
    help="Autoencoders as communication links: train, simulate channels and jammers, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _print_version(value: bool) -> None:
    if value:
        from channelae import __version__

        typer.echo(f"channelae {__version__}")
        raise typer.Exit()


def _choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum for an option with a fixed set of values: typer lists them in the help and refuses others
    before anything is imported. ``tests/test_cli.py`` checks each set against the library's constant."""
    return Enum(name, [(v, v) for v in values], type=str)


# The library's sets (attacks.DISTANCES, attacks.MODES, channels._budget.PLACEMENTS, simulate.REFERENCES,
# link.receiver.EQUALIZERS, attacks.TARGETS, definitions.EPS_UNITS), repeated here because importing them
# imports torch.
_Distance = _choice("Distance", ("mse", "l1", "ssim", "lpips"))
_Mode = _choice("Mode", ("apgd", "strong", "faithful"))
_Placement = _choice("Placement", ("rx", "tx"))
_Norm = _choice("Norm", ("l2", "linf"))  # attacks.NORMS
_Reference = _choice("Reference", ("input", "reconstruction"))
_Equalizer = _choice("Equalizer", ("lmmse", "zf", "none"))
_EpsUnit = _choice("EpsUnit", ("link", "latent"))
_LinkKind = _choice("LinkKind", ("analog", "digital"))  # digital.simulation.LINKS
_Precision = _choice("AttackPrecision", ("fp32", "bf16", "auto"))  # attacks.PRECISIONS
_DEFAULT_PRECISION = _Precision(DEFAULT_ATTACK_PRECISION)
_AdvMode = _choice("AdvMode", ("strong", "faithful"))  # hardening.ADV_MODES
_TARGETS = ("black", "white", "random", "inverted")


@app.callback()
def _main(
    plugin: Annotated[list[str] | None, typer.Option(help="Python file or module registering extra channels/models/metrics (repeatable; also $CHANNELAE_PLUGINS).", show_default="none")] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)] = False,
) -> None:
    """Autoencoders as communication links: train, simulate channels and jammers, report."""
    items = list(plugin or [])
    import os

    if items or os.environ.get("CHANNELAE_PLUGINS"):
        from channelae.plugins import load_plugins, plugins_from_env

        load_plugins(plugins_from_env() + items)


_Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (no silent fallback).")]
_Seed = Annotated[int, typer.Option(help="Seed for initialisation, shuffling, noise and attacks.")]
_DataDir = Annotated[Path | None, typer.Option(help="Directory searched first for data sets.", show_default="none: $CHANNELAE_DATA, the cache, /usr/share/datasets")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or progress messages (errors still print).")]
_PlotFormat = Annotated[str, typer.Option("--plot-format", help="Plot file formats: comma list of png, pdf, svg (pdf and svg are vector, for papers).")]
_Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the channelae files (results, plots, an unfinished run) in the results folder instead of refusing other settings; other files there are kept.")]
_Tsne = Annotated[bool, typer.Option("--tsne", help="Also draw the t-SNE plot of clean vs received latents, coloured by class (takes seconds).")]


@app.command()
def train(
    model: Annotated[str, typer.Option(help="Model family (see `channelae list`).")] = "swt-vae",
    dataset: Annotated[str, typer.Option(help="Data set (see `channelae list`).")] = "mnist-5k",
    latent_dim: Annotated[int | None, typer.Option(help="Latent size d.", show_default="per data set")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 5,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    lam: Annotated[float | None, typer.Option(help="Regulariser weight λ.", show_default="per family")] = None,
    beta: Annotated[float, typer.Option(help="β of the total-correlation term (tc-vae).")] = 1.0,
    seed: _Seed = 0,
    out: Annotated[Path | None, typer.Option(help="Checkpoint directory.", show_default="the model cache")] = None,
    device: _Device = "auto",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = False,
    data_dir: _DataDir = None,
    adversarial: Annotated[bool, typer.Option(help="Latent adversarial training (study Algorithm 1).")] = False,
    noise_train: Annotated[bool, typer.Option(help="Noise training at equal power (the natural baseline).")] = False,
    adv_eps: Annotated[float, typer.Option(help="Hardening budget ε (latent L2 per example).")] = 0.05,
    adv_m: Annotated[int, typer.Option(help="Decoder updates per step (M).")] = 1,
    adv_k: Annotated[int, typer.Option(help="PGD steps (K).")] = 10,
    adv_distance: Annotated[str, typer.Option(help="PGD distance for hardening: ssim, mse, l1.")] = "ssim",
    adv_snr_db: Annotated[float | None, typer.Option(help="Receiver SNR in dB during hardening.", show_default="noiseless")] = None,
    adv_mode: Annotated[_AdvMode, typer.Option(help="Inner attack of --adversarial: strong (the project's PGD: L2 steps, random start, best iterate) or faithful (the study's Eq. 6: sign steps, final iterate).")] = _AdvMode.strong,
    quiet: _Quiet = False,
) -> None:
    """Train an autoencoder and write a checkpoint (safetensors + JSON)."""
    from channelae.data import DATASETS
    from channelae.models import MODELS

    MODELS.check(model)  # before torch is imported
    DATASETS.check(dataset)
    from channelae import zoo

    harden = None
    if adversarial and noise_train:
        from channelae.errors import UsageError

        raise UsageError("choose one of --adversarial and --noise-train", "--noise-train")
    if _value(adv_mode) != "strong" and not adversarial:
        from channelae.errors import UsageError

        raise UsageError("sets the inner attack of --adversarial; add --adversarial (noise training has no attack)",
                         "--adv-mode")
    if adversarial or noise_train:
        from channelae.hardening import HardeningConfig

        harden = HardeningConfig(kind="adversarial" if adversarial else "noise", eps=adv_eps, m=adv_m,
                                 k=adv_k, distance=adv_distance, snr_db=adv_snr_db, mode=_value(adv_mode))
    result = zoo.train(model, dataset, latent_dim=latent_dim, epochs=epochs, batch_size=batch_size, lr=lr,
                       lam=lam, beta=beta, seed=seed, out=out, device=device, resume=resume,
                       progress=not quiet, data_dir=data_dir, harden=harden)
    val = result.meta.get("val", {})
    typer.echo(f"checkpoint: {result.out_dir}")
    typer.echo(f"val_mse={val.get('val_mse', float('nan')):.5f} val_ssim={val.get('val_ssim', float('nan')):.4f} "
               f"P_ref={result.meta['p_ref']:.4g} ({result.meta['train_seconds']:.1f} s)")


@app.command()
def simulate(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option(help="Channel spec; compose with '+', e.g. awgn+pgd-jammer.")] = "pgd-jammer",
    eps: Annotated[str | None, typer.Option(help="Budget ε (L2 norm per example, in --eps-unit): E (grid 0…E in 10 steps), a,b,c or start:stop:step.", show_default="the data set's grid")] = None,
    jsr_db: Annotated[str | None, typer.Option(help="Or budget as jammer-to-signal ratio in dB (same forms; plots then use JSR as x axis).", show_default="none: use --eps")] = None,
    eps_unit: Annotated[_EpsUnit, typer.Option(help="Unit of ε: link (perturbation of the transmitted symbols, Es = 1, JSR = ε²/n: comparable across models) or latent (the study's latent L2 norm).")] = _EpsUnit.link,
    snr_db: Annotated[str, typer.Option(help="SNR Es/N0 in dB per complex symbol: value, list or range; 'inf' = noiseless.")] = "inf,20,10,5",
    model: Annotated[str, typer.Option(help="Model family (its cached default-settings model, trained on first use), a cached model name (`channelae models`) or a checkpoint path.")] = "swt-vae",
    checkpoint: Annotated[Path | None, typer.Option(help="Trained checkpoint directory (instead of --model).", show_default="none: use --model")] = None,
    dataset: Annotated[str | None, typer.Option(help="Data set.", show_default="the checkpoint's")] = None,
    n_images: Annotated[int, typer.Option(help="Images of the evaluation split (more for tighter intervals, e.g. 500).")] = 32,
    draws: Annotated[int, typer.Option(help="Channel realisations per image, averaged per image (jammer and noise control always see the same ones).")] = 1,
    target: Annotated[str | None, typer.Option(help="Targeted attack: black, white, random, inverted or an image file.", show_default="none: untargeted")] = None,
    distance: Annotated[_Distance, typer.Option(help="Attack distance D (ssim: 1 − SSIM).")] = _Distance.mse,
    mode: Annotated[_Mode, typer.Option(help="Attack search (faithful: the study's Eq. 6).")] = _Mode.apgd,
    eot: Annotated[int | None, typer.Option(help="Channel draws averaged per PGD step.", show_default=f"{DEFAULT_EOT} through a random link for apgd, else 1")] = None,
    steps: Annotated[int | None, typer.Option(help="PGD steps K.", show_default=f"{DEFAULT_STEPS} for apgd, 10 for strong and faithful")] = None,
    attack_precision: Annotated[_Precision, typer.Option(help="Precision of the PGD jammer's search (auto: bf16 where the CPU/GPU has native bf16, else fp32); the perturbation it returns and every metric are evaluated in fp32.")] = _DEFAULT_PRECISION,
    restarts: Annotated[int, typer.Option(help="PGD random restarts (apgd and strong).")] = 1,
    norm: Annotated[_Norm, typer.Option(help="Jammer threat model: l2 (‖δ‖₂ ≤ ε) or linf (each real coordinate within ±ε/√(2n)).")] = _Norm.l2,
    placement: Annotated[_Placement, typer.Option(help="Jammer placement: at the receiver or the transmitter.")] = _Placement.rx,
    k_db: Annotated[float, typer.Option(help="Rician K-factor in dB.")] = 10.0,
    block_length: Annotated[int, typer.Option(help="Fading block length in symbols.")] = 1,
    metrics: Annotated[str, typer.Option(help="Comma list of ssim, psnr, mse, lpips, fid.")] = "ssim,psnr,mse,lpips",
    reference: Annotated[_Reference, typer.Option(help="Quality reference: input (x) or reconstruction (dec(z0)).")] = _Reference.input,
    limit: Annotated[list[str] | None, typer.Option(help="Limit line override METRIC=VALUE (repeatable).", show_default="each metric's study limit")] = None,
    channel_option: Annotated[list[str] | None, typer.Option(help="Further channel option NAME=VALUE, e.g. a plugin's phase_std_deg=20 (repeatable).", show_default="none")] = None,
    equalizer: Annotated[_Equalizer, typer.Option(help="Receiver equaliser.")] = _Equalizer.lmmse,
    link: Annotated[_LinkKind, typer.Option(help="analog: the latent on the channel; digital: the latent quantised on mean ± 3σ per dimension, 5G LDPC coded, QAM modulated (options below; budgets on its n_c symbols, JSR = ε²/n_c; BER/BLER reported).")] = _LinkKind.analog,
    bits: Annotated[int | None, typer.Option(help="Digital link: bits per latent dimension, 1-16.", show_default="6; --equal-bandwidth: the most that fit")] = None,
    code_rate: Annotated[float | None, typer.Option(help="Digital link: 5G LDPC rate in [0.2, 0.95], or 1 = uncoded; with --equal-bandwidth the largest rate allowed.", show_default="0.5; --equal-bandwidth: 0.75")] = None,
    qam: Annotated[int | None, typer.Option(help="Digital link: QAM order 4, 16, 64, 256 or 1024.", show_default="16; --equal-bandwidth: the smallest that fits")] = None,
    equal_bandwidth: Annotated[bool, typer.Option("--equal-bandwidth", help="Digital link: pick bits, rate and QAM so it uses the analog link's n = ceil(d/2) channel uses (an error says when impossible).")] = False,
    out: Annotated[Path, typer.Option(help="Results directory. Other settings there are refused (see --overwrite); the same settings resume an interrupted run or show the finished results.")] = Path("results/simulate"),
    overwrite: _Overwrite = False,
    seed: _Seed = 0,
    device: _Device = "auto",
    data_dir: _DataDir = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the plots.")] = False,
    plot_format: _PlotFormat = "png",
    tsne: _Tsne = False,
    tables: Annotated[bool, typer.Option("--tables", "--verbose", "-v", help="Also print the full tables (every budget, SNR and metric) after the summary.")] = False,
    quiet: _Quiet = False,
) -> None:
    """Simulate the link over SNR × jammer budget: print a one-screen summary, write results.json/csv and plots."""
    _check_simulate_args(channel=channel, eps=eps, jsr_db=jsr_db, snr_db=snr_db, metrics=metrics, limit=limit,
                         channel_option=channel_option, dataset=dataset, checkpoint=checkpoint, target=target)
    formats = _plot_formats(plot_format)  # after the checks that import nothing (numpy: ~0.2 s)
    model, distance, mode, eot, restarts, norm, placement, k_db, block_length, attack_precision = _given(
        ctx, model=model, distance=distance, mode=mode, eot=eot, restarts=restarts, norm=norm, placement=placement,
        k_db=k_db, block_length=block_length, attack_precision=attack_precision)
    reference, equalizer, eps_unit = _value(reference), _value(equalizer), _value(eps_unit)
    from channelae import report
    from channelae.grids import parse_grid
    from channelae.simulate import DEFAULT_SNR_DB, SimulationConfig
    from channelae.simulate import simulate as run

    _lap("import")
    cfg = SimulationConfig(
        channel=channel,
        eps=tuple(parse_grid(eps, "--eps", non_negative=True)) if eps is not None else None,
        jsr_db=tuple(parse_grid(jsr_db, "--jsr-db")) if jsr_db is not None else None,
        snr_db=tuple(parse_grid(snr_db, "--snr-db", allow_inf=True)) if snr_db is not None else DEFAULT_SNR_DB,
        n_images=n_images, target=target, distance=distance, mode=mode, eot=eot, steps=steps,
        restarts=restarts, norm=norm, placement=placement, k_db=k_db, block_length=block_length,
        metrics=tuple(_split_list(metrics, "--metrics")), reference=reference, equalizer=equalizer,
        limits=tuple(_parse_limits(limit or [])), channel_extra=tuple(_parse_channel_options(channel_option or [])),
        seed=seed, eps_unit=eps_unit, draws=draws, attack_precision=attack_precision,
        link=_value(link), bits=bits, code_rate=code_rate, qam=qam, equal_bandwidth=equal_bandwidth,
    )
    results = run(cfg, out, checkpoint=checkpoint, model=model, dataset=dataset, data_dir=data_dir,
                  device=device, progress=not quiet, command="channelae " + shlex.join(_ARGV), overwrite=overwrite)
    from rich.console import Console

    console = Console()
    report.print_summary(results, console)
    if tables:
        console.print()
        report.print_tables(results, console)
    _lap("summary")
    paths = []
    if not no_plots:
        from channelae.plots import render_plots

        paths = render_plots(out, results, formats=formats, tsne=tsne)
        _lap("plots")
    report.print_outputs(out, results, paths, console, tables_shown=tables)


@app.command("run")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="Experiment config (configs/*.toml).")],
    quick: Annotated[bool, typer.Option(help="Few epochs and images: the whole config in minutes.")] = False,
    dataset: Annotated[str | None, typer.Option(help="Run the config on another of its data sets.", show_default="the config's first")] = None,
    out: Annotated[Path | None, typer.Option(help="Results directory.", show_default="results/NAME-DATASET")] = None,
    seeds: Annotated[str | None, typer.Option(help="Model seeds, e.g. 0,1,2: each seed trains its own models and seeds its simulations; the summary gives means with 95 % t-intervals over seeds.", show_default="the config's seeds, else 0")] = None,
    device: _Device = "auto",
    data_dir: _DataDir = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the per-simulation plots (the combined DD-curves are still written).")] = False,
    overwrite: _Overwrite = False,
    plot_format: _PlotFormat = "png",
    tsne: _Tsne = False,
    quiet: _Quiet = False,
) -> None:
    """Run an experiment config: train what is missing (cached), simulate, write a combined table."""
    formats = _plot_formats(plot_format)
    from channelae.experiments.config import parse_seeds

    seed_list = parse_seeds(seeds) if seeds is not None else None  # before torch is imported
    from rich.console import Console
    from rich.markdown import Markdown

    from channelae.experiments import load_config, outputs_lines, run_experiment, summary_markdown

    cfg = load_config(config, dataset=dataset)
    summary = run_experiment(cfg, out, quick=quick, seeds=seed_list, device=device, progress=not quiet,
                             data_dir=data_dir, plots=not no_plots, plot_formats=formats, tsne=tsne,
                             overwrite=overwrite)
    console = Console()
    console.print(Markdown(summary_markdown(summary, compact=True)))
    for line in outputs_lines(summary):
        console.print(line, highlight=False, soft_wrap=True)


@app.command("report")
def report_cmd(
    results_dir: Annotated[Path, typer.Argument(help="A directory written by `channelae simulate` or `channelae run`.")],
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Only print the summary and the tables.")] = False,
    plot_format: _PlotFormat = "png",
    tsne: _Tsne = False,
) -> None:
    """Print the summary and the full tables, and re-render the plots, from results.json without recomputing."""
    formats = _plot_formats(plot_format)
    if (results_dir / "summary.json").is_file():  # a `channelae run` folder: its summary and combined plots
        from rich.console import Console
        from rich.markdown import Markdown

        from channelae.experiments import report_run

        text, paths = report_run(results_dir, plots=not no_plots, formats=formats)
        Console().print(Markdown(text))
        typer.echo(f"summary: {results_dir / 'summary.md'}")
        if paths:
            typer.echo(f"combined plots: {', '.join(p.name for p in paths)}")
        return
    from channelae import report

    paths = report.render(results_dir, plots=not no_plots, formats=formats, tsne=tsne)
    if paths:
        typer.echo(f"plots: {', '.join(p.name for p in paths)}")


def _plot_formats(text: str) -> tuple[str, ...]:
    """``--plot-format`` checked before any work (one usage-error line for an unknown format)."""
    from channelae.plots.style import check_formats

    return check_formats(text, "--plot-format")


def _value(choice: Any) -> Any:
    """The plain value of a choice option (a str Enum member)."""
    return choice.value if isinstance(choice, Enum) else choice


def _given(ctx: typer.Context, **options: Any) -> tuple[Any, ...]:
    """The values of ``options`` that were given on the command line, ``None`` for those left at the default.

    These options' help shows the library's default, but they reach the library only when given: a channel
    without a PGD stage refuses PGD options, and ``None`` lets each stage apply its own default.
    """
    values = []
    for name, value in options.items():
        source = ctx.get_parameter_source(name)
        given = source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
        values.append(_value(value) if given else None)
    return tuple(values)


def _check_simulate_args(*, channel: str, eps: str | None, jsr_db: str | None, snr_db: str, metrics: str,
                         limit: list[str] | None, channel_option: list[str] | None, dataset: str | None,
                         checkpoint: Path | None, target: str | None) -> None:
    """Refuse the mistakes visible in ``simulate``'s arguments alone before torch is imported (< 1 s): grids,
    channel/metric/data set names, ``--limit``/``--channel-option`` syntax, missing ``--checkpoint`` and
    ``--target`` files. The library checks all of it again, with the same messages."""
    from channelae.channels import check_channel_spec
    from channelae.data import DATASETS
    from channelae.errors import UsageError
    from channelae.grids import parse_grid
    from channelae.metrics import METRICS

    if eps is not None:
        parse_grid(eps, "--eps", non_negative=True)
    if jsr_db is not None:
        parse_grid(jsr_db, "--jsr-db")
    parse_grid(snr_db, "--snr-db", allow_inf=True)
    check_channel_spec(channel)
    for name in _split_list(metrics, "--metrics"):
        METRICS.check(name)
    if dataset is not None:
        DATASETS.check(dataset)
    _parse_limits(limit or [])
    _parse_channel_options(channel_option or [])
    if checkpoint is not None and not checkpoint.expanduser().exists():
        raise UsageError(f"{checkpoint} does not exist (a channelae checkpoint is a directory written by "
                         "`channelae train`; `channelae models` lists the cached ones)", "--checkpoint")
    if target is not None and target not in _TARGETS and not Path(target).expanduser().exists():
        close = difflib.get_close_matches(target.lower(), _TARGETS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"{target!r} is neither a target name nor an existing image file; {hint}"
                         f"allowed: {', '.join(_TARGETS)} or an image file", "--target")


def _split_list(text: str, argument: str) -> list[str]:
    from channelae.errors import UsageError

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError("needs at least one name", argument)
    return items


def _parse_limits(items: list[str]) -> list[tuple[str, float]]:
    from channelae.errors import UsageError
    from channelae.grids import parse_values

    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{item!r} must look like METRIC=VALUE, e.g. ssim=0.4", "--limit")
        out.append((name.strip(), parse_values(value, "--limit")[0]))
    return out


def _parse_channel_options(items: list[str]) -> list[tuple[str, Any]]:
    """``NAME=VALUE`` pairs; VALUE is read as an integer, a number, ``true``/``false`` or else as text."""
    from channelae.errors import UsageError

    def value_of(text: str) -> Any:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text.strip("\"'")

    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{item!r} must look like NAME=VALUE, e.g. phase_std_deg=20", "--channel-option")
        out.append((name.strip().replace("-", "_"), value_of(value.strip())))
    return out


@app.command("list")
def list_components() -> None:
    """List registered models, data sets, channels and metrics."""
    from channelae.data import DATASETS
    from channelae.models import MODELS

    typer.echo("models:   " + ", ".join(MODELS.names()))
    typer.echo("datasets: " + ", ".join(DATASETS.names()))
    try:
        from channelae.channels import CHANNELS
        from channelae.metrics import METRICS

        typer.echo("channels: " + ", ".join(CHANNELS.names()) + "  (compose with '+', e.g. rayleigh+pgd-jammer)")
        typer.echo("metrics:  " + ", ".join(METRICS.names()))
    except ImportError:  # pragma: no cover - during partial installs
        pass


@app.command("models")
def models_cmd() -> None:
    """List the cached trained models (what --model accepts besides a family name or a checkpoint path)."""
    from rich import box
    from rich.table import Table

    from channelae import zoo
    from channelae.paths import model_cache_dir

    entries = zoo.list_models()
    console = _wide_console()
    if not entries:
        typer.echo(f"no cached models in {model_cache_dir()} (`channelae train` or `channelae simulate` adds them)")
        return
    table = Table(title=f"cached models in {model_cache_dir()}", title_justify="left", box=box.SIMPLE_HEAD)
    for col, just in (("name (--model NAME)", "left"), ("family", "left"), ("data set", "left"),
                      ("epochs", "right"), ("seed", "right"), ("d", "right"), ("val SSIM", "right"),
                      ("size", "right"), ("status", "left")):
        table.add_column(col, justify=just, no_wrap=col.startswith("name"))
    for e in entries:
        epochs = str(e.epochs) if e.complete else f"{e.epochs_done}/{e.epochs}"
        status = ("complete" if e.complete else "interrupted") + (" (default)" if e.is_default else "")
        if e.harden:
            status += f", {e.harden}-trained"
        table.add_row(e.name, e.family, e.dataset, epochs, "?" if e.seed is None else str(e.seed),
                      "?" if e.latent_dim is None else str(e.latent_dim),
                      "" if e.val_ssim is None else f"{e.val_ssim:.3f}", f"{e.size_bytes / 1e6:.1f} MB", status)
    console.print(table)
    console.print("path: <cache>/models/<name>; default: what `--model FAMILY` picks for that data set; "
                  "interrupted runs resume with the same `channelae train` command", highlight=False)


def _wide_console() -> Any:
    """A stdout console that does not fold tables when stdout is not a terminal (pipes, files, tests)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


weights_app = typer.Typer(help="Pretrained LPIPS/FID weight files: where they are, and an explicit download.",
                          no_args_is_help=False)
app.add_typer(weights_app, name="weights")


@weights_app.callback(invoke_without_command=True)
def weights_status_cmd(ctx: typer.Context) -> None:
    """Show which pretrained weight files are present in the torch hub cache and which are missing."""
    if ctx.invoked_subcommand is not None:
        return
    from rich import box
    from rich.table import Table

    from channelae.weights import hub_checkpoints_dir, weights_status

    table = Table(title=f"weights in {hub_checkpoints_dir()} ($TORCH_HOME/hub/checkpoints)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for col in ("name", "file", "status", "used for"):
        table.add_column(col, no_wrap=col in ("name", "file"))
    missing = []
    for r in weights_status():
        if r.present:
            size = f"{r.size_bytes / 1e6:.1f} MB" if r.size_bytes >= 1e6 else f"{r.size_bytes / 1e3:.0f} kB"
            status = f"present ({size})" + (f", {r.note}" if r.note else "")
        else:
            status = "missing" + (f": {r.note}" if r.note else "")
            if r.fetchable:
                missing.append(r.name)
        table.add_row(r.name, r.file, status, r.used_for)
    console = _wide_console()
    console.print(table)
    if missing:
        console.print(f"fetch: channelae weights fetch {' '.join(missing)} (or all); hash-checked downloads into "
                      "the directory above", highlight=False, soft_wrap=True)


@weights_app.command("fetch")
def weights_fetch_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="lpips-alex, lpips-vgg, fid or all (default: lpips-alex, what the default --metrics need).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when the file is present.")] = False,
    quiet: _Quiet = False,
) -> None:
    """Download pretrained weights into the torch hub cache, checking each file's SHA-256 (as torch.hub does)."""
    from channelae.progress import log_line
    from channelae.weights import DEFAULT_FETCH, fetch_weights

    results = fetch_weights(names or DEFAULT_FETCH, force=force, progress=not quiet, log=log_line)
    for r in results:
        typer.echo(f"{r.name}: {'downloaded to' if r.status == 'downloaded' else 'already present at'} {r.path}")


def _command() -> Any:
    """The app as a click command, with flags shown without a ``<bool>`` placeholder in the help."""
    command = typer.main.get_command(app)
    _plain_flags(command)
    return command


def _plain_flags(command: Any) -> None:
    params = list(getattr(command, "params", []))
    help_option = command.get_help_option(command.context_class(command))  # made (and cached) on demand
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def _fail(message: str, code: int) -> None:
    """``error: <message>`` as one line on stderr (bold red on a terminal), then exit with ``code``.

    Plain text, not rich: importing rich's console costs more than the rest of a usage error."""
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    prefix = "\033[1;31merror:\033[0m" if color else "error:"
    sys.stderr.write(f"{prefix} {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _usage_line(exc: Any) -> str:
    """A library ``UsageError`` as the user typed it: the library names its parameter (``eot``, ``k_db``,
    ``res``), the line names the command's flag for it (``--eot``, ``--k-db``) or, for a channel option the
    user gave as ``--channel-option res=...``, that option."""
    arg = exc.argument
    if not arg or not arg.isidentifier():
        return str(exc)
    command = getattr(_command(), "commands", {}).get(_ARGV[0] if _ARGV else "")
    flags = {opt for p in getattr(command, "params", []) for opt in getattr(p, "opts", [])}
    flag = "--" + arg.replace("_", "-")
    if flag in flags:
        return f"{flag}: {exc.message}"
    from itertools import pairwise

    given = [v for k, v in pairwise(_ARGV) if k == "--channel-option"]
    given += [a.split("=", 1)[1] for a in _ARGV if a.startswith("--channel-option=")]
    if any(v.split("=", 1)[0].strip() == arg for v in given):
        return f"--channel-option {arg}: {exc.message}"
    return str(exc)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns user mistakes into one-line errors (exit 2)."""
    # OpenMP threads that spin-wait for each other make every multi-threaded op wait for a descheduled worker
    # when the cores are busy with other work (a 2-thread swt-vae training step: ~80 ms -> ~1.6 s on a
    # loaded 2-core machine). Sleep instead. libgomp reads this once, when torch is first imported, which
    # happens inside the commands, i.e. after this line; an explicit setting in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # large activations reused from the heap instead of page-faulted in at every attack pass (channelae._malloc)
    from channelae._malloc import keep_freed_memory

    keep_freed_memory()
    global _ARGV
    _ARGV = list(argv) if argv is not None else sys.argv[1:]
    # bare `channelae`: the help and exit 0 (typer's no_args_is_help ends in an empty "error:" line)
    args = _ARGV or ["--help"]
    try:
        rc = _command().main(args=args, prog_name="channelae", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted; run the same command again to resume", 130)
    except typer.Exit as exc:
        if exc.exit_code == 130:  # typer maps Ctrl-C to Exit(130)
            _fail("interrupted; run the same command again to resume", 130)
        rc = exc.exit_code
    except Exception as exc:
        from channelae.errors import UsageError

        if isinstance(exc, UsageError):
            _fail(_usage_line(exc), 2)
        if getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message"):  # typer/click usage
            _fail(exc.format_message().replace("\n", " ").replace("Value error, ", ""), 2)
        if isinstance(exc, FloatingPointError):
            _fail(str(exc), 1)
        raise
    if rc == 130:  # typer maps Ctrl-C to exit code 130 in non-standalone mode
        _fail("interrupted; run the same command again to resume", 130)
    if isinstance(rc, int) and rc:
        sys.exit(rc)
    if argv is None and "torch" in sys.modules:  # the console script, after a command that used torch
        _fast_exit()


def _fast_exit() -> None:
    """Exit 0 without the interpreter's teardown of torch and the libraries it loaded (~1.2 s single-threaded
    after a simulate, the "other" stage of ``benchmarks/simulate_wall.py``): the command has finished and
    written its files atomically (closed); the exit handlers still run and the streams are flushed first."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
