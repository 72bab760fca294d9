"""The experiment's figures (seaborn) and a self-contained report.html (figures embedded) for a policy reader."""
from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from abm.folders import write_file  # noqa: E402

from . import findings  # noqa: E402
from .design import BASELINE  # noqa: E402
from .effects import HI, LO, paired  # noqa: E402
from .measures import describe, words  # noqa: E402
from .outcomes import effect_cell, fmt, level_cell, unit_label  # noqa: E402
from .waits import DECISION_LEVER, decision_months_of, months_of_weeks  # noqa: E402

PI = ("pi", round(100 * (HI - LO)))


def paired_differences(runs: pd.DataFrame, outputs: list[str], labels: dict) -> pd.DataFrame:
    """Every paired difference (sign x (variant - baseline)), a share's in percentage points as the tables give it."""
    rows = []
    for v in [v for v in dict.fromkeys(runs.variant) if v != BASELINE]:
        for o in outputs:
            b, x = paired(runs, v, o)
            _, unit, effect, sign = describe(o, labels)
            points = 100 if unit == "share" else 1
            rows += [{"variant": v, "output": o, "effect": effect, "value": float(e)} for e in points * sign * (x - b)]
    return pd.DataFrame(rows, columns=["variant", "output", "effect", "value"])


def _short(x: float, _pos=None) -> str:
    """A tick in a panel 4.6 inches wide: 200k, not 200000, whose neighbours it would run into."""
    return f"{x / 1000:g}k" if abs(x) >= 10_000 else f"{x:g}"


def short_ticks(ax):
    ax.xaxis.set_major_locator(mticker.MaxNLocator(5))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(_short))


def fig_effects(diffs: pd.DataFrame, outputs: list[str], labels: dict):
    outs = [o for o in outputs if (diffs.output == o).any()]
    ncol = min(3, len(outs))
    nrow = int(np.ceil(len(outs) / ncol))
    # constrained layout keeps the suptitle, panel titles and variant names apart (tight_layout ignores the suptitle)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 0.8 + (0.3 * diffs.variant.nunique() + 0.9) * nrow),
                             squeeze=False, layout="constrained")
    for k, (ax, o) in enumerate(zip(axes.flat, outs)):
        d = diffs[diffs.output == o]
        sns.pointplot(data=d, x="value", y="variant", estimator="median", errorbar=PI, linestyle="none",
                      capsize=0.3, color="tab:blue", ax=ax)
        ax.axvline(0, color="grey", lw=0.8)
        _, unit, effect, _ = describe(o, labels)
        ax.set_title(f"{effect} ({unit_label(unit, effect=True)})", fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        short_ticks(ax)
        if k % ncol:  # one column of variant names per row: the panels beside it share them
            ax.set_yticklabels([])
    for ax in list(axes.flat)[len(outs):]:
        ax.remove()
    fig.suptitle("Effect against the baseline: median and 90% interval of paired differences", fontsize=10)
    return fig


def _weekly(d: pd.DataFrame, window, title: str, zero: bool = False):
    d = d.assign(date=pd.to_datetime(d["date"]))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    sns.lineplot(data=d, x="date", y="value", hue="variant", estimator="median", errorbar=PI, ax=ax, lw=1.2)
    if zero:
        ax.axhline(0, color="grey", lw=0.8)
    for x in window:
        ax.axvline(pd.Timestamp(x), color="grey", ls=":", lw=0.8)
    ax.set_ylabel("people per week")
    ax.set_xlabel("")
    ax.set_title(title)
    n = d.variant.nunique()  # beside the lines, not over them; in columns of at most 10, which fit the plot's height
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), frameon=False, ncol=int(np.ceil(n / 10)), fontsize=8,
                    title_fontsize=9)
    fig.tight_layout()
    return fig


def fig_series(ser: pd.DataFrame, metric: str, window, label: str):
    return _weekly(ser[ser.metric == metric], window,
                   f"{label}: median and 90% interval over runs (dotted: the window outputs count)")


