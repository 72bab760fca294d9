"""The dashboard (issue 7, first part): the SolaraViz page renders headless, its controls are scenario
overrides, and a click on Step advances the model and its charts."""
import html as html_text
import re

import ipyvuetify as v
import ipywidgets
from solara.components.datatable import DataTableWidget
import solara

import abm.app as app


def test_levers_are_scenario_overrides():
    base = app.scenario()
    changed = app.scenario(capacity_factor=2.0, walk_in=True, presence_cutoff=False, parole=False,
                           tolerated_wait_days=70, news_per_week=0.25)
    for name, cfg in base.pack.offices.items():
        assert changed.pack.offices[name]["assess_per_week"] == 2 * cfg["assess_per_week"]
        assert changed.pack.offices[name]["walk_in"] and not changed.pack.offices[name]["presence_cutoff"]
    assert not [p for p in changed.policies if p.kind == "parole_open"]
    assert [p for p in base.policies if p.kind == "parole_open"]
    assert changed.behaviour["tolerated_wait_weeks"] == 10.0
    assert changed.pack.resettlement["news_per_week"] == 0.25
    shut = app.scenario(closure="2024-01-01", outreach=40)
    # the lever's closures, beside the baseline's own of 2025 (americas_context.toml [closures_2025])
    closes = [p for p in shut.policies if p.kind in ("smo_close", "parole_close") and p.source == "dashboard: closure"]
    assert len(closes) == len(base.pack.offices) + 1 and {p.date.isoformat() for p in closes} == {"2024-01-01"}
    assert [p.fields["weeks"] for p in shut.policies if p.kind == "outreach"] == [40]


def test_page_renders_and_step_advances_the_model():
    box, rc = solara.render(solara.AppLayout(children=[app.page]), handle_error=False)
    m = app.model.value
    assert m.week == 0  # the burn-in ran when the model was made
    before = len(m.datacollector.get_model_vars_dataframe())
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert app.model.value.week == 1
    assert len(app.model.value.datacollector.get_model_vars_dataframe()) == before + 1
    assert app.weekly(app.model.value, "darien_crossings").shape == (before + 1,)
    rc.close()


