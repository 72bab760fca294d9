"""calibration/pyabc_fast.py: the faster prior and kernel are pyabc's own distributions."""
import numpy as np
import pandas as pd
import pyabc
from scipy import stats

from calibration.pyabc_fast import FastNormalTransition, UniformBox


def test_the_box_has_pyabcs_density_and_samples():
    box = UniformBox.of({"a": (0.0, 2.0), "b": (-3.0, -1.0)})
    ref = pyabc.Distribution(a=pyabc.RV("uniform", 0.0, 2.0), b=pyabc.RV("uniform", -3.0, 2.0))
    for x in ({"a": 1.0, "b": -2.0}, {"a": 2.5, "b": -2.0}, {"a": 1.0, "b": -0.5}, {"a": 0.0, "b": -3.0}):
        assert box.pdf(x) == ref.pdf(x)
    np.random.seed(1)
    xs = pd.DataFrame([box.rvs() for _ in range(500)])
    assert xs.a.between(0, 2).all() and xs.b.between(-3, -1).all()
    assert box.copy().pdf({"a": 1.0, "b": -2.0}) == 0.25


def test_the_fast_kernel_draws_from_pyabcs_kernel():
    """Both kernels fitted to the same weighted particles: the fast one's density is pyabc's, and its draws
    have the kernel mixture's mean and covariance (2,000 draws; a Kolmogorov-Smirnov test of each coordinate
    against draws of pyabc's own kernel, at the 0.1% level so that the test fails by chance once in a thousand
    runs)."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(300, 3)) * [1.0, 0.5, 2.0], columns=["x", "y", "z"])
    w = rng.random(300)
    w /= w.sum()
    fast, ref = FastNormalTransition(scaling=2.0), pyabc.MultivariateNormalTransition(scaling=2.0)
    fast.fit(X, w)
    ref.fit(X, w)
    p = X.iloc[5]
    assert np.isclose(fast.pdf(p), ref.pdf(p))
    np.random.seed(3)
    a = pd.DataFrame([dict(fast.rvs()) for _ in range(2000)])
    b = pd.DataFrame([dict(ref.rvs()) for _ in range(2000)])
    for c in X.columns:
        assert stats.ks_2samp(a[c], b[c]).pvalue > 1e-3
