"""The dashboard (issue 7, first part): the SolaraViz page renders headless, its controls are scenario
overrides, and a click on Step advances the model and its charts."""
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
    shut = app.scenario(closure="2024-01-01", outreach=0.02)
    closes = [p for p in shut.policies if p.kind in ("smo_close", "parole_close")]
    assert len(closes) == len(base.pack.offices) + 1 and {p.date.isoformat() for p in closes} == {"2024-01-01"}
    assert [p.fields["reach"] for p in shut.policies if p.kind == "outreach"] == [0.02]


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


def test_experiment_view_shows_a_finished_experiments_effects(tmp_path):
    """A results folder with one finished (tiny) experiment: the view lists it and shows its effect table."""
    from experiments.experiment import run_experiment
    from tests.test_experiment_runner import CAPACITY, tiny

    f = tiny(tmp_path, CAPACITY, replicates=2)
    root = tmp_path / "results" / "experiments"
    run_experiment(f, out=root / "tiny", scheduler="single", progress=False)
    assert app.finished_experiments(root) == ["tiny"]
    box, rc = solara.render(app.ExperimentView(root), handle_error=False)
    tables = rc.find(DataTableWidget).widgets
    assert len(tables) == 1
    rows = tables[0].items
    assert {r["variant"] for r in rows} == {"capacity_x3", "closed_in_september"}
    assert tables[0].total_length == 2 * 10  # two variants x ten outputs
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2
    rc.close()


def test_experiment_view_without_results_says_how_to_make_them(tmp_path):
    box, rc = solara.render(app.ExperimentView(tmp_path), handle_error=False)
    assert not rc.find(DataTableWidget).widgets
    assert any("smo-abm experiment" in str(w.get_state()) for w in rc.find(v.VuetifyTemplate).widgets)
    rc.close()