def html_rows(table: str) -> list[list[str]]:
    """The cells of an HTML table as text, row by row (header first)."""
    return [[html_text.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def test_experiment_view_shows_a_finished_experiments_effects(tmp_path):
    """A results folder with one finished (tiny) experiment: the view lists it and shows its effect table."""
    from experiments.experiment import run_experiment
    from tests.test_experiment_runner import CAPACITY, tiny

    f = tiny(tmp_path, CAPACITY, replicates=2)
    root = tmp_path / "results" / "experiments"
    run_experiment(f, out=root / "tiny", scheduler="single", progress=False)
    assert app.finished_experiments(root) == ["tiny"]
    box, rc = solara.render(app.ExperimentView(root), handle_error=False)
    html = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets if "<table" in (w.unsafe_innerHTML or "")]
    assert len(html) == 1 and not rc.find(DataTableWidget).widgets  # all of it, not a page of a paged table
    head, *rows = html_rows(html[0])
    assert [r[0] for r in rows] == ["capacity_x3", "closed_in_september"]  # a row per variant, as in the report
    assert head[0] == "variant" and len(head) == 1 + 10  # the variant, then ten effects
    cells = [c for r in rows for c in r[1:]]
    # each cell as the report writes it: median [90% interval], people whole, shares in pp, no NaN
    assert all(re.fullmatch(r"([+-][\d,.]+( pp)?|n/a) \[([+-][\d,.]+( pp)?|n/a), ([+-][\d,.]+( pp)?|n/a)\]", c) for c in cells), cells
    assert not any("nan" in c.lower() for c in cells)
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2
    rc.close()


def test_experiment_view_without_results_says_how_to_make_them(tmp_path):
    box, rc = solara.render(app.ExperimentView(tmp_path), handle_error=False)
    assert not rc.find(DataTableWidget).widgets
    assert any("smo-abm experiment" in str(w.get_state()) for w in rc.find(v.VuetifyTemplate).widgets)
    rc.close()


def test_network_view_shows_awareness_spreading_in_one_neighbourhood():
    """The sampled neighbourhood is fixed for a model; its people are counted by category, and awareness of the
    offices grows in it once they open (mid-2023) and their news spreads."""
    import numpy as np

    m = app.DashboardModel(seed=3)
    nodes, g, pos = app._layout(m)
    assert len(nodes) == app.NEIGHBOURHOOD_SIZE and g.number_of_nodes() == len(nodes) and len(pos) == len(nodes)
    assert m.people.place[nodes[0]] in [m.pack.places.index(p) for p in m.pack.offices]
    aware = lambda: int(np.isin(app.category(m, nodes), (2, 3, 4)).sum())
    assert aware() == 0  # July 2022: no office open yet
    while m.date_of(m.week).year < 2024 or m.date_of(m.week).month < 7:
        m.step()
    assert aware() >= 5, np.bincount(app.category(m, nodes), minlength=len(app.CATEGORIES))
    assert app._layout(m)[0] is nodes
    fig = app.network_figure(m)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    counts = np.bincount(app.category(m, nodes), minlength=len(app.CATEGORIES))
    assert sum(int(lab.rsplit("(", 1)[1].rstrip(")")) for lab in labels) == len(nodes) == counts.sum()


def test_category_follows_state_before_knowledge():
    import numpy as np
    from agents.states import State

    m = app.DashboardModel()
    p = m.people
    idx = np.arange(p.n)
    cat = app.category(m, idx)
    assert (cat[p.state == State.NOT_ARRIVED] == 0).all()
    assert (cat[p.state == State.PREPARING] == 6).all()
    resident = p.state == State.INTEGRATING
    assert (cat[resident & ~p.aware_smo & (p.smo_stage == 0)] == 1).all()


def test_settings_card_names_the_runs_levers():
    m = app.DashboardModel(parole=False, capacity_factor=2.0, closure="2024-01-01")
    box, rc = solara.render(solara.Column(children=[app.SettingsCard(m)]), handle_error=False)
    text = str([w.get_state() for w in rc.find(v.VuetifyTemplate).widgets])
    for s in ("Week 0: 2022-07-01", "parole off", "processing capacity x2", "close on 2024-01-01"):
        assert s in text
    rc.close()


def test_the_office_decision_control_is_the_experiments_lever():
    """The dashboard's office decision time (weeks) and an experiment's office_decision_months set the same field the
    pipeline reads; the control starts at the baseline's value, so the page opens on the baseline."""
    assert app.scenario().pack.resettlement["decision_weeks"] == app.DEFAULTS["decision_weeks"]
    assert app.scenario(decision_weeks=26).pack.resettlement["decision_weeks"] == 26
    assert app.scenario(decision_weeks=26, news_per_week=0.25).pack.resettlement["news_per_week"] == 0.25  # both kept
    assert "office decisions take 26 weeks (6.0 months)" in app.describe_levers(
        app.checked_levers(decision_weeks=26, tolerated_wait_days=100, news_per_week=0.03, outreach=4))


def test_compare_view_runs_two_settings_and_shows_their_difference():
    import time

    m = app.DashboardModel(walk_in=True)
    box, rc = solara.render(solara.Column(children=[app.CompareView(m.levers, m.scale), app.CompareResults()]),
                            handle_error=False)
    rc.find(v.Slider).widget.v_model = 2
    rc.find(v.Btn, children=["Compare"]).widget.click()
    deadline = time.monotonic() + 120
    while app.comparison_task.pending and time.monotonic() < deadline:
        time.sleep(0.2)
    assert app.comparison_task.finished, app.comparison_task.exception
    tables = lambda: [html_rows(w.unsafe_innerHTML) for w in rc.find(solara.widgets.HTML).widgets
                      if "<table" in (w.unsafe_innerHTML or "")]
    while len(tables()) < 2 and time.monotonic() < deadline:  # redrawn from the task's thread
        time.sleep(0.2)
    diff, levels = tables()
    c = app.comparison_task.value
    assert (c.a, c.b, c.seeds) == ("baseline", app.CONTROLS, [1, 2])
    assert diff[0] == ["effect of B", "unit", "median [90% interval]", "pairs"]
    effect = {r[0]: r[2] for r in diff[1:]}
    assert "extra SMO registrations" in effect and "extra interceptions" not in effect  # zero in both: left out
    assert all(re.fullmatch(r"[+-][\d,.]+( pp)? \[[+-][\d,.]+( pp)?, [+-][\d,.]+( pp)?\]", x) for x in effect.values()), effect
    assert {r[0] for r in levels[1:]} >= {"Darien crossings", "SMO registrations"}
    assert len(rc.find(ipywidgets.Image).widgets) == 2  # A's and B's weekly series, side by side
    rc.close()


def test_every_nationality_lever_is_the_eligibility_experiments_variant():
    """The control and experiments/eligibility_expansion.toml's all_nationalities are written differently (the
    offices open to everyone; the variant adds everyone on the opening day): same seed, same run, same outputs."""
    from pathlib import Path

    from abm.model import SafeMobilityModel
    from experiments.compare import settings_for
    from experiments.measures import measure

    variant = {s.label: s for s in settings_for(Path(app.BASELINE))}["eligibility_expansion: all_nationalities"]
    outs = []
    for sc in (app.scenario(all_nationalities=True, seed=2), variant.make(2, 0.002), app.scenario(seed=2)):
        m = SafeMobilityModel(sc)
        m.run()
        outs.append(measure(m, (sc.start, sc.end))[0])
    assert outs[0] == outs[1]
    assert outs[0]["smo_registrations"] > outs[2]["smo_registrations"]  # and it is not the baseline


def test_tabs_are_named_for_what_they_hold():
    box, rc = solara.render(solara.AppLayout(children=[app.page]), handle_error=False)
    assert [w.children for w in rc.find(v.Tab).widgets] == [["Model"], ["Compare"], ["Experiments"]]
    rc.close()


def test_every_setting_is_in_a_list_short_enough_to_be_drawn_whole():
    """Vuetify 2 draws a select's first 20 items until its menu is scrolled: each list the comparison offers is
    shorter, and together they hold every setting once."""
    options = app.compare_settings(app.checked_levers())
    groups = app.setting_groups(options)
    assert [label for g in groups.values() for label in g] == list(options)
    assert len(groups) < 20 and all(len(g) < 20 for g in groups.values()), {k: len(g) for k, g in groups.items()}
    assert "parole_counterfactuals: no_parole" in groups["parole_counterfactuals"]


def test_the_dashboard_starts_without_a_warning():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import abm.app"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Warning" not in r.stderr, r.stderr[-2000:]
