"""Seaborn figures of a run's main series: Darien crossings by nationality with policy dates marked,
the SMO pipeline, awareness of the SMOs, arrivals at the US border between ports and at ports of entry, and
(with the pack's [mexico] table) the stock in northern Mexico."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from abm.model import RESIDENT_STOCKS  # noqa: E402

MARKED = {"parole_open": "parole", "title42_end": "Title 42 ends", "smo_open": "SMO opens", "asylum_rule": "asylum rule",
          "cbp_one_open": "CBP One", "cbp_one_close": "CBP One ends", "mexico_enforcement": "Mexico's enforcement",
          "circumvention_rule": "Circumvention rule"}


def _policy_lines(ax, model):
    seen = set()
    for _, p in model.timeline.applied:
        label = MARKED.get(p.kind)
        if label is None or p.date < model.start or (p.date, label) in seen:
            continue
        seen.add((p.date, label))
        ax.axvline(pd.Timestamp(p.date), color="0.4", lw=0.8, ls="--")
        ax.text(pd.Timestamp(p.date), ax.get_ylim()[1], " " + label, rotation=90, va="top", ha="left", fontsize=7, color="0.3")


def crossings(ts, model, path: Path):
    d = ts[ts.metric == "darien_crossings"].groupby(["date", "nationality"], as_index=False).value.sum()
    d = d[d.nationality.isin(d.groupby("nationality").value.sum().loc[lambda s: s > 0].index)]
    d["date"] = pd.to_datetime(d.date)
    fig, ax = plt.subplots(figsize=(10, 5))
    sns.lineplot(data=d, x="date", y="value", hue="nationality", ax=ax)
    name = model.pack.raw.get("meta", {}).get("crossings", "Crossings")
    ax.set(ylabel="people per week", xlabel="", title=f"{name} by nationality")
    _policy_lines(ax, model)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def pipeline(ts, model, path: Path):
    flows = ["smo_registrations", "smo_approvals", "smo_relocations"]
    d = ts[ts.metric.isin(flows)].groupby(["date", "metric"], as_index=False).value.sum()
    d["date"] = pd.to_datetime(d.date)
    d["cumulative"] = d.sort_values("date").groupby("metric").value.cumsum()
    w = ts[ts.metric == "waiting_smo"].groupby("date", as_index=False).value.sum()
    w["date"] = pd.to_datetime(w.date)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    sns.lineplot(data=d, x="date", y="cumulative", hue="metric", ax=axes[0])
    axes[0].set(ylabel="people (cumulative)", xlabel="", title="SMO pipeline")
    sns.lineplot(data=w, x="date", y="value", ax=axes[1])
    axes[1].set(ylabel="people", xlabel="", title="Waiting on an SMO case")
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
    ax.set(ylabel="share aware of the SMOs", xlabel="", ylim=(0, 1), title="Awareness of the SMOs among residents")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mexico(ts, model, path: Path):
    """People in central and northern Mexico, and those of them registered with CBP One (abm/mexico.py)."""
    d = ts[ts.metric.isin(["waiting_mexico", "cbp_one_registered"])].groupby(["date", "metric"], as_index=False).value.sum()
    d["date"] = pd.to_datetime(d.date)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sns.lineplot(data=d, x="date", y="value", hue="metric", ax=ax)
    ax.set(ylabel="people", xlabel="", title="In northern Mexico, and registered with CBP One")
    _policy_lines(ax, model)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


BORDER_FLOWS = {"usbp_apprehensions": "between ports (USBP)", "port_arrivals": "at ports of entry (CBP One)"}


def border(ts, model, path: Path):
    """Weekly arrivals at the US border, split by where people present (abm/border.py)."""
    d = ts[ts.metric.isin(BORDER_FLOWS)].groupby(["date", "metric"], as_index=False).value.sum()
    d["date"] = pd.to_datetime(d.date)
    d["metric"] = d.metric.map(BORDER_FLOWS)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sns.lineplot(data=d, x="date", y="value", hue="metric", ax=ax)
    ax.set(ylabel="people per week", xlabel="", title="Arrivals at the US border")
    ax.legend(title=None)
    _policy_lines(ax, model)
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
