"""The speed pieces: each replaces one step of stock Hydra's, with stock's outputs.

Each module is named after what it replaces; :mod:`~zenspec.accelerate.switches`
is the one switch over all of them (``fast=False``, ``ZENSPEC_FAST=0``,
``ZENSPEC_FAST_OFF=piece,...``), switches off a piece that fails (never the
command) and one that :mod:`zenspec._compatibility` has not proven for the
installed Hydra/OmegaConf. ``tests/differential`` holds every piece to stock's
outputs, per version in CI's matrix.

* :mod:`.composition_cache` -- Hydra's config loader: each defaults tree composed once
* :mod:`.batch_check` -- its per-job validation, without a second composition per job
* :mod:`.job_runner` -- Hydra's ``run_job``/``BasicLauncher``
* :mod:`.job_snapshots` -- the config copies ``run_job`` and the cache make
* :mod:`.hydra_yaml`, :mod:`.hydra_yaml_skeleton`, :mod:`.yaml_text` -- the output files
* :mod:`.logging_setup` -- Hydra's ``configure_log`` per job
* :mod:`.simple_overrides` -- Hydra's override parser, for the common simple lines
* :mod:`.interpolation_cache` -- the interpolations zenspec resolves itself
"""
