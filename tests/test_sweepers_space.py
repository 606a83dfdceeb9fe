"""The search space of the random and Optuna sweepers: Hydra's sweep grammar, read by Hydra.

What users see: which overrides become which axes, the exact values trials get
(to the last digit, as override text Hydra parses back), and the errors for a
space that cannot be sampled.
"""

from __future__ import annotations

import random

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given, settings
from hypothesis import strategies as st

from zenspec.errors import LaunchError
from zenspec.sweepers.random import draw_trials
from zenspec.sweepers.space import SearchSpace, is_structured_sweep, structured_to_sweep


def axes(*overrides, params=None):
    space = SearchSpace.from_overrides(list(overrides), params)
    return {a.key: a for a in space.axes}, space


def test_every_sweep_form_becomes_an_axis():
    found, space = axes(
        "x=interval(-12, 12)",
        "n=int(interval(1, 10))",
        "lr=tag(log, interval(1e-4, 1))",
        "k=tag(log, int(interval(1, 64)))",
        "opt=choice(sgd, adam)",
        "optim=sgd,adam",
        "b=range(0, 10, 5)",
        "+extra=choice('a,b', [1, 2])",
        "seed=3",
        "hydra.job.name=q",
    )
    assert (found["x"].kind, found["x"].low, found["x"].high, found["x"].log) == (
        "float",
        -12.0,
        12.0,
        False,
    )
    assert (found["n"].kind, found["n"].low, found["n"].high) == ("int", 1, 10)
    assert found["lr"].log and found["lr"].kind == "float"
    assert found["k"].log and found["k"].kind == "int"
    assert found["opt"].choices == ("sgd", "adam") and found["optim"].kind == "categorical"
    assert found["b"].choices == (0, 5)
    assert found["+extra"].choices == ("a,b", [1, 2]) and found["+extra"].name == "extra"
    assert space.constants == ["seed=3", "hydra.job.name=q"]
    assert space.names == ["extra", "b", "k", "lr", "n", "opt", "optim", "x"]  # sorted keys


def test_sweep_overrides_win_over_params_for_the_same_key():
    found, _ = axes("x=interval(0, 1)", params={"x": "interval(5, 6)", "y": "choice(1, 2)"})
    assert (found["x"].low, found["x"].high) == (0.0, 1.0)
    assert found["y"].choices == (1, 2)


def test_structured_values_compile_to_hydra_strings_with_the_same_meaning():
    assert is_structured_sweep({"low": 1, "high": 2})
    assert is_structured_sweep({"choices": ["a"]})
    assert not is_structured_sweep({"lr": [0.1, 0.2]})  # a dotted key: optim.lr
    text = structured_to_sweep({"low": 1, "high": 64, "log": True, "int": True})
    assert text == "tag(log, int(interval(1, 64)))"
    found, _ = axes(f"k={text}", "c=" + structured_to_sweep({"choices": ["sgd", "a b", 1.5]}))
    assert (found["k"].kind, found["k"].log, found["k"].low) == ("int", True, 1)
    assert found["c"].choices == ("sgd", "a b", 1.5)


def test_samples_stay_in_bounds_and_ints_reach_both_ends():
    _, space = axes(
        "x=interval(-2, 3)", "n=int(interval(1, 4))", "lr=tag(log, interval(1e-6, 1e-2))"
    )
    trials = draw_trials(space, seed=0, n=400)
    assert all(-2 <= t["x"] <= 3 for t in trials)
    assert {t["n"] for t in trials} == {1, 2, 3, 4}
    assert all(1e-6 <= t["lr"] <= 1e-2 for t in trials)
    # log-uniform: about half the draws are below the geometric mean 1e-4
    below = sum(t["lr"] < 1e-4 for t in trials) / len(trials)
    assert 0.4 < below < 0.6


def test_trials_are_a_pure_function_of_seed_and_space_not_of_declaration_order():
    _, a = axes("x=interval(0, 1)", "opt=sgd,adam", "n=int(interval(1, 9))")
    _, b = axes("n=int(interval(1, 9))", "x=interval(0, 1)", "opt=sgd,adam")
    assert draw_trials(a, 7, 20) == draw_trials(b, 7, 20)
    assert draw_trials(a, 7, 20)[:5] == draw_trials(a, 7, 5)  # a longer study extends a shorter
    assert draw_trials(a, 7, 20) != draw_trials(a, 8, 20)


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e12, 1e12, allow_nan=False), st.integers(-(10**6), 10**6))
def test_override_text_parses_back_to_the_exact_value(x, n):
    _, space = axes("x=interval(-1e12, 1e12)", "n=int(interval(-1000000, 1000000))", "c=choice(1, 'x y')")  # fmt: skip
    lines = space.overrides({"x": x, "n": n, "c": "x y"})
    parsed = {o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(lines)}
    assert parsed["x"] == x and type(parsed["x"]) is float
    assert parsed["n"] == n and parsed["c"] == "x y"


def test_sampling_uses_one_draw_per_axis():
    _, space = axes("a=interval(0, 1)", "b=choice(p, q, r)", "c=int(interval(0, 9))")
    rng = random.Random(1)
    space.sample(rng)
    reference = random.Random(1)
    for _ in range(3):
        reference.random()
    assert rng.random() == reference.random()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("x=interval(3, 1)", "the interval is empty"),
        ("x=tag(log, interval(0, 1))", "needs a lower bound above 0, got 0.0"),
        ("optim=glob(*)", "cannot be sampled"),
        ("x=interval(0", "does not parse"),
    ],
)
def test_spaces_that_cannot_be_sampled_are_clear_errors(override, message):
    with pytest.raises(LaunchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SearchSpace.from_overrides([override])
