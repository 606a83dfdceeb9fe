"""builds()/just(): configs from callables, checked at build time."""

from __future__ import annotations

import dataclasses
import functools
import keyword

import pytest
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import OmegaConf

from zenspec import BuildsError, builds, instantiate, just


def f(a, b=2, *, c="x"):
    return (a, b, c)


class Point:
    def __init__(self, x: float, y: float = 0.0):
        self.x, self.y = x, y


def apply(fn, value):
    return fn(value)


def test_builds_dict_round_trip():
    assert instantiate(builds(dict, a=1, b=1)) == {"a": 1, "b": 1}


def test_builds_is_a_dataclass_type_with_target():
    conf = builds(f, a=1)
    assert dataclasses.is_dataclass(conf) and isinstance(conf, type)
    assert conf._target_ == f"{__name__}.f"
    assert OmegaConf.to_container(OmegaConf.structured(conf)) == {
        "_target_": f"{__name__}.f",
        "a": 1,
    }


def test_partial_config_instantiates_to_callable():
    conf = builds(pow, exp=2, hydra_partial=True)
    assert conf._partial_ is True
    assert instantiate(conf)(3) == 9
    assert instantiate(builds(pow, exp=3, zen_partial=True))(2) == 8


def test_partial_aliases_must_agree():
    with pytest.raises(BuildsError, match="disagree"):
        builds(pow, hydra_partial=True, zen_partial=False)


def test_misspelled_parameter_is_an_error_with_did_you_mean():
    with pytest.raises(BuildsError) as info:
        builds(Point, x=1, yy=2)
    msg = str(info.value)
    assert "'yy' is not a parameter" in msg and "Point" in msg and "Did you mean 'y'?" in msg
    assert isinstance(info.value, TypeError)  # hydra-zen users catch TypeError


def test_arguments_that_do_not_bind_are_an_error():
    with pytest.raises(BuildsError, match="do not fit"):
        builds(f, 1, 2, 3)


def test_positional_args_and_nested_builds():
    conf = builds(Point, builds(abs, -3), y=builds(int, "7"))
    p = instantiate(conf)
    assert (p.x, p.y) == (3, 7)


def test_callables_as_values_become_references_not_calls():
    conf = builds(apply, fn=abs, value=-4)
    assert instantiate(conf) == 4
    assert instantiate(builds(dict, f=len))["f"] is len


def test_just_returns_the_object_itself():
    assert instantiate(just(f)) is f
    assert instantiate(just(Point)) is Point
    assert just([1, {"a": 2}]) == [1, {"a": 2}]


def test_populate_full_signature_fills_defaults_and_marks_required():
    conf = builds(f, populate_full_signature=True, b=5)
    cfg = OmegaConf.structured(conf)
    assert cfg.b == 5 and cfg.c == "x"
    assert OmegaConf.is_missing(cfg, "a")
    assert instantiate(cfg, a=0) == (0, 5, "x")


def test_hydra_defaults_become_a_defaults_list():
    conf = builds(dict, hydra_defaults=["_self_", {"optim": "sgd"}])
    assert OmegaConf.structured(conf).defaults == ["_self_", {"optim": "sgd"}]


def test_lambdas_and_local_functions_are_refused():
    with pytest.raises(BuildsError, match="lambda"):
        builds(lambda x: x)

    def local(x):
        return x

    with pytest.raises(BuildsError, match="inside a function"):
        builds(local)


def test_unstorable_value_is_refused_with_a_fix():
    with pytest.raises(BuildsError, match=r"builds\(dict\)\.obj.*cannot be stored"):
        builds(dict, obj=object())


def test_mutable_defaults_are_not_shared_between_instances():
    conf = builds(dict, xs=[1, 2])
    a, b = conf(), conf()
    a.xs.append(3)
    assert b.xs == [1, 2]


def test_builtin_pow_builds_roundtrip_in_a_dict_config():
    cfg = OmegaConf.create({"f": builds(pow, exp=2, hydra_partial=True), "x": 10})
    assert instantiate(cfg.f)(cfg.x) == 100


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    # "${" starts an interpolation (builds keeps strings live, so configs can interpolate;
    # test_a_string_in_builds_is_an_interpolation_when_it_says_so): not a plain value here
    | st.text(max_size=12).filter(lambda t: "${" not in t)
    | st.floats(allow_nan=False, allow_infinity=False, width=32),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), children, max_size=4
        )
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), json_values, max_size=6)
)
def test_instantiate_builds_dict_round_trips(kwargs):
    """instantiate(builds(dict, **kw)) == dict(**kw), for any JSON-like kw."""
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_") and not keyword.iskeyword(k)}
    out = instantiate(builds(dict, **kwargs), _convert_="all")
    assert out == kwargs


def test_a_string_in_builds_is_an_interpolation_when_it_says_so():
    assert instantiate(builds(dict, a=1, b="${a}"), _convert_="all") == {"a": 1, "b": 1}


@pytest.mark.parametrize("key", ["as", "not-an-identifier"])
def test_field_names_must_be_identifiers(key):
    with pytest.raises(BuildsError, match=repr(key)):
        builds(dict, **{key: 1})


@given(st.integers(-50, 50), st.integers(0, 5))
def test_partial_pow_round_trips(base, exp):
    assert instantiate(builds(pow, exp=exp, hydra_partial=True))(base) == functools.partial(
        pow, exp=exp
    )(base)
