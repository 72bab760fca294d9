"""Seaborn figures of a run's main series: the pack's counted crossings by nationality with policy dates marked,
the offices' pipeline, awareness of the offices, arrivals at the destination's border between ports and at ports of
entry, and (with the pack's [mexico] table) the stock in northern Mexico. Each names the pack's crossing, offices
and pathway in its own words (pack meta: abm/pack.py LABELS)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from abm.model import RESIDENT_STOCKS  # noqa: E402
from abm.pack import label_words  # noqa: E402

#: policies marked on the charts, named in the pack's words (label_words)
MARKED = {"parole_open": "{pathway}", "title42_end": "Title 42 ends", "smo_open": "{Office} opens", "asylum_rule": "asylum rule",
          "cbp_one_open": "CBP One", "cbp_one_close": "CBP One ends", "mexico_enforcement": "Mexico's enforcement",
          "circumvention_rule": "Circumvention rule"}
#: a mark's name, of this many points, stands above the plot, level with the mark's line
MARK_POINTS = 7
#: a character's width in points at MARK_POINTS, with room (DejaVu Sans averages about 0.55 of the size)
CHAR_POINTS = 0.62 * MARK_POINTS


def policy_marks(model) -> list[tuple]:
    """(date, name) of the marked policies the run applied from its start, in date order; one name a date."""
    words = label_words(model.pack.labels)
    marks: dict = {}
    for _, p in model.timeline.applied:
        label = MARKED.get(p.kind)
        if label is not None and p.date >= model.start and label.format(**words) not in marks.get(p.date, []):
            marks.setdefault(p.date, []).append(label.format(**words))
    return sorted((d, ", ".join(n)) for d, n in marks.items())


def rows_of(starts: list[float], widths: list[float]) -> list[int]:
    """The row of each name, from 0 at the plot's top edge: the first row where it begins after the one before it in
    that row ends (names side by side on one row would overlap otherwise). `starts` ascending, in any unit."""
    ends: list[float] = []
    rows = []
    for x, w in zip(starts, widths):
        row = next((r for r, end in enumerate(ends) if end < x), len(ends))
        if row == len(ends):
            ends.append(x + w)
        else:
            ends[row] = x + w
        rows.append(row)
    return rows


def policy_lines(ax, model) -> float:
    """Dashed lines at the policies' dates, each named above the plot (never over the data, the legend or another
    name: names that would overlap go on rows further up). Returns the title's pad, in points, that clears them."""
    lo, hi = ax.get_xlim()  # the data's dates: a mark outside them would be named beside the plot
    marks = [(d, n) for d, n in policy_marks(model) if lo <= mdates.date2num(pd.Timestamp(d)) <= hi]
    if not marks:
        return 6.0
    x = [mdates.date2num(pd.Timestamp(d)) for d, _ in marks]
    width_pt = ax.figure.get_figwidth() * 72 * ax.get_position().width * 0.8  # the plot narrows when laid out
    widths = [(len(n) + 1) * CHAR_POINTS / width_pt * (hi - lo) for _, n in marks]
    rows = rows_of(x, widths)
    row_pt = MARK_POINTS * 1.35
    for (date, name), xi, row in zip(marks, x, rows):
        ax.axvline(xi, color="0.4", lw=0.8, ls="--")
        ax.annotate(name, xy=(xi, 1), xycoords=ax.get_xaxis_transform(), xytext=(1, 2 + row * row_pt),
                    textcoords="offset points", fontsize=MARK_POINTS, color="0.3", va="bottom", ha="left",
                    annotation_clip=False)
    ax.set_xlim(lo, hi)
    return 6 + (max(rows) + 1) * row_pt


