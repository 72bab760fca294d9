"""Information: awareness of the SMOs and of parole, knowledge of their rules, and beliefs (chance of
approval, expected wait, fees, expulsion risk, the border, the route's danger).

Word of mouth along ties is the main channel (002 s5.2); social media and official outreach are
weaker broadcast channels with their own reach and accuracy; contacts' outcomes (approved, rejected,
arrived, expelled, died) move beliefs. Neighbour sums are one sparse product per week: the adjacency
matrix times a stack of indicator columns.
"""
from __future__ import annotations

import numpy as np

from agents.states import ParoleStage, SmoStage, State

QUEUED = (SmoStage.REGISTERED, SmoStage.UNHCR)
RISK_AFTER_A_DEATH = 0.05  # assumption: believed risk of dying after a contact died on the route
REASSURANCE = 0.5          # assumption: weight of a contact's safe arrival relative to a death

SIGNALS = {  # event columns <- events of the previous week
    "smo_pos": ("smo_approvals", "smo_relocations"),
    "smo_neg": ("smo_rejected", "smo_withdrawn", "smo_ineligible"),
    "parole_pos": ("parole_arrivals",),
    "parole_neg": ("parole_ineligible",),
    "admitted": ("admitted",),
    "expelled": ("expelled", "removed"),
    "died": ("deaths",),
    "arrived": ("admitted", "parole_arrivals", "smo_relocations"),
}

# columns of the stacked neighbour sums: states and beliefs, then last week's outcome signals
COLS = ("aware_smo", "aware_parole", "rules_smo", "rules_parole", "fee", "expel",
        "b_smo", "b_parole", "b_wait", "b_admit", "talk", "smo_waiting", "smo_waited") + tuple(SIGNALS)
C = {c: i for i, c in enumerate(COLS)}



def _columns(m, rows) -> np.ndarray:
    """The COLS values of persons `rows` (zero for those who cannot talk)."""
    p = m.people
    talk = m.talkers[rows]
    X = np.zeros((len(rows), len(COLS)), dtype=np.float32)
    a_smo, a_par = p.aware_smo[rows] & talk, p.aware_parole[rows] & talk
    X[:, C["aware_smo"]] = a_smo
    X[:, C["aware_parole"]] = a_par
    X[:, C["rules_smo"]] = p.rules_smo[rows] & talk
    X[:, C["rules_parole"]] = p.rules_parole[rows] & talk
    X[:, C["fee"]] = p.fee_belief[rows] & a_smo
    X[:, C["expel"]] = p.expel_belief[rows] & a_smo
    X[:, C["b_smo"]] = p.b_smo[rows] * a_smo
    X[:, C["b_parole"]] = p.b_parole[rows] * a_par
    X[:, C["b_wait"]] = p.b_wait[rows] * a_smo
    X[:, C["b_admit"]] = p.b_admit[rows] * talk
    X[:, C["talk"]] = talk
    # contacts with a case in the queue, and how long they have waited so far
    stage = p.smo_stage[rows]
    waiting = talk & (p.state[rows] == State.WAITING_SMO) & ((stage == QUEUED[0]) | (stage == QUEUED[1]))
    X[:, C["smo_waiting"]] = waiting
    X[:, C["smo_waited"]] = np.where(waiting, m.week - p.smo_reg_week[rows], 0)
    X[:, C["smo_pos"]:] = m.signals[rows]
    return X


def neighbour_sums(m, idx, full: bool) -> np.ndarray:
    """Sums over each listener's contacts of the columns in COLS (contacts who can talk only).
    `full`: one sparse product for everyone (the weekly step); otherwise contact by contact."""
    if full:
        return (m.adj @ _columns(m, np.arange(m.people.n)))[idx]
    a = m.adj
    out = np.zeros((len(idx), len(COLS)), dtype=np.float32)
    for j, i in enumerate(idx):
        nb = a.indices[a.indptr[i]:a.indptr[i + 1]]
        if len(nb):
            out[j] = _columns(m, nb).sum(axis=0)
    return out


def signal_matrix(n: int, events: dict) -> np.ndarray:
    """Per person, how many of last week's outcome events of each signal kind they had."""
    S = np.zeros((n, len(SIGNALS)), dtype=np.float32)
    for j, names in enumerate(SIGNALS.values()):
        for name in names:
            ev = events.get(name)
            if ev is not None and len(ev):
                np.add.at(S[:, j], ev, 1.0)
    return S


_EMPTY = np.empty(0, dtype=np.int64)


def _hear(k, p_per_contact):
    """Chance of hearing from at least one of k contacts."""
    return 1.0 - np.power(1.0 - p_per_contact, k)


def _toward(b, target, weight):
    return b + weight * (target - b)


