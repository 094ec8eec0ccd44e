"""The autoencoder link inside a Sionna PHY flow, with a channelae PGD jammer between Sionna's channel pieces.

One ``sionna.phy.Block`` carries images end to end:

    x ─encoder─► z ─channelae Transmitter─► s ─Sionna flat fading─► h·s ─channelae JammerBlock─► h·s + δ
      ─Sionna AWGN(no)─► y ─channelae Receiver(y, h, no) (LMMSE, perfect CSI)─► ẑ ─decoder─► x̂

- Fading: ``GenerateFlatFadingChannel(1, 1)`` draws one ``CN(0, 1)`` coefficient per complex symbol
  (a 1×1 channel matrix per symbol) and ``ApplyFlatFadingChannel`` applies it (no noise yet).
- Jammer: ``channelae.sionna_blocks.JammerBlock``, a Sionna Block around channelae's ``PGDJammer`` at the
  receiver, called as ``jam(y, no, h)``: budgets ε as ``PGDJammer`` defines them (its ``eps`` and
  ``eps_unit``). It is white box: it knows ``h`` (realised before it) and optimises through the *rest of the
  link* — the receiver noise of variance ``no``, our receiver and the decoder; with ``--eot N`` it averages N
  fresh noise draws per step. The block builds what ``channelae.link.Link`` would hand the jammer (clean
  reconstruction, gain, the rest of the link), so the flow needs no ``LinkContext`` or ``tail`` of its own.
- Noise: ``sionna.phy.channel.AWGN`` with ``no = N0 = 10^(−SNR/10)``, the noise variance per complex
  symbol; SNR is Es/N0 in dB per complex symbol (``Es = 1`` after the transmitter's fixed gain), the same
  convention in Sionna and channelae.
- Receiver: channelae's ``Receiver`` takes Sionna's tensors directly, ``receiver(y, h, no)``.

All randomness (fading, noise, the jammer's random start) comes from Sionna's generator, so
``sionna.phy.config.seed`` makes a run reproducible. The script prints mean SSIM versus SNR for a few jammer
budgets, next to channelae's own ``Link(..., "rayleigh+pgd-jammer")`` as a cross-check. On the CPU the two
columns agree to float rounding: Sionna seeds its CPU generator with ``config.seed`` and both flows draw
the fading, the jammer's random start and the noise in the same order and with the same sampler
(``complex_normal``), so they see the very same channel; on a GPU (seed offset by the device index) they
agree within sampling error.

    python examples/sionna_link.py --checkpoint path/to/checkpoint
    python examples/sionna_link.py --quick          # trains/caches the default model first if needed
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def make_image_link_block():
    """Import Sionna (slow: seconds) and return the ``ImageLink`` block class."""
    from sionna.phy import Block
    from sionna.phy.channel import AWGN, ApplyFlatFadingChannel, GenerateFlatFadingChannel

    from channelae.checkpoint import load_checkpoint
    from channelae.link import Receiver, Transmitter
    from channelae.sionna_blocks import JammerBlock

    class ImageLink(Block):
        """Images ``[B, C, H, W]`` and noise variance ``no`` → reconstructions ``[E, B, C, H, W]``.

        :param checkpoint: trained channelae checkpoint (model and its ``P_ref``).
        :param eps: jammer budgets ε, latent L2 norm per example (a grid of ``E`` values, 0 = no jammer).
        :param eot: noise draws the jammer averages per PGD step.
        """

        def __init__(self, checkpoint: str | Path, eps: list[float], eot: int = 1,
                     precision: str | None = None, device: str | None = None) -> None:
            super().__init__(precision=precision, device=device)
            model, meta = load_checkpoint(checkpoint, device=self.device)
            self.model = model.eval().requires_grad_(False)
            p_ref, d = float(meta["p_ref"]), model.latent_dim
            self.transmitter = Transmitter(p_ref, d)
            self.receiver = Receiver(p_ref, d, equalizer="lmmse")
            self.fading = GenerateFlatFadingChannel(num_tx_ant=1, num_rx_ant=1, precision=precision,
                                                    device=device)
            self.apply_fading = ApplyFlatFadingChannel(precision=precision, device=device)
            self.jammer = JammerBlock(self.model, p_ref, eps=eps, eot=eot, precision=precision, device=device)
            self.awgn = AWGN(precision=precision, device=device)

        def call(self, x: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                s = self.transmitter(self.model.encode(x))                # [B, n] complex, Es = 1
            B, n = s.shape
            # Sionna flat fading: one 1×1 channel matrix per complex symbol, no noise yet.
            h = self.fading(B * n)                                        # [B·n, 1, 1]
            y = self.apply_fading(s.reshape(B * n, 1), h).reshape(B, n)
            h = h.reshape(B, n)
            # channelae's jammer: optimises δ through the receiver noise `no`, the receiver and the decoder.
            y = self.jammer(y, no, h)                                     # [E, B, n]
            # Sionna AWGN, fresh draws: one per image and symbol, shared by every budget (common random numbers,
            # as in channelae's Link: all ε see the same receiver noise)
            y = y + self.awgn(torch.zeros_like(y[:1]), no)
            with torch.no_grad():
                return self.model.decode(self.receiver(y, h, no))         # [E, B, C, H, W]

    return ImageLink


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="channelae transmitter/jammer/receiver in a Sionna PHY flow.")
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint directory (default: train/cache one)")
    p.add_argument("--snr-db", type=float, nargs="+", default=[30.0, 20.0, 15.0, 10.0, 5.0, 0.0],
                   help="SNR points, dB Es/N0 per complex symbol")
    p.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.5, 1.0],
                   help="jammer budgets ε, latent L2 norm per example")
    p.add_argument("--n-images", type=int, default=64, help="test images")
    p.add_argument("--eot", type=int, default=4, help="noise draws the jammer averages per PGD step")
    p.add_argument("--seed", type=int, default=42, help="sionna.phy.config.seed")
    p.add_argument("--device", default="cpu", help="cpu or cuda:0")
    p.add_argument("--no-compare", action="store_true", help="skip the channelae Link cross-check")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for a smoke test: 4 images, SNR 20 and 10 dB, no EOT")
    args = p.parse_args(argv)
    if args.quick:  # explicit options still win
        p.set_defaults(n_images=4, eot=1, snr_db=[20.0, 10.0])
        args = p.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from sionna.phy import config

    from channelae import zoo
    from channelae.data import load_dataset
    from channelae.definitions import snr_db_to_n0
    from channelae.link import Link
    from channelae.metrics import ssim_per_image

    config.seed = args.seed
    ckpt = args.checkpoint or zoo.ensure_model("swt-vae", "mnist-5k", epochs=1 if args.quick else 5)
    x = load_dataset("mnist-5k", "test", limit=args.n_images).batch(torch.arange(args.n_images))

    link = make_image_link_block()(ckpt, args.eps, eot=args.eot, device=args.device)
    # fold=False: the model's own decoder, as the Sionna block runs it (the folded one differs by float rounding,
    # which can send the search to another of the objective's local maxima and spoil the cross-check)
    reference = Link.from_checkpoint(ckpt, "rayleigh+pgd-jammer", device=args.device, fold=False,
                                     channel_options={"eps": args.eps, "eot": args.eot})
    gen = torch.Generator(args.device).manual_seed(args.seed)

    def mean_ssim(x_hat: torch.Tensor) -> list[float]:          # [E, B, C, H, W] -> mean SSIM per ε
        E, B = x_hat.shape[:2]
        ref = x.to(x_hat.device).expand(E, *x.shape)
        return ssim_per_image(x_hat.flatten(0, 1), ref.flatten(0, 1)).reshape(E, B).mean(-1).tolist()

    rows: dict[str, list[list[float]]] = {"sionna": [], "channelae": []}
    print(f"mean SSIM over {len(x)} images: Sionna flat fading + channelae PGD jammer + Sionna AWGN")
    print("SNR dB  " + " ".join(f"ε={e:<5.2f}" for e in args.eps)
          + ("   | channelae Link(rayleigh+pgd-jammer)" if not args.no_compare else ""))
    for snr in args.snr_db:
        no = float(snr_db_to_n0(snr))                 # noise variance per complex symbol (Sionna's `no`)
        rows["sionna"].append(mean_ssim(link(x, no)))
        line = f"{snr:6g}  " + " ".join(f"{v:7.3f}" for v in rows["sionna"][-1])
        if not args.no_compare:
            rows["channelae"].append(mean_ssim(reference(x.to(args.device), snr, generator=gen).x_hat[0]))
            line += "   | " + " ".join(f"{v:7.3f}" for v in rows["channelae"][-1])
        print(line)
    return {"snr_db": args.snr_db, "eps": args.eps, **rows}


if __name__ == "__main__":
    main()
