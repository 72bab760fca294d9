"""Issue 16: the flows the model used to leave out (Haitians from Chile and Brazil, extra-continental
migrants, Hondurans, Salvadorans and Ecuadorians in office countries, registration in transit) and the
bookkeeping of moving a person between places."""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from abm import flows
from abm.errors import InputError
from abm.model import SafeMobilityModel
from abm.outputs import timeseries
from abm.pack import PACKS_DIR, load_pack
from calibration.posterior import load_run
from agents.states import IS_RESIDENT, State
from calibration.targets import total
from conftest import BASELINE

DEFAULT_SCALE = 0.01
SEEDS = (1, 2, 3, 4, 5)
EXPANSION_DAY = dt.date(2024, 5, 7)


def _run(sc):
    m = SafeMobilityModel(sc)
    m.run()
    m.release()
    return m


@pytest.fixture(scope="module")
def default_runs():
    """The baseline at the default scale, seeds 1-5: (model, time series) per seed."""
    out = []
    for s in SEEDS:
        m = _run(load_run(BASELINE, scale=DEFAULT_SCALE, seed=s))
        out.append((m, timeseries(m)))
    return out


# --- the schema -----------------------------------------------------------------------------------

def _pack_copy(tmp_path, edit):
    d = tmp_path / "americas"
    shutil.copytree(PACKS_DIR / "americas", d)
    edit(d)
    return d


@pytest.mark.parametrize("old,new,field", [
    ("arrivals_by_year = { 2022 = 25344,", "arrivals_by_year = { twenty = 25344,", "arrivals_by_year"),
    ("arrivals_by_year = { 2022 = 25344,", "arrivals_by_year = { 2022 = -5,", "arrivals_by_year.2022"),
    ("arrive_travelling = true\narrivals_by_year = { 2022 = 25344", "arrive_travelling = 1\narrivals_by_year = { 2022 = 25344", "arrive_travelling"),
])
def test_group_flow_fields_are_checked(tmp_path, old, new, field):
    def edit(d):
        f = d / "populations.toml"
        text = f.read_text()
        assert old in text
        f.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as e:
        load_pack(_pack_copy(tmp_path, edit))
    assert "populations.toml" in str(e.value) and field in str(e.value)


def test_arrivals_by_year_need_a_source(tmp_path):
    def edit(d):
        f = d / "populations.toml"
        text = f.read_text()
        i = text.index('nationality = "China"')
        j = text.index("arrivals_by_year = \"", i)
        k = text.index('", push', j)
        f.write_text(text[:j] + text[k + 3:])  # drop the arrivals_by_year source of the Chinese group
    with pytest.raises(InputError, match="arrivals_by_year"):
        load_pack(_pack_copy(tmp_path, edit))


def test_transit_flag_and_passes_are_checked(tmp_path):
    def bad_flag(d):
        f = d / "institutions.toml"
        f.write_text(f.read_text().replace("transit_registration = true", 'transit_registration = "yes"'))
    with pytest.raises(InputError, match="transit_registration"):
        load_pack(_pack_copy(tmp_path / "a", bad_flag))

    def bad_place(d):
        f = d / "routes.toml"
        f.write_text(f.read_text().replace('passes = "Guatemala"', 'passes = "Guatamala"', 1))
    with pytest.raises(InputError, match="passes.*Guatamala"):
        load_pack(_pack_copy(tmp_path / "b", bad_place))


def test_other_packs_have_no_flows_and_load():
    for name in ("europe", "testland"):
        pack = load_pack(PACKS_DIR / name)
        assert all(not g["arrive_travelling"] and not g["arrivals_by_year"] for g in pack.groups)
        assert not any(o["transit_registration"] for o in pack.offices.values())


# --- moving a person keeps the books right --------------------------------------------------------

def _books_agree(m):
    p, nc = m.people, m.n_cells
    stocks = np.bincount(p.state.astype(np.int64) * nc + p.cell, minlength=len(State) * nc).reshape(len(State), nc)
    res = IS_RESIDENT[p.state]
    assert (m.stocks == stocks).all()
    assert (m.aware_res == np.bincount(p.cell[res & p.aware_smo], minlength=nc)).all()
    assert (m.registered_res == np.bincount(p.cell[res & p.ever_registered], minlength=nc)).all()
    assert (p.cell == p.nat.astype(np.int64) * len(m.pack.places) + p.place).all()


def test_move_place_keeps_stocks_cells_and_routes_consistent():
    m = SafeMobilityModel(load_run(BASELINE, scale=0.001, seed=7))
    for _ in range(60):  # into mid 2023: people waiting, preparing, travelling, aware and registered
        m.step()
    p = m.people
    gt = m.pack.place_index("Guatemala")
    rng = np.random.default_rng(0)
    movers = np.flatnonzero((p.place != gt) & (p.state != State.NOT_ARRIVED))
    movers = rng.choice(movers, size=min(300, len(movers)), replace=False)
    assert len(np.unique(p.state[movers])) >= 3  # several states, residents and not
    flows.move_place(m, movers, gt)
    _books_agree(m)
    assert (p.place[movers] == gt).all()
    allowed = {m.routes.option_names.index(o) for o in m.pack.place_routes["Guatemala"]}
    assert set(np.unique(p.route[movers]).tolist()) <= allowed
    for _ in range(20):  # the weeks after keep them right too (state changes go through the moved cells)
        m.step()
    _books_agree(m)
    m.release()


# --- the flows ------------------------------------------------------------------------------------