def fig_series_difference(ser: pd.DataFrame, metric: str, window, label: str):
    """Weekly paired differences, variant minus baseline: zero until the variant's policy first bites."""
    wide = ser[ser.metric == metric].pivot_table(index=["replicate", "draw", "date"], columns="variant",
                                                 values="value", aggfunc="first")
    wide = wide[[v for v in dict.fromkeys(ser.variant) if v in wide]]  # the experiment's order, not the alphabet's
    diff = wide.drop(columns=BASELINE).sub(wide[BASELINE], axis=0).reset_index().melt(
        id_vars=["replicate", "draw", "date"], var_name="variant", value_name="value")
    return _weekly(diff, window, f"{label}, variant minus baseline in the same run: median and 90% interval", zero=True)


def fig_pairing(eff: pd.DataFrame):
    """Paired and unpaired interval widths, a panel per effect (in its unit: a share's in percentage points)."""
    points = np.where(eff.unit == "share", 100.0, 1.0)
    e = eff.assign(paired=eff.paired_width * points, unpaired=eff.unpaired_width * points,
                   panel=[f"{r.effect} ({unit_label(r.unit, effect=True)})" for r in eff.itertuples()])
    d = e.melt(id_vars=["variant", "panel"], value_vars=["paired", "unpaired"], var_name="comparison", value_name="width")
    # tall enough for one line per variant; the legend above the panels, where it covers none
    g = sns.catplot(data=d, x="width", y="variant", hue="comparison", col="panel", col_wrap=3, kind="bar",
                    sharex=False, height=0.8 + 0.28 * eff.variant.nunique(), aspect=4.6 / (0.8 + 0.28 * eff.variant.nunique()))
    g.set_titles("{col_name}", size=9)
    g.set_axis_labels("width of the 90% interval", "")
    for ax in g.axes.flat:
        short_ticks(ax)
    inch = 1 / g.figure.get_figheight()  # an inch in figure fractions: title, legend, then the panels
    g.figure.suptitle("Paired (same seeds and draws) against unpaired interval widths", fontsize=10, y=1 - 0.08 * inch,
                      va="top")
    sns.move_legend(g, "upper center", bbox_to_anchor=(0.5, 1 - 0.32 * inch), ncol=2, title=None, frameon=False)
    g.figure.tight_layout(rect=(0, 0, 1, 1 - 0.6 * inch))
    return g.figure


# --- the waiting threshold: the offices' decision time (the actual wait) against crossings ---

