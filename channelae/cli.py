"""Command-line interface: parses, calls the library, prints. Heavy imports happen inside commands.

User mistakes (``UsageError``, click's usage errors) print one line ``error: <argument>: <what>`` on stderr
and exit with code 2; no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="channelae",
    help="Autoencoders as communication links: train, simulate channels and jammers, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (no silent fallback).")]
_Seed = Annotated[int, typer.Option(help="Seed for initialisation, shuffling, noise and attacks.")]
_DataDir = Annotated[Optional[Path], typer.Option(help="Directory searched first for data sets.")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


@app.command()
def train(
    model: Annotated[str, typer.Option(help="Model family (see `channelae list`).")] = "swt-vae",
    dataset: Annotated[str, typer.Option(help="Data set (see `channelae list`).")] = "mnist-5k",
    latent_dim: Annotated[Optional[int], typer.Option(help="Latent size d (default: per data set).")] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 5,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    lam: Annotated[Optional[float], typer.Option(help="Regulariser weight λ (default: per family).")] = None,
    beta: Annotated[float, typer.Option(help="β of the total-correlation term (tc-vae).")] = 1.0,
    seed: _Seed = 0,
    out: Annotated[Optional[Path], typer.Option(help="Checkpoint directory (default: the model cache).")] = None,
    device: _Device = "auto",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = False,
    data_dir: _DataDir = None,
    quiet: _Quiet = False,
) -> None:
    """Train an autoencoder and write a checkpoint (safetensors + JSON)."""
    from channelae import zoo

    result = zoo.train(model, dataset, latent_dim=latent_dim, epochs=epochs, batch_size=batch_size, lr=lr,
                       lam=lam, beta=beta, seed=seed, out=out, device=device, resume=resume,
                       progress=not quiet, data_dir=data_dir)
    val = result.meta.get("val", {})
    typer.echo(f"checkpoint: {result.out_dir}")
    typer.echo(f"val_mse={val.get('val_mse', float('nan')):.5f} val_ssim={val.get('val_ssim', float('nan')):.4f} "
               f"P_ref={result.meta['p_ref']:.4g} ({result.meta['train_seconds']:.1f} s)")


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


def _fail(message: str, code: int) -> None:
    from channelae.progress import stderr_console

    stderr_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app and turns user mistakes into one-line errors (exit 2)."""
    try:
        rc = app(args=argv, prog_name="channelae", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted; run the same command again to resume", 130)
    except typer.Exit as exc:
        rc = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - map user mistakes to one line, re-raise real bugs
        from channelae.errors import UsageError

        if isinstance(exc, UsageError):
            _fail(str(exc), 2)
        if getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message"):  # typer/click usage
            _fail(exc.format_message().replace("\n", " "), 2)
        if isinstance(exc, FloatingPointError):
            _fail(str(exc), 1)
        raise
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":  # pragma: no cover
    main()