def crossings(ts, model, path: Path):
    d = ts[ts.metric == "darien_crossings"].groupby(["date", "nationality"], as_index=False).value.sum()
    d = d[d.nationality.isin(d.groupby("nationality").value.sum().loc[lambda s: s > 0].index)]
    d["date"] = pd.to_datetime(d.date)
    fig, ax = plt.subplots(figsize=(10, 5))
    sns.lineplot(data=d, x="date", y="value", hue="nationality", ax=ax)
    ax.set(ylabel="people per week", xlabel="")
    ax.set_title(f"{model.pack.labels['crossings']} by nationality", pad=policy_lines(ax, model))
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def pipeline(ts, model, path: Path):
    flows = {"smo_registrations": "registrations", "smo_approvals": "approvals", "smo_relocations": "relocations"}
    d = ts[ts.metric.isin(flows)].groupby(["date", "metric"], as_index=False).value.sum()
    d["metric"] = d.metric.map(flows)  # the legend in words, not metric names
    d["date"] = pd.to_datetime(d.date)
    d["cumulative"] = d.sort_values("date").groupby("metric").value.cumsum()
    w = ts[ts.metric == "waiting_smo"].groupby("date", as_index=False).value.sum()
    w["date"] = pd.to_datetime(w.date)
    words = label_words(model.pack.labels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    sns.lineplot(data=d, x="date", y="cumulative", hue="metric", ax=axes[0])
    axes[0].set(ylabel="people (cumulative)", xlabel="", title="{Office} pipeline".format(**words))
    axes[0].legend(title=None)
    sns.lineplot(data=w, x="date", y="value", ax=axes[1])
    axes[1].set(ylabel="people", xlabel="", title="{Office} cases waiting".format(**words))
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def awareness(ts, model, path: Path):
    hosts = list(model.pack.offices)
    res = ts[ts.metric.isin(RESIDENT_STOCKS) & ts.host.isin(hosts)]
    den = res.groupby(["date", "host"]).value.sum()
    num = ts[(ts.metric == "aware_smo") & ts.host.isin(hosts)].groupby(["date", "host"]).value.sum()
    d = (num / den.where(den > 0)).rename("share").reset_index()
    d["date"] = pd.to_datetime(d.date)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    sns.lineplot(data=d, x="date", y="share", hue="host", ax=ax)
    offices = model.pack.labels["offices"]
    ax.set(ylabel=f"share aware of the {offices}", xlabel="", ylim=(0, 1), title=f"Awareness of the {offices} among residents")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mexico(ts, model, path: Path):
    """People in central and northern Mexico, and those of them registered with CBP One (abm/mexico.py)."""
    d = ts[ts.metric.isin(["waiting_mexico", "cbp_one_registered"])].groupby(["date", "metric"], as_index=False).value.sum()
    d["date"] = pd.to_datetime(d.date)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sns.lineplot(data=d, x="date", y="value", hue="metric", ax=ax)
    ax.set(ylabel="people", xlabel="")
    ax.set_title("In northern Mexico, and registered with CBP One", pad=policy_lines(ax, model))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


BORDER_FLOWS = {"usbp_apprehensions": "between ports of entry", "port_arrivals": "at ports of entry, with an appointment"}


def border(ts, model, path: Path):
    """Weekly arrivals at the destination's border, split by where people present (abm/border.py)."""
    d = ts[ts.metric.isin(BORDER_FLOWS)].groupby(["date", "metric"], as_index=False).value.sum()
    d["date"] = pd.to_datetime(d.date)
    d["metric"] = d.metric.map(BORDER_FLOWS)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sns.lineplot(data=d, x="date", y="value", hue="metric", ax=ax)
    destination = model.pack.raw.get("meta", {}).get("destination", "the destination")
    ax.set(ylabel="people per week", xlabel="")
    ax.set_title(f"Arrivals at the border ({destination})", pad=policy_lines(ax, model))
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title=None, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def make_figures(ts, model, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    crossings(ts, model, folder / "darien_crossings.png")
    pipeline(ts, model, folder / "smo_pipeline.png")
    awareness(ts, model, folder / "awareness.png")
    border(ts, model, folder / "border.png")
    if getattr(model, "mexico", None) is not None:
        mexico(ts, model, folder / "mexico.png")
