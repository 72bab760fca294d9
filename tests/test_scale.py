"""Results in people agree across two scales (agents per person) within sampling error.

Five seeds at the default scale and five at half of it; for each headline figure a Welch t-test of
equal means. With six figures, each must have p > 0.001 (Bonferroni: family-wise false alarm under
agreement at most 0.6%). A bias of the size of the seed-to-seed spread would fail.
"""
from calibration.targets import agreement_figures, welch


def test_headline_figures_agree_across_scales(default_ensemble, half_scale_ensemble):
    a = [agreement_figures(ts) for ts in default_ensemble]
    b = [agreement_figures(ts) for ts in half_scale_ensemble]
    for k, (x, y, p) in welch(a, b).items():
        print(f"{k:32s} scale 0.01: {x.mean():12.3f} sd {x.std(ddof=1):9.3f} | 0.005: {y.mean():12.3f} "
              f"sd {y.std(ddof=1):9.3f} | p = {p:.3f}")  # shown with pytest -s
        assert p > 0.001, (k, x.mean(), y.mean(), p)
        # and the people are the same order of magnitude, not agents
        assert 0.5 < x.mean() / y.mean() < 2, k
