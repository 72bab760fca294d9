"""calibration.report builds its tables from runs (here one small run)."""
from calibration.report import pause, table
from calibration.targets import headline, load_targets


def test_report_tables(small_run):
    _, ts = small_run
    h = headline(ts)
    t = table([h, h])
    assert t.count("\n") >= len(load_targets()) and "darien_venezuela_2023" in t
    p = pause([ts[ts.metric == "darien_crossings"]] * 2)
    assert "| Venezuela |" in p and "| 2023-04 |" in p