def decision_curve(exp, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of the variants that set only the offices' decision time (experiments/waits.py), and the
    baseline's runs at its own decision time: the months, the change in crossings against the baseline run of the
    same seed and draw, the realised mean wait and the share who gave up. Empty without two such variants."""
    points = [(v.name, decision_months_of(v.changes)) for v in exp.variants if set(v.changes) == {DECISION_LEVER}]
    if len(points) < 2 or "darien_crossings" not in exp.outputs:
        return pd.DataFrame()
    base_months = months_of_weeks(exp.scenario(BASELINE, exp.draw_ids[0]).pack.resettlement["decision_weeks"])
    wide = lambda o: runs[runs.output == o].pivot_table(index=["replicate", "draw"], columns="variant", values="value",
                                                        aggfunc="first")
    crossings, wait, gave = (wide(o) for o in ("darien_crossings", "wait_mean_days", "gave_up_share"))
    rows = []
    for name, months in [(BASELINE, base_months)] + points:
        if name not in crossings:
            continue
        rows.append(pd.DataFrame({"crossings_change": crossings[name] - crossings[BASELINE],
                                  "wait_days": wait.get(name), "gave_up": gave.get(name)}
                                 ).dropna(subset=["crossings_change"]).assign(variant=name, months=months))
    return pd.concat(rows).reset_index(drop=True)


def fig_decision_curve(d: pd.DataFrame, crossings: str, tolerance_days: float | None):
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    sns.lineplot(data=d, x="months", y="crossings_change", estimator="median", errorbar=PI, marker="o", ax=a)
    a.axhline(0, color="grey", lw=0.8)
    a.set_title(f"{crossings}, change against the baseline (people)", fontsize=9)
    sns.lineplot(data=d, x="months", y="wait_days", estimator="median", errorbar=PI, marker="o", ax=b)
    if tolerance_days is not None:
        b.axhline(tolerance_days, color="tab:red", ls="--", lw=0.8,
                  label=f"calibrated tolerated wait ({tolerance_days:.0f} days)")
        b.legend(fontsize=8)
    b.set_title("Realised mean wait, registration to approval (days)", fontsize=9)
    for ax in (a, b):
        ax.set_xlabel("office decision time (months)")
        ax.set_ylabel("")
    fig.suptitle("If office decisions took N months: median and 90% interval over paired runs", fontsize=10)
    fig.tight_layout()
    return fig


def decision_table(d: pd.DataFrame) -> pd.DataFrame:
    q = lambda x, unit, effect=False: (f"{fmt(np.median(x), unit, effect)} [{fmt(np.quantile(x, LO), unit, effect)}, "
                                       f"{fmt(np.quantile(x, HI), unit, effect)}]")
    rows = [{"variant": v, "office decision time (months)": f"{g.months.iloc[0]:.1f}",
             "change in crossings (people)": q(g.crossings_change, "people", True),
             "realised mean wait (days)": q(g.wait_days.dropna(), "days") if g.wait_days.notna().any() else "n/a",
             "gave up (%)": q(g.gave_up.dropna(), "share") if g.gave_up.notna().any() else "n/a"}
            for v, g in d.sort_values("months", kind="stable").groupby("variant", sort=False)]
    return pd.DataFrame(rows)


def tolerance(exp) -> dict | None:
    """The baseline's tolerated wait as the calibration set it (read now from the posterior file: it may be
    refitted), and its spread over the posterior draws the experiment ran; None without a posterior."""
    key = "behaviour.tolerated_wait_weeks"
    sc = exp.scenario(BASELINE, -1)
    if key not in sc.calibration.get("calibrated", {}):
        return None
    draws = [exp.scenario(BASELINE, d).behaviour["tolerated_wait_weeks"] for d in exp.draw_ids if d >= 0]
    return {"weeks": sc.behaviour["tolerated_wait_weeks"], "posterior": sc.calibration["posterior"],
            "draws": (min(draws), max(draws)) if draws else None,
            "set_by_experiment": sc.behaviour["tolerated_wait_weeks"] != sc.calibration["calibrated"][key]}


def tolerance_text(t: dict | None) -> str:
    if t is None:
        return "The baseline uses no calibrated posterior: its tolerated wait is the hand-set value of abm/params.py."
    w = t["weeks"]
    text = (f"People's tolerated wait (behaviour.tolerated_wait_weeks, how long a wait without news weighs on a person "
            f"as one unit of waiting cost) is {w:.1f} weeks ({7 * w:.0f} days, {months_of_weeks(w):.1f} months) at the "
            f"point estimate of {t['posterior']}.")
    if t["draws"]:
        text += f" The posterior draws this experiment ran set it from {t['draws'][0]:.1f} to {t['draws'][1]:.1f} weeks."
    if t["set_by_experiment"]:
        text += " The experiment's baseline sets its own value, given here."
    return text


def save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, data)  # into the experiment's temporary folder: moved into place with the rest
    return base64.b64encode(data).decode()


def by_variant(t: pd.DataFrame) -> pd.DataFrame:
    """A variant x column table with the variant as its first column: pandas writes an index's name on a header row
    of its own, which reads as an empty row under the header."""
    t = t.copy()
    t.columns.name = None
    return t.rename_axis("variant").reset_index()


def table_html(t: pd.DataFrame, **kw) -> str:
    """A table without the index; a cell's interval (`median [lo, hi]`) on a line below its median, so that a table
    of ten outputs fits the page; in a box that scrolls sideways if it still does not, pushing nothing else off."""
    body = re.sub(r"(<td>[^<]*?) \[", r"\1<br>[", t.to_html(escape=True, border=0, index=False, **kw))
    return f'<div class="wide">{body}</div>'


def effects_table(eff: pd.DataFrame) -> pd.DataFrame:
    t = eff.assign(cell=[effect_cell(r) for r in eff.itertuples()],
                   col=[f"{r.effect} ({unit_label(r.unit, True)})" for r in eff.itertuples()])
    t = t.pivot(index="variant", columns="col", values="cell").reindex(columns=list(dict.fromkeys(t.col)),
                                                                       index=list(dict.fromkeys(t.variant)))
    return by_variant(t)


def levels_table(eff: pd.DataFrame, labels: dict) -> pd.DataFrame:
    rows = {}
    first = eff.drop_duplicates("output")
    rows[BASELINE] = {r.output: level_cell(r, "baseline") for r in first.itertuples()}
    for r in eff.itertuples():
        rows.setdefault(r.variant, {})[r.output] = level_cell(r, "variant")
    t = pd.DataFrame(rows).T
    t.columns = [f"{describe(o, labels)[0]} ({unit_label(describe(o, labels)[1])})" for o in t.columns]
    return by_variant(t)


def _times(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def pairing_summary(eff: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    r = eff.unpaired_over_paired.replace([np.inf, -np.inf], np.nan).dropna()
    zero = int((eff.paired_width == 0).sum())
    tab = eff.pivot(index="variant", columns="effect", values="unpaired_over_paired").round(1)
    tab = by_variant(tab.reindex(index=list(dict.fromkeys(eff.variant)), columns=list(dict.fromkeys(eff.effect))))
    if len(r) == 0:
        return "No interval to compare (too few runs, or every paired interval has zero width).", tab
    text = (f"Paired intervals are {np.median(r):.1f} times narrower than unpaired ones (median over "
            f"{_times(len(r), 'variant-output comparison', 'variant-output comparisons')}; from {r.min():.1f} to "
            f"{r.max():.1f} times).")
    if zero:
        text += (f" {_times(zero, 'paired interval has', 'paired intervals have')} zero width: the variant changes "
                 "that output in no run.")
    return text, tab


def write_report(exp, runs: pd.DataFrame, eff: pd.DataFrame, ser: pd.DataFrame, man: dict, out: Path):
    """figures/*.png and report.html into `out` (the experiment writes them into a temporary folder first)."""
    sns.set_theme(style="whitegrid", context="paper")
    figs = out / "figures"
    c, w = exp.crossings, words(exp.labels)
    diffs = paired_differences(runs, exp.outputs, exp.labels)
    imgs = {
        "effects": save(fig_effects(diffs, exp.outputs, exp.labels), figs / "effects.png"),
        "crossings": save(fig_series(ser, "darien_crossings", exp.window, c), figs / "darien_crossings.png"),
        "crossings_difference": save(fig_series_difference(ser, "darien_crossings", exp.window, c),
                                     figs / "darien_crossings_difference.png"),
        "registrations": save(fig_series(ser, "smo_registrations", exp.window, "{Office} registrations".format(**w)),
                              figs / "smo_registrations.png"),
        "pairing": save(fig_pairing(eff), figs / "pairing.png"),
    }
    text, tab = pairing_summary(eff)
    tol = tolerance(exp)
    found = findings.to_html(findings.findings(eff, findings.limit_shares(ser, exp.window), exp.labels, exp.scale))
    curve = decision_curve(exp, runs)
    if len(curve):
        days = 7 * tol["weeks"] if tol else None
        imgs["decision_curve"] = save(fig_decision_curve(curve, c, days), figs / "decision_curve.png")
        curve = decision_table(curve)
    write_file(out / "report.html", render(exp, eff, man, imgs, text, tab, found, tolerance_text(tol), curve))


def curve_section(exp, imgs, curve: pd.DataFrame) -> str:
    """The waiting-threshold curve, if the experiment has office-decision-time variants."""
    if not len(curve):
        return ""
    img = f'<img alt="crossings against the offices\' decision time" src="data:image/png;base64,{imgs["decision_curve"]}">'
    offices = html.escape(words(exp.labels)["offices"])
    return f"""<h2>If office decisions took N months</h2>
<p>The variants that set only the offices' decision time (<code>{DECISION_LEVER}</code>): a case assessed by one of the
{offices} waits that long for its decision, without news, and people waiting or hearing of such waits decide on it. The change in
{html.escape(exp.crossings)} is against the baseline run of the same seed and posterior draw; the realised mean wait
shows that the lever moved the wait people lived (cases approved within the window; the baseline at its own decision
time).</p>
{table_html(curve)}
{img}"""


def render(exp, eff, man, imgs, pairing_text, pairing_tab, found: str = "", tolerance: str = "",
           curve: pd.DataFrame = pd.DataFrame()) -> str:
    e = html.escape
    w = {k: e(v) for k, v in words(exp.labels).items()}
    img = lambda k, alt: f'<img alt="{e(alt)}" src="data:image/png;base64,{imgs[k]}">'
    variants = "".join(f"<tr><td>{e(v['name'])}</td><td>{e(v['description'])}</td></tr>" for v in man["variants"])
    n = len(exp.draw_ids)
    draws = (f"{exp.draws} posterior draws from {man['posterior']}" if exp.draws else
             "the posterior's point estimate" if man["posterior"] else "the hand-set parameter values")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(exp.name)}: policy experiment</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }}
p, ul {{ max-width: 70em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.45em; text-align: right; }}
td {{ white-space: nowrap; }} table.words td {{ white-space: normal; }}
td:first-child, th:first-child, table.words td, table.words th {{ text-align: left; }}
th {{ vertical-align: bottom; }}
img {{ max-width: 100%; }} .note {{ color: #555; font-size: 0.9em; }} .wide {{ overflow-x: auto; }}
</style></head><body>
<h1>{e(exp.name)}</h1>
<p>{e(exp.description)}</p>
<p class="note">Experiment file <code>{e(str(exp.path))}</code>; {man['runs']} runs: {len(exp.names)} variants (with the
baseline) x {exp.replicates} replicates x {n} parameter set{'s' if n > 1 else ''} ({e(draws)}). Scale {exp.scale:g} agents
per person ({e(', '.join(f'{a:,}' for a in man['agents_per_run']))} agents per run); every figure is in people.
Outputs count the weeks from {exp.window[0]} to {exp.window[1]}. Model version {e(man['version'])}, commit
<code>{e(man['git_commit'])}</code>, created {e(man['created'])}; {man['run_seconds_total']:.0f} s of runs,
{man['wall_time_s']:.0f} s wall for this call.</p>

<h2>Findings</h2>
<p>Each sentence: a variant's change against the baseline, median and 90% interval of the paired differences over
replicates and posterior draws, in the direction it goes. A change whose interval contains zero is not distinguishable
from no change. Where a limit of the model held cases back in at least {findings.BINDS:.0%} of the window's weeks
(median over runs), it is given as the reason.</p>
<p>{e(tolerance)}</p>
{found}
{curve_section(exp, imgs, curve)}

<h2>Variants</h2>
<table class="words"><tr><th>variant</th><th>what changes against the baseline</th></tr>{variants}</table>

<h2>Effects against the baseline</h2>
<p>Each cell: median [90% interval] of the paired differences. A variant's run and the baseline's run share
their seed and posterior draw (common random numbers: the same people, ties and random draws), so each
difference is what the policy changed in that run. The interval spans replicates and posterior draws:
it carries both the model's randomness and the uncertainty left by calibration. It is not a confidence
interval for a mean. {w['crossings']} and deaths are reported as averted (baseline minus variant).</p>
{table_html(effects_table(eff))}
{img("effects", "effects of each variant")}

<h2>Levels</h2>
<p>Median [90% interval] over runs of each output. Waits are the days from {w['office']} registration to
approval, of the cases approved within the window; cases still waiting at the end are not counted, so a
variant that approves fewer people can show shorter waits. The share who gave up counts applicants
(people who started waiting on one of the {w['offices']}) who chose to leave irregularly while waiting.</p>
{table_html(levels_table(eff, exp.labels))}

<h2>Over time</h2>
{img("crossings", f"weekly {exp.crossings} by variant")}
<p>The same runs as paired differences: with common random numbers a variant's run follows the baseline's
exactly until its policy first makes a difference.</p>
{img("crossings_difference", f"weekly {exp.crossings}, variant minus baseline")}
{img("registrations", f"weekly {w['office']} registrations by variant")}

<h2>Why pairs</h2>
<p>{e(pairing_text)} The unpaired interval is that of the differences between a variant's run and a
baseline run of another replicate or draw, as if the runs had been independent.</p>
<p class="note">Unpaired width over paired width, by variant and effect:</p>
{table_html(pairing_tab, na_rep="n/a (zero width)")}
{img("pairing", "paired and unpaired interval widths")}

<h2>Reproduce</h2>
<p><code>smo-abm experiment {e(str(exp.path))} --replicates {exp.replicates} --draws {exp.draws} --scale {exp.scale:g}</code> at commit
<code>{e(man['git_commit'])}</code>. The seeds, the parameters of the baseline and every variant's changes are in
<code>manifest.json</code>; every run's outputs are in <code>runs.csv</code> and <code>runs/</code>.</p>
</body></html>
"""
