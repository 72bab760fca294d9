"""Each eligibility rule of the SMOs and of parole, on its own (002 s3.1, s5.5, s6.2).

A tiny baseline is stepped to a date when offices are open; a chosen person is given an otherwise
eligible profile and then one thing is changed at a time.
"""
import datetime as dt

import numpy as np
import pytest

from abm import parole, smo
from abm.model import SafeMobilityModel
from abm.policy import Policy
from calibration.posterior import load_run
from agents.population import day_number
from agents.states import Status
from tests.conftest import BASELINE


def stepped_to(date: str, scale=0.0002):
    m = SafeMobilityModel(load_run(BASELINE, scale=scale, seed=5))
    target = dt.date.fromisoformat(date)
    while m.date + dt.timedelta(days=6) < target:
        m.step()
    m.step()
    return m


@pytest.fixture(scope="module")
def july2023():
    return stepped_to("2023-07-10")


def person(m, nationality, place, **attrs):
    """The first person of a nationality in a place, with a profile that meets every rule, then `attrs`."""
    p, pk = m.people, m.pack
    candidates = np.flatnonzero((p.nat == pk.nat_index(nationality)) & (p.place == pk.place_index(place)))
    assert len(candidates), f"no {nationality} in {place} at this scale"
    i = int(candidates[0])
    p.status[i] = Status.REGULAR
    p.internet[i] = True
    p.arrival_day[i] = day_number(dt.date(2018, 1, 1))
    p.us_tie[i] = True
    p.passport[i] = True
    p.id_doc[i] = True
    for k, v in attrs.items():
        getattr(p, k)[i] = v
    return np.array([i])


def smo_ok(m, idx):
    return bool(smo.eligible(m, idx)[0])


def parole_ok(m, idx):
    return bool(parole.eligible(m, idx)[0])


def test_profile_is_eligible(july2023):
    assert smo_ok(july2023, person(july2023, "Venezuela", "Colombia"))


def test_office_must_be_open_where_one_lives(july2023):
    m = july2023
    assert not smo_ok(m, person(m, "Venezuela", "Peru"))          # no office in Peru
    assert not smo_ok(m, person(m, "Venezuela", "Ecuador"))       # Ecuador opens in October 2023
    early = stepped_to("2023-05-01")
    assert not smo_ok(early, person(early, "Venezuela", "Colombia"))


def test_nationality_must_be_listed_at_the_date(july2023):
    m = july2023
    i = person(m, "Venezuela", "Colombia", nat=m.pack.nat_index("Ecuador"))
    assert not smo_ok(m, i)  # Ecuadorians are added to the Colombia office only in May 2024
    later = stepped_to("2024-05-20")
    j = person(later, "Venezuela", "Colombia", nat=later.pack.nat_index("Ecuador"))
    assert smo_ok(later, j)


def test_host_nationals_only_in_guatemala(july2023):
    m = july2023
    assert not smo_ok(m, person(m, "Colombia", "Colombia"))       # Colombians listed, but not at home
    assert smo_ok(m, person(m, "Guatemala", "Guatemala"))


def test_presence_cutoff(july2023):
    m = july2023
    opened = m.offices["Colombia"].opened_day
    assert smo_ok(m, person(m, "Venezuela", "Colombia", arrival_day=opened - 1))
    assert not smo_ok(m, person(m, "Venezuela", "Colombia", arrival_day=opened))
    # no cut-off in Guatemala: a Venezuelan who arrived after it opened may register
    assert smo_ok(m, person(m, "Guatemala", "Guatemala", arrival_day=opened + 10,
                            nat=m.pack.nat_index("Venezuela")))


def test_regular_status_required_in_colombia_not_costa_rica(july2023):
    m = july2023
    assert not smo_ok(m, person(m, "Venezuela", "Colombia", status=Status.IRREGULAR))
    assert smo_ok(m, person(m, "Venezuela", "Colombia", status=Status.REGULARISING))
    assert smo_ok(m, person(m, "Nicaragua", "Costa Rica", status=Status.IRREGULAR))


def test_online_only_unless_walk_ins(july2023):
    m = july2023
    i = person(m, "Venezuela", "Colombia", internet=False)
    assert not smo_ok(m, i)
    smo.on_set(m, Policy(date=m.date, kind="smo_set", fields={"office": "Colombia", "walk_in": True}))
    try:
        assert smo_ok(m, i)
    finally:
        smo.on_set(m, Policy(date=m.date, kind="smo_set", fields={"office": "Colombia", "walk_in": False}))


def test_closing_an_office_ends_eligibility(july2023):
    m = stepped_to("2023-07-10")
    i = person(m, "Venezuela", "Colombia")
    smo.on_close(m, Policy(date=m.date, kind="smo_close", fields={"office": "Colombia"}))
    assert not smo_ok(m, i)


def test_parole_only_for_listed_nationalities(july2023):
    m = july2023
    assert parole_ok(m, person(m, "Venezuela", "Colombia"))
    assert parole_ok(m, person(m, "Nicaragua", "Costa Rica"))
    assert not parole_ok(m, person(m, "Colombia", "Colombia"))


def test_parole_needs_a_us_sponsor(july2023):
    m = july2023
    assert not parole_ok(m, person(m, "Venezuela", "Colombia", us_tie=False))


def test_parole_needs_a_passport(july2023):
    m = july2023
    assert not parole_ok(m, person(m, "Venezuela", "Colombia", passport=False))
    assert not parole_ok(m, person(m, "Venezuela", "Colombia", passport=False, id_doc=True))


def test_parole_opens_for_venezuelans_first():
    m = stepped_to("2022-11-01")
    assert parole_ok(m, person(m, "Venezuela", "Colombia"))
    assert not parole_ok(m, person(m, "Cuba", "Cuba"))  # Cubans from January 2023


def test_identity_document_required_in_colombia_not_guatemala(july2023):
    m = july2023
    assert not smo_ok(m, person(m, "Venezuela", "Colombia", id_doc=False, passport=False))
    assert smo_ok(m, person(m, "Venezuela", "Colombia", id_doc=False, passport=True))
    assert smo_ok(m, person(m, "Venezuela", "Colombia", id_doc=True, passport=False))
    assert smo_ok(m, person(m, "Guatemala", "Guatemala", id_doc=False, passport=False))
