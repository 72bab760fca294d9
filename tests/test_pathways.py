"""Several legal pathways at once (issue 6): a pack's `[parole]` is its first programme and
`[parole.programmes.*]` add more, each with its own nationalities, requirements and monthly cap."""
import datetime as dt

import numpy as np

from abm.cli import main
from abm.model import SafeMobilityModel
from abm.scenario import load_scenario
from agents.states import ParoleStage
from tests.conftest import TESTLAND

SRC = "assumption: test"
CORRIDOR = f"""
[pack.parole.programmes.corridor]
requires_sponsor = false
requires_passport = false
p_denied = 0.0
travel_weeks = 2
sources = {{ p_denied = "{SRC}", travel_weeks = "{SRC}" }}

[[policy]]
date = "2030-03-04"
kind = "parole_open"
programme = "corridor"
nationalities = ["Aria"]
monthly_cap = 400
source = "{SRC}"

[[policy]]
date = "2030-03-04"
kind = "announce"
topic = "parole"
nationalities = ["Aria"]
source = "{SRC}"
"""


def _run(tmp_path, extra=""):
    f = tmp_path / "s.toml"
    f.write_text(f'extends = "{TESTLAND.as_posix()}"\n[run]\nname = "pathways"\n' + CORRIDOR + extra)
    m = SafeMobilityModel(load_scenario(f, scale=0.02, seed=6))
    m.run()
    m.release()
    return m


def test_each_programme_takes_its_own_nationalities_within_its_own_cap(tmp_path):
    m = _run(tmp_path)
    p = m.people
    arrived = p.parole_stage == ParoleStage.ARRIVED
    aria, borea = m.pack.nat_index("Aria"), m.pack.nat_index("Borea")
    by_prog = {k: arrived & (p.parole_prog == k) for k in (0, 1)}
    assert by_prog[1].sum() > 0 and by_prog[0].sum() > 0
    assert set(np.unique(p.nat[by_prog[1]])) == {aria}        # the corridor is for Arians
    assert set(np.unique(p.nat[by_prog[0]])) == {borea}       # parole (first programme) for Boreans
    # authorisations: at most the monthly cap x 12 / 52 a week (in agents), from the opening week on
    weeks = m.n_weeks + m.spinup
    cap_agents = 400 * 12 / 52 * m.scale * weeks
    assert by_prog[1].sum() <= cap_agents + 1


def test_closing_one_programme_leaves_the_other(tmp_path):
    m = _run(tmp_path, f'\n[[policy]]\ndate = "2030-09-02"\nkind = "parole_close"\nprogramme = "corridor"\nsource = "{SRC}"\n')
    p = m.people
    late = p.parole_week >= (dt.date(2030, 9, 9) - m.start).days // 7  # authorised after the closing week
    authorised = np.isin(p.parole_stage, (ParoleStage.AUTHORISED, ParoleStage.ARRIVED))
    assert (authorised & late & (p.parole_prog == 1)).sum() == 0
    assert (authorised & late & (p.parole_prog == 0)).sum() > 0
    assert (authorised & ~late & (p.parole_prog == 1)).sum() > 0


def test_unknown_programme_is_an_input_error(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(f'extends = "{TESTLAND.as_posix()}"\n' + CORRIDOR.replace('programme = "corridor"', 'programme = "ferry"'))
    assert main(["run", str(f), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "programme" in err and "'ferry'" in err and "Traceback" not in err
