"""hydra.yaml from a job preset's skeleton: the same text as OmegaConf.to_yaml, or none."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from zenspec._compatibility import FAST_RUN_JOB
from zenspec.accelerate import hydra_yaml_skeleton

_serials = itertools.count(1 << 60)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=90) | st.sampled_from(
    ["a=1", "x: y", "- item", "null", "'q'", "#c", "x" * 80, "€", "123", "true", "", " a", "a "]
)
scalar = text | st.integers() | st.none() | st.booleans() | st.floats(allow_nan=False)


def _hydra_cfg(task, dirname, job_id, num, out):
    return OmegaConf.create(
        {
            "hydra": {
                "run": {"dir": "outputs/${now:%H}"},
                "mode": "MULTIRUN",
                "overrides": {"hydra": ["hydra.sweep.dir=s"], "task": task},
                "job": {
                    "name": "task",
                    "chdir": None,
                    "override_dirname": dirname,
                    "id": job_id,
                    "num": num,
                    "config_name": None,
                    "env_set": {},
                },
                "runtime": {"version": "1.3.8", "output_dir": out, "choices": {"o": "sgd"}},
                "verbose": False,
            }
        }
    )


@settings(max_examples=300, deadline=None)
@given(task=st.lists(scalar, max_size=4), dirname=scalar, job_id=scalar, num=scalar, out=scalar)
def test_a_filled_skeleton_is_to_yaml_exactly_or_nothing(task, dirname, job_id, num, out):
    serial = next(_serials)
    first = _hydra_cfg(["a=1", "b=x"], "a=1,b=x", 0, 0, "/tmp/out/0")
    assert hydra_yaml_skeleton.render(first, serial) == OmegaConf.to_yaml(first)  # verifies
    assert isinstance(hydra_yaml_skeleton._skeletons[serial], hydra_yaml_skeleton._Skeleton)
    cfg = _hydra_cfg(task, dirname, job_id, num, out)
    got = hydra_yaml_skeleton.render(cfg, serial)
    assert got is None or got == OmegaConf.to_yaml(cfg)


def test_a_layout_the_skeleton_cannot_hold_is_never_used():
    serial = next(_serials)
    cfg = _hydra_cfg(["a=1"], "a=1", 0, 0, "/o")
    cfg.hydra.job.name = "${hydra.job.id}"  # fine: an unresolved string, like any other
    assert hydra_yaml_skeleton.render(cfg, serial) == OmegaConf.to_yaml(cfg)
    odd = next(_serials)
    bad = _hydra_cfg(["a=1"], "a=1", 0, 0, "/o")
    del bad.hydra.runtime["output_dir"]  # a hole missing: no skeleton, general path
    assert hydra_yaml_skeleton.render(bad, odd) is None


@pytest.mark.skipif(
    not FAST_RUN_JOB,
    reason="hydra.yaml is rendered from the skeleton by zenspec's run_job, off on this "
    "Hydra (FAST_RUN_JOB=False: 1.4's run_job runs)",
)
def test_a_sweep_renders_its_jobs_from_the_skeleton(tmp_path, monkeypatch):
    from zenspec import hydra_multirun

    filled = []
    fill = hydra_yaml_skeleton._fill
    monkeypatch.setattr(
        hydra_yaml_skeleton,
        "_fill",
        lambda sk, values: filled.append(fill(sk, values)) or filled[-1],
    )
    jobs = hydra_multirun(dict(a=0, s="x"), lambda cfg: cfg.a, ["a=range(0,6)", "s='yes',b"])
    assert len(jobs[0]) == 12
    # the first job verifies (a fill compared with to_yaml), the 11 others are fills
    assert len([t for t in filled if t is not None]) >= 12
    for job in jobs[0]:
        written = (job.working_dir and (tmp_path / "multirun").exists()) and (
            next((tmp_path / "multirun").glob(f"*/*/{job.hydra_cfg.hydra.job.num}/.hydra"))
            / "hydra.yaml"
        ).read_text()
        assert written == OmegaConf.to_yaml(job.hydra_cfg)
