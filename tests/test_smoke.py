"""The baseline runs end to end and reports in people."""
from abm.model import METRICS


def test_small_baseline_runs(small_run):
    m, ts = small_run
    assert list(ts.columns) == ["date", "metric", "nationality", "host", "value"]
    assert set(ts.metric) == set(METRICS)
    assert ts.date.nunique() == m.n_weeks
    # people, not agents: every value is a multiple of the agent weight
    assert ((ts.value / m.weight).round(6) % 1 == 0).all()
    assert ts[ts.metric == "darien_crossings"].value.sum() > 0
