"""The two waiting levers, each named for what it changes.

- `office_decision_months`: how long the offices take to decide a case once it is assessed: the *actual* wait.
  It is a named front for the pack's `resettlement.decision_weeks` (abm/smo.py: a UNHCR case is decided when
  it has waited that many weeks since its referral), so the wait is enforced by the office pipeline, not set
  on the outcome. People learn of it as they live it (weeks without news of their case weigh on them,
  abm/decisions.py) and from contacts whose cases wait (b_wait, abm/information.py).
- `willing_to_wait_days`: how long people are *willing* to wait before the wait weighs on them as much as
  the calibrated tolerance does: a named front for `behaviour.tolerated_wait_weeks`.

Both are checked against the bounds of the field they set (abm/pack.py, abm/params.py), so an impossible
value names the experiment file and the lever.
"""
from __future__ import annotations

from abm.errors import InputError
from abm.pack import RESETTLEMENT_FIELDS, deep_merge
from abm.params import PARAMS

DAYS_PER_MONTH = 365.25 / 12
DECISION_LEVER, WILLING_LEVER = "office_decision_months", "willing_to_wait_days"
_, DECISION_MIN, DECISION_MAX = RESETTLEMENT_FIELDS["decision_weeks"]
TOLERANCE_MIN, TOLERANCE_MAX = PARAMS["behaviour"]["tolerated_wait_weeks"][1:3]


def weeks_of_months(months: float) -> int:
    """Whole weeks (the model steps a week at a time) nearest to `months` months."""
    return int(round(months * DAYS_PER_MONTH / 7))


def months_of_weeks(weeks: float) -> float:
    return weeks * 7 / DAYS_PER_MONTH


def _number(file, where, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise InputError(file, where, f"must be a number, not {v!r}")
    return float(v)


def decision_weeks(file, where, months) -> int:
    """The decision time in weeks for `months` months, within decision_weeks' bounds."""
    weeks = weeks_of_months(_number(file, where, months))
    if not DECISION_MIN <= weeks <= DECISION_MAX:
        raise InputError(file, where, f"must be from {months_of_weeks(DECISION_MIN):g} to "
                                      f"{months_of_weeks(DECISION_MAX):.1f} months ({DECISION_MIN} to {DECISION_MAX} "
                                      f"weeks), not {months!r}")
    return weeks


def tolerated_weeks(file, where, days) -> float:
    """The tolerated wait in weeks for `days` days, within tolerated_wait_weeks' bounds."""
    weeks = _number(file, where, days) / 7
    if not TOLERANCE_MIN <= weeks <= TOLERANCE_MAX:
        raise InputError(file, where, f"must be from {7 * TOLERANCE_MIN:g} to {7 * TOLERANCE_MAX:g} days, not {days!r}")
    return weeks


def apply_levers(file, where: str, data: dict, changes: dict) -> dict:
    """The scenario table `data` with the waiting levers named in `changes` set (each after the variant's own
    tables, so the named lever wins over a raw figure set beside it)."""
    if DECISION_LEVER in changes:
        weeks = decision_weeks(file, f"{where}.{DECISION_LEVER}", changes[DECISION_LEVER])
        data["pack"] = deep_merge(data.get("pack", {}) or {}, {"resettlement": {"decision_weeks": weeks}})
    if WILLING_LEVER in changes:
        weeks = tolerated_weeks(file, f"{where}.{WILLING_LEVER}", changes[WILLING_LEVER])
        data["behaviour"] = {**(data.get("behaviour", {}) or {}), "tolerated_wait_weeks": weeks}
    return data


def decision_months_of(changes: dict) -> float | None:
    """The decision time a variant's own changes set, in months (None: it does not set one)."""
    v = changes.get(DECISION_LEVER)
    return None if v is None else months_of_weeks(weeks_of_months(v))
