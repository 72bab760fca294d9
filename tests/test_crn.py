"""Common random numbers: one stream per purpose and week, one value per person."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from abm.crn import Streams


def test_uniform_on_unit_interval():
    u = Streams(123).uniform("x", 0, np.arange(200_000))
    assert u.min() >= 0 and u.max() < 1
    # Kolmogorov-Smirnov against U(0,1): a failure here at p < 1e-4 would mean a broken generator
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_streams_are_uncorrelated_across_purposes_weeks_and_neighbours():
    s = Streams(7)
    ids = np.arange(100_000)
    a, b, c = s.uniform("a", 3, ids), s.uniform("b", 3, ids), s.uniform("a", 4, ids)
    # |r| of independent samples of n=1e5 has sd 1/sqrt(n) = 0.003: 5 sd bound
    for x, y in ((a, b), (a, c), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.016


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=50, unique=True), st.integers(0, 500))
def test_a_persons_draw_does_not_depend_on_who_else_draws(ids, week):
    s = Streams(99)
    ids = np.array(ids)
    together = s.uniform("choice", week, ids)
    alone = np.array([s.uniform("choice", week, np.array([i]))[0] for i in ids])
    assert np.array_equal(together, alone)
    # nor on draws made before for other purposes
    s.uniform("other", week, np.arange(1000))
    assert np.array_equal(s.uniform("choice", week, ids), together)


def test_key_changes_everything():
    ids = np.arange(1000)
    assert not np.allclose(Streams(1).uniform("a", 0, ids), Streams(2).uniform("a", 0, ids))


def test_normal_draws():
    z = Streams(5).normal("n", 0, np.arange(100_000))
    assert stats.kstest(z, "norm").pvalue > 1e-4


def test_python_and_numpy_mixers_agree():
    from abm.crn import _mix, _mix_int
    z = np.array([0, 1, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        assert [int(v) for v in _mix(z)] == [_mix_int(int(v)) for v in z]
