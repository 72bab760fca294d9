"""Results in people agree across two scales (agents per person) within sampling error.

Five seeds at the default scale and five at half of it; for each headline figure a Welch t-test of
equal means. With six figures, each must have p > 0.001 (Bonferroni: family-wise false alarm under
agreement at most 0.6%). A bias of the size of the seed-to-seed spread would fail.
"""
from tests.conftest import assert_figures_agree


def test_headline_figures_agree_across_scales(default_ensemble, half_scale_ensemble):
    res = assert_figures_agree(default_ensemble, half_scale_ensemble, "scale 0.01", "0.005")
    for k, (x, y, _) in res.items():
        # and the people are the same order of magnitude, not agents
        assert 0.5 < x.mean() / y.mean() < 2, k
