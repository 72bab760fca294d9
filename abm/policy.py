"""The dated policy timeline: interventions as objects, switched on by date (as Starsim does).

Each `[[policy]]` entry of a scenario has a `date`, a `kind` and the kind's fields. The handlers live
with the institution they change (smo.py, parole.py, border.py, information.py); this module checks
the entries and applies each one in the week that contains its date.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .errors import InputError
from .pack import OFFICE_FIELDS, RESETTLEMENT_FIELDS, RESETTLEMENT_OPTIONAL, SEGMENT_FIELDS, SEGMENT_OPTIONAL, Pack, _check_value

# kind -> {field: spec}; spec kinds: "office", "option", "segment", "nationalities", "topic", "channels", or a numeric/bool spec as in pack.py
KINDS: dict[str, dict[str, tuple]] = {
    "smo_open": {"office": ("office",), "nationalities": ("nationalities",)},
    "smo_nationalities": {"office": ("office",), "add": ("nationalities", "optional"), "remove": ("nationalities", "optional")},
    "smo_set": {"office": ("office",), **{k: (*v, "optional") for k, v in OFFICE_FIELDS.items()}},
    "smo_close": {"office": ("office",)},
    # an announcement is put on information channels (the pack's channels.toml; all of them if not listed):
    # who hears it, and when, follows from the channels (abm/information.py), not from a share set here
    "announce": {"topic": ("topic",), "nationalities": ("nationalities", "optional"), "channels": ("channels", "optional")},
    # an outreach campaign: the SMO's rules (an FAQ) put on the official channel, live for `weeks`
    # (default: the channel's live_weeks)
    "outreach": {"nationalities": ("nationalities", "optional"), "weeks": ("int", 1, 520, "optional")},
    "parole_open": {"nationalities": ("nationalities",), "monthly_cap": ("num", 0, 1e7), "programme": ("programme", "optional")},
    "parole_set": {"monthly_cap": ("num", 0, 1e7), "programme": ("programme", "optional")},
    "parole_close": {"nationalities": ("nationalities", "optional"), "programme": ("programme", "optional")},
    "border_expel": {"nationalities": ("nationalities",)},
    "title42_end": {},
    "circumvention_rule": {},
    "asylum_rule": {"threshold_daily": ("num", 0, 1e6), "reopen_daily": ("num", 0, 1e6),
                    "reopen_days": ("int", 1, 365, "optional")},
    "removal_flights": {"nationalities": ("nationalities",), "running": ("bool",), "segment": ("segment", "optional"),
                        "per_week": ("num", 0, 1e7, "optional")},
    "resettlement_set": {k: (*v, "optional") for k, v in {**RESETTLEMENT_FIELDS, **RESETTLEMENT_OPTIONAL}.items()},
    "route_close": {"option": ("option",)},
    # CBP One and Mexico's enforcement (abm/mexico.py): need the pack's [mexico] table
    "cbp_one_open": {"scope": ("scope",), "appointments_per_day": ("num", 0, 1e6)},
    "cbp_one_set": {"scope": ("scope", "optional"), "appointments_per_day": ("num", 0, 1e6, "optional")},
    "cbp_one_close": {},
    "mexico_enforcement": {"p_caught_week": ("share", 0, 1), "weeks_lost": ("int", 0, 52), "cost_usd": ("num", 0, 1e5)},
    "segment_set": {"segment": ("segment",),
                    **{k: (*v, "optional") for k, v in {**SEGMENT_FIELDS, **SEGMENT_OPTIONAL}.items()
                       if k in ("p_death", "p_intercept", "p_injury", "p_robbery", "cost_usd", "smuggler_fee_usd")}},
}
TOPICS = ("smo", "parole", "expulsion")
SCOPES = ("exceptions", "all")  # who may use CBP One: Title 42 exceptions, or everyone (abm/mexico.py)
MEXICO_KINDS = ("cbp_one_open", "cbp_one_set", "cbp_one_close", "mexico_enforcement")
#: fields that name something of the pack: spec kind -> (what it is, the pack's names)
NAMED = {"office": ("office", lambda pk: pk.offices), "option": ("route option", lambda pk: pk.options),
         "segment": ("segment", lambda pk: pk.segments), "programme": ("programme", lambda pk: pk.parole_programmes)}


def parse_date(value, file, where) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(file, where, f"{value!r} is not a date (YYYY-MM-DD)")


@dataclass
class Policy:
    date: dt.date
    kind: str
    fields: dict = field(default_factory=dict)
    source: str = ""

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.date} {self.kind}" + (f" ({extra})" if extra else "")


def check_policies(entries: list, pack: Pack, file) -> list[Policy]:
    out = []
    for i, e in enumerate(entries):
        where = f"policy[{i}]"
        if not isinstance(e, dict):
            raise InputError(file, where, "must be a table")
        kind = e.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise InputError(file, f"{where}.kind", f"unknown policy kind {kind!r} (known: {', '.join(KINDS)})")
        date = parse_date(e.get("date"), file, f"{where}.date")
        if kind in MEXICO_KINDS and pack.mexico is None:
            raise InputError(file, f"{where}.kind", f"a {kind} policy needs the pack's [mexico] table, which {pack.path.name} lacks")
        # a policy after the run's end never applies (a shortened run keeps its scenario's timeline), so
        # it is a warning (scenario.py _late_policies), not an error; dates far from any run are typos
        if not (1990 <= date.year <= 2100):
            raise InputError(file, f"{where}.date", f"{date} is out of range (1990-2100)")
        spec = KINDS[kind]
        fields = {}
        for k, v in e.items():
            if k in ("date", "kind", "source"):
                continue
            if k not in spec:
                raise InputError(file, f"{where}.{k}", f"not a field of a {kind} policy (fields: {', '.join(spec) or 'none'})")
            s = spec[k]
            if s[0] in NAMED:
                what, names = NAMED[s[0]]
                if not isinstance(v, str) or v not in names(pack):
                    raise InputError(file, f"{where}.{k}", f"unknown {what} {v!r} (known: {', '.join(names(pack))})")
            elif s[0] == "nationalities":
                if not isinstance(v, list):
                    raise InputError(file, f"{where}.{k}", "must be a list of nationalities")
                for n in v:
                    if not isinstance(n, str) or n not in pack.nationalities:
                        raise InputError(file, f"{where}.{k}", f"unknown nationality {n!r} (known: {', '.join(pack.nationalities)})")
            elif s[0] == "scope":
                if not isinstance(v, str) or v not in SCOPES:
                    raise InputError(file, f"{where}.{k}", f"unknown scope {v!r} (known: {', '.join(SCOPES)})")
            elif s[0] == "channels":
                if not isinstance(v, list) or not v:
                    raise InputError(file, f"{where}.{k}", "must be a list of channels")
                for c in v:
                    if not isinstance(c, str) or c not in pack.channels:
                        raise InputError(file, f"{where}.{k}", f"unknown channel {c!r} (the pack's: {', '.join(pack.channels) or 'none'})")
            elif s[0] == "topic":
                if not isinstance(v, str) or v not in TOPICS:
                    raise InputError(file, f"{where}.{k}", f"unknown topic {v!r} (known: {', '.join(TOPICS)})")
            else:
                _check_value((file, f"{where}.{k}"), k, v, s)
            fields[k] = v
        for k, s in spec.items():
            if "optional" not in s and k not in fields:
                raise InputError(file, f"{where}.{k}", f"missing (a {kind} policy needs it)")
        out.append(Policy(date=date, kind=kind, fields=fields, source=str(e.get("source", ""))))
    out.sort(key=lambda p: p.date)
    return out


class Timeline:
    """Applies each policy in the week containing its date; those dated before the first simulated week
    (the first burn-in week) apply in that week."""

    def __init__(self, policies: list[Policy], handlers: dict):
        self.policies = policies
        self.handlers = handlers
        self._next = 0
        self.applied: list[tuple[int, Policy]] = []

    def apply_due(self, model, week_end: dt.date):
        while self._next < len(self.policies) and self.policies[self._next].date <= week_end:
            p = self.policies[self._next]
            self.handlers[p.kind](model, p)
            self.applied.append((model.week, p))
            self._next += 1