@pytest.mark.xfail(strict=True, reason=(
    "issue 16 acceptance not met, before or after the refit of issue 17: over seeds 1-5 at the refitted joint point "
    "Haitians are fourth in January-April 2023 (about 9,800 against 16,700 Colombians, whose Darien share of 0.25 is "
    "an assumption): the CHNV announcement of "
    "2023-01-05 pauses Haitians until they find out they do not qualify, at the pace of search_rules, which the fit "
    "targets leave slow (median 0.040 a week); Panama saw them surge (28,610). See docs/ODD.md 4.2."))
def test_haitians_at_least_third_in_darien_jan_apr_2023(default_runs):
    """Panama counted Haitians second in January-April 2023 (28,610; americas_context.toml). Pooled over five
    seeds at the default scale, simulated Haitians must rank at least third. The Haitian push prior is centred
    on their full-year 2023 count (46,558), of which this is part: a ranking check, weaker than a level."""
    pooled: dict[str, float] = {}
    for _, ts in default_runs:
        dc = ts[(ts.metric == "darien_crossings") & (ts.date >= "2023-01-01") & (ts.date < "2023-05-01")]
        for n, v in dc.groupby("nationality").value.sum().items():
            pooled[n] = pooled.get(n, 0.0) + v
    ranking = sorted(pooled, key=pooled.get, reverse=True)
    assert ranking.index("Haiti") <= 2, ranking


def test_haitians_leave_chile_and_brazil(default_runs):
    """Haitians from Chile and Brazil cross the Darien (they used to be about 1,200 in 2023): the 2023 mean over
    five seeds is within 30% of Panama's 46,558, the figure the push prior is centred on (5 seeds: the
    seed-to-seed sd measured was about 3,000, so 30% is a wide margin for a prior centre, not a fit)."""
    per = [total(ts, "darien_crossings", "2023-01-01", "2024-01-01", nationality="Haiti") for _, ts in default_runs]
    south = [total(ts, "darien_crossings", "2023-01-01", "2024-01-01", nationality="Haiti", host=["Chile", "Brazil"])
             for _, ts in default_runs]
    assert all(s > 0.5 * v for s, v in zip(south, per))  # most come from Chile and Brazil (002 s2.1)
    assert 0.7 * 46558 < np.mean(per) < 1.3 * 46558


def test_extra_continental_flow_is_the_input_and_eligible_for_nothing(default_runs):
    """Chinese and Indian migrants cross the Darien as the input says (per calendar year, within the rounding
    of about 250 agents a year: 5%), follow the route to the border, and register with no office and get no
    parole."""
    pack = default_runs[0][0].pack
    inputs = {g["nationality"]: g["arrivals_by_year"] for g in pack.groups if g["arrive_travelling"]}
    assert set(inputs) == {"China", "India"}
    for m, ts in default_runs:
        for n in inputs:
            got = total(ts, "darien_crossings", "2023-01-01", "2024-01-01", nationality=n)
            assert abs(got - inputs[n][2023]) < 0.05 * inputs[n][2023] + 2 / DEFAULT_SCALE, (n, got)
            assert total(ts, "smo_applications", "2000", "2100", nationality=n) == 0
            assert total(ts, "smo_registrations", "2000", "2100", nationality=n) == 0
            assert total(ts, "parole_arrivals", "2000", "2100", nationality=n) == 0
            assert total(ts, "border_arrivals", "2022-07-01", "2025-01-01", nationality=n) > 0.8 * inputs[n][2023]
        # the first half of 2022 is before the run: half a year's input in 2022
        got = total(ts, "darien_crossings", "2022-01-01", "2023-01-01", nationality="China")
        assert 0.4 * inputs["China"][2022] < got < 0.6 * inputs["China"][2022]


def test_people_in_transit_register_at_guatemala_only_where_allowed(default_runs):
    """Travellers passing Guatemala register there (Guatemala has no presence cut-off); with the office's
    transit flag off nobody does, and nobody ever registers in transit elsewhere."""
    for m, ts in default_runs[:2]:
        tr = ts[ts.metric == "transit_registrations"]
        assert tr.value.sum() > 0 and set(tr[tr.value > 0].host) == {"Guatemala"}
        p = m.people
        gt = m.pack.place_index("Guatemala")
        moved = p.ever_registered & p.crossed_darien & (p.place == gt)
        assert moved.sum() > 0
    sc = load_run(BASELINE, scale=DEFAULT_SCALE, seed=1,
                       overrides=["pack.offices.Guatemala.transit_registration=false"])
    ts = timeseries(_run(sc))
    assert total(ts, "transit_registrations", "2000", "2100") == 0


def test_may_2024_expansions_now_act(default_runs):
    """The May 2024 expansions (Guatemala and Costa Rica to Hondurans and Salvadorans, Colombia and Costa Rica
    to Ecuadorians) bring registrations of those nationalities in every seed; without them there are none."""
    nats = ["Honduras", "El Salvador", "Ecuador"]
    for _, ts in default_runs[:3]:
        assert total(ts, "smo_registrations", "2024-05-01", "2025-01-01", nationality=nats) > 0
    sc = load_run(BASELINE, scale=DEFAULT_SCALE, seed=1)
    sc.policies = [q for q in sc.policies if not (q.kind == "smo_nationalities" and q.date == EXPANSION_DAY)]
    ts = timeseries(_run(sc))
    assert total(ts, "smo_registrations", "2000", "2100", nationality=nats) == 0
