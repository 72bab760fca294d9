"""The invented test pack (abm/packs/testland) runs end to end: nothing about the Americas is hard-coded.

Testland: nationalities Aria and Borea; places Aria, Borea (homes), Centra (a host with an office) and
Delta (a host without one). The segment `jungle` is flagged `darien = true`; it is first on the route
`trail` (from Aria), in the middle of `river` (from Centra), and absent from `flight` (from Borea) and
`highway` (from Delta). The scenario tests/data/testland.toml opens the Centra office to Arians,
parole to Boreans, and makes Arians expellable while Title 42 is in force.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.model import METRICS
from abm.outputs import timeseries
from abm.pack import PACKS_DIR, load_pack
from calibration.posterior import load_run
from agents.states import State
from tests.conftest import TESTLAND, run_model

NATS = {"Aria", "Borea"}
PLACES = {"Aria", "Borea", "Centra", "Delta"}
JUNGLE_ROUTES = {"trail", "river"}
OFFICE_OPENS = "2030-03-04"
PAROLE_OPENS = "2030-06-03"
TITLE42_ENDS = "2031-01-06"


@pytest.fixture(scope="module")
def land():
    m = run_model(TESTLAND)
    return m, timeseries(m)


def by_cell(ts, metric):
    return ts[ts.metric == metric].groupby(["nationality", "host"]).value.sum()


def test_pack_is_its_own_and_shares_no_names_with_the_americas():
    sc = load_run(TESTLAND)
    pack = sc.pack
    assert pack.path == (PACKS_DIR / "testland").resolve()
    assert set(pack.nationalities) == NATS
    assert set(pack.places) == PLACES
    assert list(pack.offices) == ["Centra"]
    assert [s for s, seg in pack.segments.items() if seg.get("darien")] == ["jungle"]
    assert len(pack.options) >= 2
    am = load_pack(PACKS_DIR / "americas")
    for mine, theirs in [(pack.nationalities, am.nationalities), (pack.places, am.places),
                         (pack.segments, am.segments), (pack.options, am.options), (pack.offices, am.offices)]:
        assert not set(mine) & set(theirs)
    # every figure names a source, and here all of them say they are invented
    for g in pack.groups:
        assert g["stock"] > 0
    assert sum(g["stock"] for g in pack.groups) < 1_000_000
    assert sc.start.isoformat() == "2030-01-01" and sc.end.isoformat() == "2031-06-30"
    assert {p.kind for p in sc.policies} >= {"smo_open", "parole_open", "announce", "border_expel"}


def test_timeseries_uses_only_the_test_packs_names(land):
    m, ts = land
    assert set(ts.nationality) <= NATS
    assert set(ts.host) <= PLACES
    cells = {(g["nationality"], g["place"]) for g in m.pack.groups}
    assert set(zip(ts.nationality, ts.host)) == cells
    assert set(ts.metric) == set(METRICS)
    assert ts.date.min() == "2030-01-01"
    assert ts.date.nunique() == m.n_weeks
    assert ts.date.max() <= "2031-06-30"
    # people, not agents
    assert ((ts.value / m.weight).round(6) % 1 == 0).all()
    # every dated policy took effect (the one dated before the start, at the start)
    assert len(m.timeline.applied) == len(m.scenario.policies)


def test_darien_crossings_only_for_routes_through_the_jungle(land):
    m, ts = land
    cross = by_cell(ts, "darien_crossings")
    arrivals = by_cell(ts, "border_arrivals")
    through = {(g["nationality"], g["place"]) for g in m.pack.groups if set(g["routes"]) <= JUNGLE_ROUTES}
    around = {(g["nationality"], g["place"]) for g in m.pack.groups if not set(g["routes"]) & JUNGLE_ROUTES}
    assert through == {("Aria", "Aria"), ("Aria", "Centra"), ("Borea", "Centra")}
    assert around == {("Borea", "Borea"), ("Aria", "Delta"), ("Borea", "Delta")}
    for cell in through:
        assert cross[cell] > 0, cell
    for cell in around:
        assert cross[cell] == 0, cell
        assert arrivals[cell] > 0, cell  # they did travel, by a route without the jungle
    assert set(ts.loc[(ts.metric == "darien_crossings") & (ts.value > 0), "nationality"]) == NATS

    # person by person: only people whose route includes the jungle ever crossed it, and everyone in
    # transit past the jungle's position on their route has crossed it (first segment or a later one)
    p, r = m.people, m.routes
    jungle = r.segment_names.index("jungle")
    pos = np.array([list(row).index(jungle) if jungle in row else -1 for row in r.path])
    route_has = pos[p.route] >= 0
    assert p.crossed_darien.any()
    assert not (p.crossed_darien & ~route_has).any()
    moving = np.flatnonzero(np.isin(p.state, (State.IN_TRANSIT, State.AT_BORDER)))
    assert len(moving) > 0
    expected = route_has[moving] & (p.seg[moving] >= pos[p.route[moving]])
    np.testing.assert_array_equal(p.crossed_darien[moving], expected)
    # the jungle in the middle of a route counts too
    river = r.option_names.index("river")
    assert (p.crossed_darien & (p.route == river)).any()


def test_every_jungle_entry_is_one_darien_crossing():
    # without burn-in, every entry into the jungle happens in a recorded week
    m = run_model(TESTLAND, overrides=["run.spinup_weeks=0"])
    ts = timeseries(m)
    p = m.people
    crossed = np.bincount(p.cell[p.crossed_darien], minlength=m.n_cells)
    nats, places = m.pack.nationalities, m.pack.places
    counted = by_cell(ts, "darien_crossings")
    for (nat, host), people in counted.items():
        cell = nats.index(nat) * len(places) + places.index(host)
        assert people / m.weight == pytest.approx(crossed[cell]), (nat, host)
    assert counted.sum() / m.weight == pytest.approx(p.crossed_darien.sum())
    assert p.crossed_darien.sum() > 0


def test_smo_registrations_only_at_the_office_and_for_listed_nationalities(land):
    m, ts = land
    reg = ts[(ts.metric == "smo_registrations") & (ts.value > 0)]
    assert reg.value.sum() > 0
    assert set(reg.host) == {"Centra"}
    assert set(reg.nationality) == {"Aria"}
    assert reg.date.min() >= "2030-02-26"  # the week containing the opening day, or later
    for stock in ("waiting_smo", "registered_smo"):
        s = ts[(ts.metric == stock) & (ts.value > 0)]
        assert set(zip(s.nationality, s.host)) <= {("Aria", "Centra")}, stock
    # Boreans in Centra heard of it (the announcement has no nationality list) but may not register
    aware = by_cell(ts, "aware_smo")
    assert aware[("Borea", "Centra")] > 0
    p = m.people
    regd = np.flatnonzero(p.ever_registered)
    assert set(p.place[regd]) == {m.pack.place_index("Centra")}
    assert set(p.nat[regd]) == {m.pack.nat_index("Aria")}
    # the pipeline carries on to approvals and relocations, at the office's host only
    for flow in ("smo_approvals", "smo_relocations"):
        f = ts[(ts.metric == flow) & (ts.value > 0)]
        assert f.value.sum() > 0, flow
        assert set(zip(f.nationality, f.host)) == {("Aria", "Centra")}, flow


def test_parole_arrivals_only_for_the_parole_nationality(land):
    m, ts = land
    arr = ts[(ts.metric == "parole_arrivals") & (ts.value > 0)]
    assert arr.value.sum() > 0
    assert set(arr.nationality) == {"Borea"}
    assert arr.date.min() >= PAROLE_OPENS
    # Boreans apply wherever they live: at home and in both host countries
    assert set(arr.host) == {"Borea", "Centra", "Delta"}
    for stock in ("considering_parole", "waiting_parole"):
        waiting = ts[(ts.metric == stock) & (ts.value > 0)]
        assert set(waiting.nationality) == {"Borea"}, stock


def test_only_the_expellable_nationality_is_expelled_under_title42(land):
    m, ts = land
    before = ts[ts.date < TITLE42_ENDS]
    after = ts[ts.date >= "2031-01-13"]
    # turned back at the border: expelled under Title 42, or removed (counted with `expelled` unless
    # the model reports `removed` on its own)
    back = ["expelled", "removed"] if "removed" in METRICS else ["expelled"]

    def rate(df, nat, metrics=back):
        sel = df.nationality == nat
        arrived = df.loc[sel & (df.metric == "border_arrivals"), "value"].sum()
        assert arrived > 0
        return df.loc[sel & df.metric.isin(metrics), "value"].sum() / arrived

    p_exp, p_rem = m.pack.border["p_expel_title42"], m.pack.border["p_remove"]
    # Arians: expelled under Title 42 (instead of removal); Boreans: removed only
    assert rate(before, "Aria") > rate(before, "Borea") + 0.1
    assert rate(before, "Aria") == pytest.approx(p_exp, abs=0.15)
    assert rate(before, "Borea") == pytest.approx(p_rem, abs=0.12)
    # after Title 42 ends, the same removal rule applies to both
    assert rate(after, "Aria") == pytest.approx(p_rem, abs=0.15)
    if "removed" in METRICS:
        assert rate(before, "Borea", ["expelled"]) == 0  # never expellable
        assert rate(before, "Aria", ["expelled"]) > 0
        assert rate(after, "Aria", ["expelled"]) == 0  # no Title 42 expulsions once it has ended


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory):
    """The CLI run of the test pack, with figures."""
    tmp = tmp_path_factory.mktemp("testland_cli")
    out = tmp / "out"
    rc = main(["run", str(TESTLAND), "--out", str(out), "--quiet"])
    assert rc == 0
    return out


def test_cli_writes_all_outputs_for_a_pack_without_calibration_targets(cli_out):
    out = cli_out
    for f in ("timeseries.csv", "summary.json", "manifest.json", "figures/darien_crossings.png",
              "figures/smo_pipeline.png", "figures/awareness.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert not [x for x in out.parent.iterdir() if x.name.startswith(".")]  # no temporary folders left
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "testland"
    assert summary["period"] == {"start": "2030-01-01", "end": "2031-06-30"}
    assert summary["units"] == "people"
    assert set(summary["darien_crossings_by_nationality"]) <= NATS
    assert summary["totals"]["darien_crossings"] > 0
    assert summary["totals"]["smo_registrations"] > 0
    assert summary["totals"]["parole_arrivals"] > 0
    ts = pd.read_csv(out / "timeseries.csv")
    for metric, v in summary["totals"].items():
        assert v == pytest.approx(ts.loc[ts.metric == metric, "value"].sum()), metric
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["run"]["pack"].endswith("testland")
    assert set(manifest["parameters"]["pack"]["nationalities"]) == NATS
    assert {p["kind"] for p in manifest["policies_applied"]} >= {"smo_open", "parole_open", "border_expel"}


AMERICAS_NAMES = ("Venezuela", "Colombia", "Cuba", "Haiti", "Nicaragua", "Ecuador", "Guatemala",
                  "Honduras", "El Salvador", "Costa Rica", "venezuela", "colombia", "cuban")


def test_summary_of_a_pack_without_targets_mentions_no_americas_names_or_targets(cli_out):
    text = (cli_out / "summary.json").read_text()
    found = [n for n in AMERICAS_NAMES if n in text]
    assert not found, f"summary.json of the test pack mentions {found}"
    summary = json.loads(text)
    assert not summary.get("targets"), "a pack without calibration targets should have none beside it"


def test_summary_json_is_strict_json(cli_out):
    def reject(token):
        raise ValueError(f"{token} is not JSON")

    json.loads((cli_out / "summary.json").read_text(), parse_constant=reject)


def test_cli_rerun_of_the_same_inputs_is_skipped(cli_out, capsys):
    before = (cli_out / "manifest.json").read_bytes()
    rc = main(["run", str(TESTLAND), "--out", str(cli_out), "--quiet"])
    assert rc == 0
    assert "already holds this run" in capsys.readouterr().out
    assert (cli_out / "manifest.json").read_bytes() == before


def test_summary_md_says_summary_json_in_the_packs_words(cli_out):
    """summary.md beside summary.json: every total of summary.json, as a reader reads it, under the pack's own
    names for its crossing, offices and pathway."""
    from abm.summary_text import TOTALS, number

    summary = json.loads((cli_out / "summary.json").read_text())
    text = (cli_out / "summary.md").read_text()
    labels = load_pack(PACKS_DIR / "testland").labels
    words = {**labels, **{k.capitalize(): v.capitalize() for k, v in labels.items()}}
    for metric, value in summary["totals"].items():
        assert f"- {TOTALS[metric].format(**words)}: {number(value)}\n" in text, (metric, value)
    assert f"- {labels['crossings']}: {number(summary['totals']['darien_crossings'])}" in text
    assert f"- Centra desk registrations: {number(summary['totals']['smo_registrations'])}" in text
    assert f"- Sponsorship arrivals: {number(summary['totals']['parole_arrivals'])}" in text
    assert not [n for n in AMERICAS_NAMES + ("SMO", "parole", "Darien") if n in text]
    manifest = json.loads((cli_out / "manifest.json").read_text())
    assert "summary.md" in manifest["checksums"]  # vouched for with the rest: replaced only as the run's own file


def test_the_progress_bars_count_the_burn_in_and_the_reported_weeks_apart(tmp_path, capsys):
    import re

    assert main(["run", str(TESTLAND), "--out", str(tmp_path / "run"), "--no-figures"]) == 0
    out, err = capsys.readouterr()
    err = err.replace("\r", "\n")
    burn = [tuple(map(int, m)) for m in re.findall(r"burn-in: 100%.*?(\d+)/(\d+)", err)]
    weeks = [tuple(map(int, m)) for m in re.findall(r"weeks: 100%.*?(\d+)/(\d+)", err)]
    said = re.search(r"(\d+) weeks from \S+ \((\d+) weeks of burn-in", out)
    reported = pd.read_csv(tmp_path / "run" / "timeseries.csv").date.nunique()
    assert weeks[-1] == (reported, reported) and int(said.group(1)) == reported  # the bar, the line, the file
    assert burn[-1][0] == burn[-1][1] == int(said.group(2)) > 0


def test_help_gives_examples_that_name_real_files(capsys):
    from tests.conftest import ROOT

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    examples = text[text.index("examples:"):]
    files = re.findall(r"smo-abm \w+ (experiments/\S+\.toml)", examples)
    assert len(files) >= 4 and all((ROOT / f).is_file() for f in files), files
    assert {"run", "experiment", "dashboard"} <= set(re.findall(r"smo-abm (\w+)", examples))
