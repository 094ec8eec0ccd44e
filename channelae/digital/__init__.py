"""The digital reference link: quantised latent → 5G LDPC → QAM over the same channels and jammers.

Modules: :mod:`~channelae.digital.quantize` (uniform k-bit quantiser per latent dimension),
:mod:`~channelae.digital.plan` (codeword segmentation, channel uses, the equal-bandwidth rule),
:mod:`~channelae.digital.phy` (Sionna's LDPC5GEncoder/Decoder, Mapper, Demapper), :mod:`~channelae.digital.
jammer` (PGD on the demapper's LLRs) and :mod:`~channelae.digital.link` (:class:`DigitalLink`).
Sionna is imported only when a link first transmits.
"""

from channelae.digital.jammer import DigitalPGDJammer, digital_channel, llr_surrogate
from channelae.digital.link import DigitalContext, DigitalLink, DigitalOutput
from channelae.digital.plan import CodePlan, equal_bandwidth, plan_code
from channelae.digital.quantize import UniformQuantizer

__all__ = [
    "CodePlan",
    "DigitalContext",
    "DigitalLink",
    "DigitalOutput",
    "DigitalPGDJammer",
    "UniformQuantizer",
    "digital_channel",
    "equal_bandwidth",
    "llr_surrogate",
    "plan_code",
]
