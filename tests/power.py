"""Power of the paired agreement tests (tests/test_scale.py, tests/test_catch_up.py), from seed-to-seed
spreads measured on actual runs.

Both tests compare two settings run with the SAME seeds (common random numbers: a seed fixes the people,
the network and every draw), so each seed gives one difference d = figure(setting A) - figure(setting B),
and each figure is tested with a paired t-test of mean(d) = 0 (n seeds, n - 1 degrees of freedom),
Bonferroni over the figures. Under no bias, and differences roughly normal, a figure fails with
probability alpha / figures, so the family-wise false alarm is at most alpha.

A bias of one seed-to-seed standard deviation sigma of a figure makes the test statistic noncentral t
with noncentrality sqrt(n) / rho, rho = sd(d) / sigma; the power is P(|T| > t crit) under it
(scipy.stats.nct). sigma and sd(d) are measured here on `--seeds` seeds (more than the tests use).
sigma is the figure's sd at the test's setting A (catch-up: the default period; scale: the RMS of the
two scales' sds, and the sd at the finer scale is printed too).

    python -m tests.power [--seeds 40] [--n 25] [--alpha 0.05] [--save F.json | --load F.json]

runs 3 x SEEDS baselines (scale 0.002, default and weekly catch-up; scale 0.001) two at a time, about
4 minutes on two cores for 40 seeds.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

#: the tests' design (tests/conftest.py reads these)
SCALE_A, SCALE_B = 0.002, 0.001     # test_scale: a fifth and a tenth of the default scale
N_SEEDS = 30                        # seeds per setting in test_scale and test_catch_up
ALPHA = 0.05                        # family-wise false alarm of each test (Bonferroni over its figures)


def paired_power(rho: float, n: int, alpha_each: float, bias: float = 1.0) -> float:
    """Power of a two-sided paired t-test at level alpha_each against a bias of `bias` sigma, when the
    differences have sd rho * sigma."""
    return _t_power(n - 1, bias * np.sqrt(n) / rho, alpha_each)


def _t_power(df: float, nc: float, alpha_each: float) -> float:
    """P(|T| > t crit) for T noncentral t (df, nc): a two-sided t-test's power."""
    from scipy import stats

    t = stats.t.ppf(1 - alpha_each / 2, df)
    power = stats.nct.sf(t, df, nc) + stats.nct.cdf(-t, df, nc)
    if np.isnan(power):  # scipy's nct gives nan far in the tail: the normal approximation there
        power = stats.norm.sf(t - nc) + stats.norm.cdf(-t - nc)
    return float(power)


def welch_power(ratio: float, n_a: int, n_b: int, alpha_each: float, bias: float = 1.0) -> float:
    """Power of a two-sided Welch t-test at level alpha_each, n_a runs of a setting whose sd is `ratio` times
    that of the other setting (n_b runs), against a bias of `bias` times the larger of the two sds
    (Welch-Satterthwaite degrees of freedom, noncentral t)."""
    va, vb = ratio ** 2 / n_a, 1.0 / n_b
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1))
    return _t_power(df, bias * max(ratio, 1.0) / se, alpha_each)


def paired_test(a: list[dict], b: list[dict], alpha: float = ALPHA) -> dict:
    """Per figure: (mean difference a - b, its standard error, t, p, passes) of a paired t-test, each at
    alpha / figures. a[i] and b[i] are the same seed."""
    from scipy import stats

    out = {}
    for k in a[0]:
        d = np.array([x[k] for x in a], float) - np.array([y[k] for y in b], float)
        se = d.std(ddof=1) / np.sqrt(len(d))
        t = d.mean() / se if se > 0 else (0.0 if d.mean() == 0 else np.inf)
        p = float(2 * stats.t.sf(abs(t), len(d) - 1))
        out[k] = (float(d.mean()), float(se), float(t), p, p > alpha / len(a[0]))
    return out