def step(m, idx, full: bool = True):
    """Update what the listeners `idx` know and believe."""
    if len(idx) == 0:
        return
    p, info, w, S = m.people, m.info, m.week, m.streams
    K = neighbour_sums(m, idx, full)
    k = lambda c: K[:, C[c]]
    eta = info["outcome_learning"]

    # 1. awareness by word of mouth; misbeliefs travel with it
    for topic in ("smo", "parole"):
        aware = getattr(p, f"aware_{topic}")
        ka = k(f"aware_{topic}")
        cand = ~aware[idx] & (ka > 0)
        pos = np.flatnonzero(cand & (S.uniform(f"wom_{topic}", w, idx) < _hear(ka, info["wom_awareness"])))
        if len(pos) == 0:
            continue
        new = idx[pos]
        aware[new] = True
        b = getattr(p, f"b_{topic}")
        b[new] = K[pos, C[f"b_{topic}"]] / np.maximum(ka[pos], 1)
        if topic == "smo":
            p.b_wait[new] = K[pos, C["b_wait"]] / np.maximum(ka[pos], 1)
            share_fee = K[pos, C["fee"]] / np.maximum(ka[pos], 1)
            share_exp = K[pos, C["expel"]] / np.maximum(ka[pos], 1)
            ms = info["misbelief_spread"]
            p.fee_belief[new] |= S.uniform("wom_fee", w, new) < ms * share_fee
            p.expel_belief[new] |= S.uniform("wom_expel", w, new) < ms * share_exp

    # 2. the rules: from contacts who know them, from official sources, and by searching
    for topic in ("smo", "parole"):
        aware, rules = getattr(p, f"aware_{topic}"), getattr(p, f"rules_{topic}")
        pr = _hear(k(f"rules_{topic}"), info["wom_rules"])
        pr = 1 - (1 - pr) * (1 - info["official_rules"] * p.internet[idx])
        if topic == "parole":
            considering = (p.state[idx] == State.WAITING_PAROLE) & (p.parole_stage[idx] == ParoleStage.CONSIDERING)
            pr = 1 - (1 - pr) * (1 - info["search_rules"] * considering)
        learn = idx[aware[idx] & ~rules[idx] & (S.uniform(f"rules_{topic}", w, idx) < pr)]
        rules[learn] = True

    # 3. beliefs drift towards contacts' average (DeGroot), among the aware
    mix = info["belief_mixing"]
    for topic, cnt in (("smo", "aware_smo"), ("parole", "aware_parole")):
        kc = k(cnt)
        has = getattr(p, f"aware_{topic}")[idx] & (kc > 0)
        b = getattr(p, f"b_{topic}")
        sel = idx[has]
        b[sel] = _toward(b[sel], K[has, C[f"b_{topic}"]] / kc[has], mix)
    # the expected SMO wait follows how long contacts' cases have been waiting
    kw = k("smo_waiting")
    has = p.aware_smo[idx] & (kw > 0)
    sel = idx[has]
    p.b_wait[sel] = _toward(p.b_wait[sel], K[has, C["smo_waited"]] / kw[has], mix)
    kt = k("talk")
    has = kt > 0
    p.b_admit[idx[has]] = _toward(p.b_admit[idx[has]], K[has, C["b_admit"]] / kt[has], mix)

    # 4. contacts' outcomes
    def shift(b, pos_c, neg_c):
        up, down = _hear(k(pos_c), eta), _hear(k(neg_c), eta)
        b[idx] = np.clip(b[idx] + up * (1 - b[idx]) - down * b[idx], 0, 1)

    shift(p.b_smo, "smo_pos", "smo_neg")
    shift(p.b_parole, "parole_pos", "parole_neg")
    shift(p.b_admit, "admitted", "expelled")
    # assumption: a contact's safe arrival reassures half as much as a contact's death alarms
    scared, reassured = _hear(k("died"), eta), _hear(k("arrived"), eta) * REASSURANCE
    r = p.b_risk[idx]
    r = r + scared * (RISK_AFTER_A_DEATH - r)
    p.b_risk[idx] = r + reassured * (m.beh["prior_risk"] - r)

    # 5. the diaspora in the US reports how people of their nationality fare at the border
    dw = info["diaspora_weight"]
    if dw > 0:
        rate = m.admit_rate[p.nat[idx]]
        sel = p.us_tie[idx] & ~np.isnan(rate)
        p.b_admit[idx[sel]] = _toward(p.b_admit[idx[sel]], rate[sel], dw)

    # 6. broadcast channels (people with internet)
    net = idx[p.internet[idx]]
    for topic in ("smo", "parole"):
        if not m.topic_public[topic]:
            continue
        aware = getattr(p, f"aware_{topic}")
        hit = net[~aware[net] & (S.uniform(f"social_{topic}", w, net) < info["social_media_reach"])]
        aware[hit] = True
        if topic == "smo":
            bad = 1 - info["social_media_accuracy"]
            p.fee_belief[hit] |= S.uniform("social_fee", w, hit) < bad
            p.expel_belief[hit] |= S.uniform("social_expel", w, hit) < bad
    if info["outreach_reach"] > 0 and m.topic_public["smo"]:
        hit = net[S.uniform("outreach", w, net) < info["outreach_reach"]]
        p.aware_smo[hit] = True
        p.rules_smo[hit] = True
        fixed = hit[S.uniform("outreach_fix", w, hit) < info["outreach_accuracy"]]
        p.fee_belief[fixed] = False
        p.expel_belief[fixed] = False


# --- Policy handlers ---

def on_announce(m, pol):
    """A public announcement reaches a share of the people it concerns."""
    p, topic = m.people, pol.fields["topic"]
    nats = pol.fields.get("nationalities")
    who = np.isin(p.state, (State.INTEGRATING, State.WAITING_SMO, State.WAITING_PAROLE, State.PREPARING))
    if nats:
        who &= np.isin(p.nat, [m.pack.nat_index(n) for n in nats])
    idx = np.flatnonzero(who)
    hit = idx[m.streams.uniform(f"announce_{topic}_{pol.date}", m.week, idx) < pol.fields["reach"]]
    if topic == "expulsion":
        p.b_admit[hit] *= 1 - m.border.cfg["p_expel_title42"]
        return
    m.topic_public[topic] = True
    aware = getattr(p, f"aware_{topic}")
    fresh = hit[~aware[hit]]
    aware[fresh] = True
    getattr(p, f"b_{topic}")[fresh] = m.info[f"prior_{topic}_chance"]


def on_outreach(m, pol):
    m.info["outreach_reach"] = pol.fields["reach"]
    if "accuracy" in pol.fields:
        m.info["outreach_accuracy"] = pol.fields["accuracy"]


HANDLERS = {"announce": on_announce, "outreach": on_outreach}
