"""The four scenarios of the documentation zenspec grew from, verbatim but for imports."""

from __future__ import annotations

import pytest

from examples.my_app import MyExperiment, task_function
from zenspec import JobResult, builds, hydra_multirun, hydra_run, instantiate


def test_scenario_1_dataclass_run_and_multirun(capsys):
    job = hydra_run(MyExperiment, task_function, overrides=["bar=mom"])
    assert "hello mom" in capsys.readouterr().out
    assert isinstance(job, JobResult)
    assert job.return_value == "hello mom"
    assert job.cfg.bar == "mom"
    assert job.overrides == ["bar=mom"]
    assert job.task_name == "task_function"
    assert job.hydra_cfg.hydra.job.name == "task_function"
    assert (job.output_dir / ".hydra" / "config.yaml").is_file()

    jobs = hydra_multirun(MyExperiment, task_function, overrides=["bar=mom,dad"])
    out = capsys.readouterr().out
    assert out.index("hello mom") < out.index("hello dad")
    assert [j.return_value for j in jobs[0]] == ["hello mom", "hello dad"]


def test_scenario_2_builds_dict_run_and_multirun():
    job = hydra_run(builds(dict, a=1, b=1), task_function=instantiate)
    assert job.return_value == {"a": 1, "b": 1}
    job = hydra_multirun(builds(dict, a=1, b=1), task_function=instantiate, overrides=["a=1,2"])
    assert [j.return_value for j in job[0]] == [{"a": 1, "b": 1}, {"a": 2, "b": 1}]


def test_scenario_2_pow_partial_run_and_multirun():
    cfg = dict(f=builds(pow, exp=2, hydra_partial=True), x=10)

    def task_function(cfg):
        return instantiate(cfg.f)(cfg.x)

    assert hydra_run(cfg, task_function).return_value == 100
    cfg = dict(f=builds(pow, exp=2, hydra_partial=True), x=1)
    jobs = hydra_multirun(cfg, task_function, overrides=["x=range(-2,3)"])
    assert [j.return_value for j in jobs[0]] == [4, 1, 0, 1, 4]


@pytest.mark.torch
def test_scenario_3_gradient_descent_with_optimizer_group(store):
    torch = pytest.importorskip("torch")
    from examples.graddesc import gradient_descent, parabaloid

    SGDConf = builds(torch.optim.SGD, lr=0.3, momentum=0.0, hydra_partial=True)
    AdamConf = builds(torch.optim.Adam, lr=0.3, hydra_partial=True)
    store.store(group="optim", name="sgd", node=SGDConf)
    store.store(group="optim", name="adam", node=AdamConf)
    ConfigGradDesc = builds(
        gradient_descent,
        optim=None,  # not defined yet
        landscape_fn=parabaloid,
        starting_xy=(-1.5, 0.5),
        num_steps=20,
    )
    jobs = hydra_multirun(ConfigGradDesc, task_function=instantiate, overrides=["optim=sgd"])
    (only,) = jobs[0]
    assert only.return_value.shape == (21, 2)
    assert only.cfg.optim._target_ == "torch.optim.sgd.SGD"

    jobs = hydra_multirun(ConfigGradDesc, task_function=instantiate, overrides=["optim=sgd,adam"])
    sgd, adam = jobs[0]
    assert [j.hydra_cfg.hydra.runtime.choices.optim for j in jobs[0]] == ["sgd", "adam"]
    # both descend towards the minimum at the origin, along different paths
    start = abs(sgd.return_value[0]).sum()
    assert abs(sgd.return_value[-1]).sum() < start and abs(adam.return_value[-1]).sum() < start
    assert not (sgd.return_value == adam.return_value).all()
    # the explicit Hydra spelling still works
    jobs = hydra_multirun(ConfigGradDesc, task_function=instantiate, overrides=["+optim=adam"])
    assert (jobs[0][0].return_value == adam.return_value).all()


def test_scenario_4_user_defined_random_search_sweeper(store):
    from examples.random_search import RandomSearchSweeper, square, task_function

    RandomSearchSweeperConf = builds(
        RandomSearchSweeper, optim=dict(x=0, y=12, maximize=False, max_iter=10)
    )
    store.store(group="hydra/sweeper", name="test_sweeper", node=RandomSearchSweeperConf)

    job = hydra_multirun(
        dict(x=1, y=12),
        task_function,
        overrides=[
            "hydra/sweeper=test_sweeper",
            "x=interval(-12, 12)",
            "y=interval(-12, 12)",
        ],
    )
    best, trials = job
    assert len(trials) == 10
    assert all(-12 <= t["x"] <= 12 and -12 <= t["y"] <= 12 for t in trials)
    assert best["best_evaluated_result"] == min(square(t["x"], t["y"]) for t in trials)
    assert best["best_evaluated_params"] in trials