def equivalence_test(a: list[dict], b: list[dict], margin: float = 1.0, alpha: float = ALPHA) -> dict:
    """Per figure, a paired equivalence test (two one-sided tests, each at alpha / figures): does the mean
    difference a - b lie within +-margin sigma, sigma being the seed-to-seed sd of the figure in a? Passes
    when the one-sided (1 - alpha / figures) bound of |mean difference| is below margin * sigma. Returns
    (mean difference, its standard error, sigma, that bound in sigma, passes)."""
    from scipy import stats

    out = {}
    for k in a[0]:
        x, y = np.array([r[k] for r in a], float), np.array([r[k] for r in b], float)
        d, sigma = x - y, x.std(ddof=1)
        se = d.std(ddof=1) / np.sqrt(len(d))
        bound = abs(d.mean()) + stats.t.ppf(1 - alpha / len(a[0]), len(d) - 1) * se
        out[k] = (float(d.mean()), float(se), float(sigma), float(bound / sigma) if sigma > 0 else np.inf,
                  bool(bound < margin * sigma))
    return out


def equivalence_pass(rho: float, n: int, alpha_each: float, bias: float = 0.0, margin: float = 1.0) -> float:
    """Chance that equivalence_test passes a figure whose differences have sd rho * sigma and mean bias *
    sigma (normal approximation for the mean difference): with bias 0, its chance of passing a model
    without bias; with bias 1 (= margin), one minus its power to flag a bias of one sd."""
    from scipy import stats

    se = rho / np.sqrt(n)
    room = margin - stats.t.ppf(1 - alpha_each, n - 1) * se
    if room <= 0:
        return 0.0
    return float(stats.norm.cdf((room - bias) / se) - stats.norm.cdf((-room - bias) / se))


def table(a: list[dict], b: list[dict], n: int, alpha: float, pooled: bool) -> list[dict]:
    rows = []
    for k in a[0]:
        x, y = np.array([r[k] for r in a], float), np.array([r[k] for r in b], float)
        sa, sb, sd = x.std(ddof=1), y.std(ddof=1), (x - y).std(ddof=1)
        sigma = np.sqrt((sa**2 + sb**2) / 2) if pooled else sa
        rows.append({"figure": k, "sd_a": sa, "sd_b": sb, "sd_diff": sd, "rho": sd / sigma,
                     "rho_sd_a": sd / sa, "power": paired_power(sd / sigma, n, alpha / len(a[0])),
                     "power_sd_a": paired_power(sd / sa, n, alpha / len(a[0])),
                     "bias_in_sd": (x - y).mean() / sigma})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--n", type=int, default=N_SEEDS)
    ap.add_argument("--alpha", type=float, default=ALPHA)
    ap.add_argument("--save")
    ap.add_argument("--load")
    args = ap.parse_args(argv)
    if args.load:
        runs = json.loads(open(args.load).read())
    else:
        from calibration.targets import agreement_figures
        from tests.conftest import ensemble

        seeds = range(1, args.seeds + 1)
        fig = lambda tss: [{k: float(v) for k, v in agreement_figures(ts).items()} for ts in tss]
        runs = {"a": fig(ensemble(SCALE_A, seeds)),
                "weekly": fig(ensemble(SCALE_A, seeds, overrides=["information.catch_up_weeks=1"])),
                "b": fig(ensemble(SCALE_B, seeds))}
        if args.save:
            open(args.save, "w").write(json.dumps(runs))
    m = len(runs["a"])
    print(f"{m} seeds measured; design: n = {args.n} paired seeds, family-wise alpha {args.alpha} "
          f"(each figure {args.alpha / len(runs['a'][0]):.4f}), power against a bias of 1 sigma")
    for name, other, pooled in (("test_catch_up: default vs weekly at scale %g" % SCALE_A, "weekly", False),
                                (f"test_scale: {SCALE_A:g} vs {SCALE_B:g}", "b", True)):
        print(name)
        for r in table(runs["a"], runs[other], args.n, args.alpha, pooled):
            print(f"  {r['figure']:30s} sd {r['sd_a']:10.4g} {r['sd_b']:10.4g} sd(d) {r['sd_diff']:10.4g} "
                  f"rho {r['rho']:.2f} power {r['power']:.2f}"
                  + (f" (sigma = sd at {SCALE_A:g}: rho {r['rho_sd_a']:.2f} power {r['power_sd_a']:.2f})" if pooled else "")
                  + f"  measured bias {r['bias_in_sd']:+.2f} sigma")


if __name__ == "__main__":
    main()
