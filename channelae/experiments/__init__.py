"""Experiment configs (``configs/*.toml``) and ``channelae run``: train what is missing, simulate, summarise.

A config names the models (families and settings, or checkpoints), the data set, the model seeds and one or
more simulations (channel, SNR and ε grids, target, metrics, limit lines, quality references). ``run`` trains
missing models into the model cache (one per seed), runs every simulation for every model and seed into
``<out>/<model>[/seed<s>]/<simulation>/`` (each a normal ``simulate`` results directory) and writes
``summary.json`` / ``summary.md``: per model the latent scale, σ/std(μ) and (β-TCVAE) the exact vs minibatch KL
decomposition; per simulation, SNR and metric the clean quality, damage at ε*, AADDC against each reference,
breaking ε and the paired PGD − noise gap; with several seeds their means with 95 % t-intervals over seeds and
the orderings of the models that those intervals support; plus combined DD-curve plots.

Several references: a simulation with ``references = ["input", "reconstruction"]`` runs ``simulate`` once per
reference, with the same seed, so the attack and every channel realisation are the same (``simulate`` draws
all randomness from generators seeded by ``(seed, chunk)``, and the reference only enters the scoring): the
second run costs as much as the first but scores the same perturbed reconstructions against dec(z0). The
attack objective is whatever the simulation sets (untargeted against dec(z0), or a target), whatever the
reference.

``--quick`` replaces epochs and image counts by the config's ``[quick]`` values so a whole config finishes in
minutes on 2 CPU cores (used by the tests); its summary says these are smoke-test numbers. Unknown keys are
errors naming the key and the file.

Modules: :mod:`~channelae.experiments.config` (parsing), :mod:`~channelae.experiments.run` (running,
``report`` on a run folder), :mod:`~channelae.experiments.stats` (per-model statistics),
:mod:`~channelae.experiments.summary` (rows, aggregation over seeds, orderings, Markdown).
"""

from __future__ import annotations

from channelae.experiments.config import (
    DEFAULT_TC_SAMPLES,
    ExperimentConfig,
    ModelSpec,
    SimSpec,
    load_config,
    parse_seeds,
    sim_config,
)
from channelae.experiments.run import (
    SUMMARY_JSON,
    SUMMARY_MD,
    model_checkpoint,
    outputs_lines,
    report_run,
    run_dir,
    run_experiment,
)
from channelae.experiments.summary import summary_markdown, summary_rows

#: Older names (tests and other modules use them).
_sim_config = sim_config
_model_checkpoint = model_checkpoint
_summary_rows = summary_rows

__all__ = ["DEFAULT_TC_SAMPLES", "SUMMARY_JSON", "SUMMARY_MD", "ExperimentConfig", "ModelSpec", "SimSpec",
           "load_config", "model_checkpoint", "outputs_lines", "parse_seeds", "report_run", "run_dir",
           "run_experiment", "sim_config", "summary_markdown", "summary_rows"]
