"""Information: awareness of the SMOs and of parole, knowledge of their rules, and beliefs (chance of
approval, expected wait, fees, expulsion risk, the border, the route's danger).

Word of mouth along ties is the main channel (002 s5.2); social media and official outreach are
weaker broadcast channels with their own reach and accuracy; contacts' outcomes (approved, rejected,
arrived, expelled, died) move beliefs. What contacts say is read with abm.contacts.view.

The rules, for one listener in one week (`listen`, the per-agent reference step, applies them so):
  1. each aware contact makes an unaware listener aware with chance `wom_awareness` (misbeliefs about
     fees and expulsion travel with it, and the new listener takes their contacts' average beliefs);
  2. the rules are learnt from each contact who knows them (`wom_rules`), from official sources
     (`official_rules`, with internet) and, for parole, by searching while considering it;
  3. beliefs drift towards contacts' average (DeGroot, weekly weight `belief_mixing`); the expected
     SMO wait follows how long contacts' cases have waited; 5. the diaspora in the US pulls beliefs
     about the border towards how people of one's nationality fare there (`diaspora_weight`). Rules 3
     and 5 are applied when a person catches up (`catch_up`): when they are prompted to decide, and
     otherwise every `catch_up_weeks` weeks (a staggered share of people each week), applying all the
     weekly steps since they last did towards where contacts point now;
  4. contacts' outcomes last week shift beliefs;
  6. social media and official outreach reach people with internet.
The weekly step (`step`) applies the same rules to everyone, drawn as events: transmissions along ties
(abm.contacts) for 1 and 2, clocks (abm.clocks) for the weekly chances of 2 and 6.
"""
from __future__ import annotations

import numpy as np

from agents.states import IS_RESIDENT, ParoleStage, State

from . import kernels
from .contacts import C, unique_ids, view

RISK_AFTER_A_DEATH = 0.05  # assumption: believed risk of dying on the route after a contact died on it
REASSURANCE = 0.5          # assumption: weight of a contact's safe arrival relative to a death

SIGNALS = {  # outcome signals <- events of the previous week
    "smo_pos": ("smo_approvals", "smo_relocations"),
    "smo_neg": ("smo_rejected", "smo_withdrawn", "smo_ineligible"),
    "parole_pos": ("parole_arrivals",),
    "parole_neg": ("parole_ineligible",),
    "admitted": ("admitted",),
    "expelled": ("expelled", "removed"),
    "died": ("deaths",),
    "arrived": ("admitted", "parole_arrivals", "smo_relocations"),
}
SIG = {s: j for j, s in enumerate(SIGNALS)}
TOPICS = ("smo", "parole")
_EMPTY = np.empty(0, dtype=np.int64)


def _union(a, b):
    return unique_ids(np.concatenate([a, b]))


def resident(m, idx) -> np.ndarray:
    return IS_RESIDENT[m.people.state[idx]]


def may_learn(m, idx) -> np.ndarray:
    """Residents, and those yet to arrive (who will be): everyone else never returns to a host place.
    (abm.kernels._can_learn applies the same test inside the transmissions.)"""
    st = m.people.state[idx]
    return IS_RESIDENT[st] | (st == State.NOT_ARRIVED)


def _hear(k, p_per_contact):
    """Chance of hearing from at least one of k contacts."""
    return 1.0 - np.power(1.0 - p_per_contact, k)


# --- changes of knowledge (shared by the weekly step, the reference step, the SMOs and the policies) ---

def become_aware(m, idx, topic: str):
    """Persons `idx` (not yet aware) hear of the SMO or of parole: they now talk about it."""
    p = m.people
    if len(idx) == 0:
        return
    getattr(p, f"aware_{topic}")[idx] = True
    m.sources[f"aware_{topic}"].add(idx)
    if topic == "smo":
        m.count_aware_smo(idx)
    if m.info["official_rules"] > 0:
        cand = idx[p.internet[idx] & ~getattr(p, f"rules_{topic}")[idx]]
        m.clocks[f"rules_{topic}"].schedule(m.streams, cand, m.week, m.info["official_rules"])


def learn_rules(m, idx, topic: str):
    idx = idx[~getattr(m.people, f"rules_{topic}")[idx]]
    getattr(m.people, f"rules_{topic}")[idx] = True
    m.sources[f"rules_{topic}"].add(idx)
    m.clocks[f"rules_{topic}"].cancel(idx)


def _aware_by_word_of_mouth(m, new, topic, draw, K=None):
    """New listeners take their contacts' average belief, and perhaps their misbeliefs."""
    p, info = m.people, m.info
    if len(new) == 0:
        return
    K = view(m, new) if K is None else K
    ka = np.maximum(K[:, C[f"aware_{topic}"]], 1)
    become_aware(m, new, topic)
    getattr(p, f"b_{topic}")[new] = K[:, C[f"b_{topic}"]] / ka
    if topic == "smo":
        p.b_wait[new] = K[:, C["b_wait"]] / ka
        ms = info["misbelief_spread"]
        p.fee_belief[new] |= draw("wom_fee", new) < ms * K[:, C["fee"]] / ka
        p.expel_belief[new] |= draw("wom_expel", new) < ms * K[:, C["expel"]] / ka


def _social_hit(m, hit, topic, draw):
    become_aware(m, hit, topic)
    if topic == "smo":
        bad = 1 - m.info["social_media_accuracy"]
        m.people.fee_belief[hit] |= draw("social_fee", hit) < bad
        m.people.expel_belief[hit] |= draw("social_expel", hit) < bad


def _outreach_hit(m, hit, draw):
    p = m.people
    become_aware(m, hit[~p.aware_smo[hit]], "smo")
    learn_rules(m, hit, "smo")
    fixed = hit[draw("outreach_fix", hit) < m.info["outreach_accuracy"]]
    p.fee_belief[fixed] = False
    p.expel_belief[fixed] = False


def _shift(b, ids, up, down):
    b[ids] = np.clip(b[ids] + up * (1 - b[ids]) - down * b[ids], 0, 1)


def _outcomes(m, ids, k):
    """Rule 4: contacts' outcomes last week (k: signal counts per listener) move beliefs; a contact's
    success on a pathway renews it for those who gave it up (abm.waiting)."""
    p, eta = m.people, m.info["outcome_learning"]
    h = lambda s: _hear(k[:, SIG[s]], eta)
    _shift(p.b_smo, ids, h("smo_pos"), h("smo_neg"))
    _shift(p.b_parole, ids, h("parole_pos"), h("parole_neg"))
    _shift(p.b_admit, ids, h("admitted"), h("expelled"))
    scared, reassured = h("died"), h("arrived") * REASSURANCE
    r = p.b_risk[ids]
    r = r + scared * (RISK_AFTER_A_DEATH - r)
    p.b_risk[ids] = r + reassured * (m.beh["prior_risk"] - r)
    p.renew(ids[k[:, SIG["smo_pos"]] > 0], "smo")
    p.renew(ids[k[:, SIG["parole_pos"]] > 0], "parole")


def catch_up(m, ids):
    """Rules 3 and 5 for the residents among persons `ids` (unique): every weekly step since they last
    caught up, towards where their contacts and the diaspora point now (exact while those stay put):
      b_smo, b_parole: towards contacts' average among the aware (DeGroot, weekly weight belief_mixing);
      b_wait: towards how long contacts' queued SMO cases have waited so far;
      b_admit: each week b -> (1 - dw) [(1 - mix) b + mix T] + dw r, with T contacts' average and r
      the admission rate the diaspora reports (for people with a US tie; dw = diaspora_weight).
    One compiled pass over the listeners' ties (abm.kernels.catch_up)."""
    p, a, info = m.people, m.adj, m.info
    ids = np.asarray(ids, dtype=np.int64)
    new, go = scratch(m, "catch_up", len(ids), (4,), np.float64), scratch(m, "catch_up_go", len(ids), (), np.bool_)
    kernels.catch_up(a.indptr, a.indices, ids, p.voice, p.belief_week, p.us_tie, p.nat, m.admit_rate, m.week,
                     info["belief_mixing"], info["diaspora_weight"], new, go)


def scratch(m, name: str, n: int, tail: tuple, dtype) -> np.ndarray:
    """A buffer of n rows (uninitialised) kept in the model for reuse: the largest asked for so far."""
    buf = m.scratch.get(name)
    if buf is None or len(buf) < n:
        buf = m.scratch[name] = np.empty((n,) + tail, dtype=dtype)
    return buf[:n]


def in_cohort(m, idx) -> np.ndarray:
    period = int(m.info["catch_up_weeks"])
    return idx % period == m.week % period


def cohort(m) -> np.ndarray:
    """This week's share of the population due to catch up: every catch_up_weeks-th person (catch_up
    passes over those who do not live in a host place; filtering them here would cost another pass).
    The catch_up_weeks lists are made once and kept."""
    period = int(m.info["catch_up_weeks"])
    key = f"cohort_{period}_{m.week % period}"
    if key not in m.scratch:
        m.scratch[key] = np.arange(m.week % period, m.people.n, period, dtype=np.int64)
    return m.scratch[key]


# --- the weekly step: everyone at once, as events ---

def step(m):
    draw = lambda purpose, ids: m.streams.uniform(purpose, m.week, ids)
    with m.timed("information/word_of_mouth"):
        _word_of_mouth(m, draw)
    # 3-5. beliefs: this week's cohort catches up; news of outcomes moves beliefs as they stand
    with m.timed("information/catch_up"):
        catch_up(m, cohort(m))
    with m.timed("information/outcomes"):
        _hear_outcomes(m)
    # 6. broadcast channels (people with internet)
    with m.timed("information/broadcasts"):
        _broadcasts(m, draw)


def _word_of_mouth(m, draw):
    """Rules 1 and 2: awareness and the rules, along ties (from what people knew at the start of the
    week), from official sources and by searching."""
    p, w, info = m.people, m.week, m.info
    # all transmissions first, so that everyone hears what people knew at the start of the week
    heard_by = {f"aware_{t}": m.sources[f"aware_{t}"].transmit(m, info["wom_awareness"]) for t in TOPICS}
    heard_by |= {f"rules_{t}": m.sources[f"rules_{t}"].transmit(m, info["wom_rules"]) for t in TOPICS}
    # 1. awareness by word of mouth
    for topic in TOPICS:
        heard = heard_by[f"aware_{topic}"]
        new = heard[resident(m, heard) & ~getattr(p, f"aware_{topic}")[heard]]
        _aware_by_word_of_mouth(m, new, topic, draw)
    # 2. the rules: from contacts, official sources (clock) and, for parole, searching
    for topic in TOPICS:
        aware, rules = getattr(p, f"aware_{topic}"), getattr(p, f"rules_{topic}")
        heard = heard_by[f"rules_{topic}"]
        due = m.clocks[f"rules_{topic}"].due(w)
        cand = _union(heard, due)
        learn = cand[resident(m, cand) & aware[cand] & ~rules[cand]]
        if topic == "parole":
            act = m.act
            considering = act[(p.state[act] == State.WAITING_PAROLE)
                              & (p.parole_stage[act] == ParoleStage.CONSIDERING) & ~rules[act]]
            found = considering[draw("search_rules", considering) < info["search_rules"]]
            learn = _union(learn, found)
        learn_rules(m, learn, topic)
        # an official-source clock that came due without teaching the rules keeps running
        again = due[aware[due] & ~rules[due] & may_learn(m, due)]
        m.clocks[f"rules_{topic}"].schedule(m.streams, again, w, info["official_rules"])


def _hear_outcomes(m):
    """Rule 4 for everyone: residents whose contacts had an outcome last week (abm.kernels.hear_outcomes
    applies _outcomes to them, tallying the events on their contacts)."""
    ev, ids, kinds = m.last_events, [], []
    for j, names in enumerate(SIGNALS.values()):
        for n in names:
            if n in ev and len(ev[n]):
                ids.append(ev[n])
                kinds.append(np.full(len(ev[n]), j, dtype=np.int64))
    if not ids:
        return
    p, info = m.people, m.info
    kernels.hear_outcomes(m.adj.indptr, m.adj.indices, np.concatenate(ids).astype(np.int64), np.concatenate(kinds),
                          m.signal_counts, m.signal_mark, p.voice, p.b_risk, info["outcome_learning"], RISK_AFTER_A_DEATH,
                          REASSURANCE, m.beh["prior_risk"])


def _broadcasts(m, draw):
    p, w, info = m.people, m.week, m.info
    for topic in TOPICS:
        clock = m.clocks[f"social_{topic}"]
        due = clock.due(w)
        due = due[~getattr(p, f"aware_{topic}")[due]]
        _social_hit(m, due[resident(m, due)], topic, draw)
        # people not yet arrived keep their clock; those who left the resident states never return
        clock.schedule(m.streams, due[p.state[due] == State.NOT_ARRIVED], w, info["social_media_reach"])
    clock = m.clocks["outreach"]
    due = clock.due(w)
    if len(due) and info["outreach_reach"] > 0 and m.topic_public["smo"]:
        _outreach_hit(m, due[resident(m, due)], draw)
        again = due[_outreach_useful(m, due) & may_learn(m, due)]
        clock.schedule(m.streams, again, w, info["outreach_reach"])


def _outreach_useful(m, idx):
    p = m.people
    return p.internet[idx] & (~p.aware_smo[idx] | ~p.rules_smo[idx] | p.fee_belief[idx] | p.expel_belief[idx])


def start_broadcasts(m, topic: str | None = None):
    """(Re)start the broadcast clocks: social media once a topic is public, outreach when its reach
    changes. A pass over the population, at a policy date only."""
    p, w, info = m.people, m.week, m.info
    live = may_learn(m, slice(None))
    if topic is not None:
        cand = np.flatnonzero(live & p.internet & ~getattr(p, f"aware_{topic}"))
        m.clocks[f"social_{topic}"].schedule(m.streams, cand, w, info["social_media_reach"])
    if info["outreach_reach"] > 0 and m.topic_public["smo"]:
        cand = np.flatnonzero(live & _outreach_useful(m, slice(None)))
        m.clocks["outreach"].schedule(m.streams, cand, w, info["outreach_reach"])


# --- the per-agent reference: one listener, straight from the rules ---

def listen(m, i: int):
    """Rules 1-6 for person `i`, reading contacts as they are now (asynchronous updating)."""
    p, info, w = m.people, m.info, m.week
    idx = np.array([i], dtype=np.int64)
    draw = lambda purpose, ids: m.streams.uniform(purpose, w, ids)
    K = view(m, idx)
    k = lambda c: K[0, C[c]]
    for topic in TOPICS:
        if not getattr(p, f"aware_{topic}")[i] and draw(f"wom_{topic}", idx)[0] < _hear(k(f"aware_{topic}"), info["wom_awareness"]):
            _aware_by_word_of_mouth(m, idx, topic, draw, K)
    for topic in TOPICS:
        aware, rules = getattr(p, f"aware_{topic}"), getattr(p, f"rules_{topic}")
        pr = _hear(k(f"rules_{topic}"), info["wom_rules"])
        pr = 1 - (1 - pr) * (1 - info["official_rules"] * p.internet[i])
        if topic == "parole":
            considering = (p.state[i] == State.WAITING_PAROLE) & (p.parole_stage[i] == ParoleStage.CONSIDERING)
            pr = 1 - (1 - pr) * (1 - info["search_rules"] * considering)
        if aware[i] and not rules[i] and draw(f"rules_{topic}", idx)[0] < pr:
            learn_rules(m, idx, topic)
    k_sig = m.signal_counts_of(i)[None, :]
    if in_cohort(m, i):
        catch_up(m, idx)
    if k_sig.any():
        _outcomes(m, idx, k_sig)
    if p.internet[i]:
        for topic in TOPICS:
            if m.topic_public[topic] and not getattr(p, f"aware_{topic}")[i] \
                    and draw(f"social_{topic}", idx)[0] < info["social_media_reach"]:
                _social_hit(m, idx, topic, draw)
        if info["outreach_reach"] > 0 and m.topic_public["smo"] and draw("outreach", idx)[0] < info["outreach_reach"]:
            _outreach_hit(m, idx, draw)


# --- Policy handlers ---

def on_announce(m, pol):
    """A public announcement reaches a share of the people it concerns."""
    p, topic = m.people, pol.fields["topic"]
    nats = pol.fields.get("nationalities")
    who = resident(m, slice(None))
    if nats:
        who &= np.isin(p.nat, [m.pack.nat_index(n) for n in nats])
    idx = np.flatnonzero(who)
    hit = idx[m.streams.uniform(f"announce_{topic}_{pol.date}", m.week, idx) < pol.fields["reach"]]
    if topic == "expulsion":
        p.b_admit[hit] *= 1 - m.border.cfg["p_expel_title42"]
        return
    p.renew(hit, topic)  # renew: news of the pathway for those who gave it up (abm.waiting)
    first = not m.topic_public[topic]
    m.topic_public[topic] = True
    aware = getattr(p, f"aware_{topic}")
    fresh = hit[~aware[hit]]
    become_aware(m, fresh, topic)
    getattr(p, f"b_{topic}")[fresh] = m.info[f"prior_{topic}_chance"]
    if first:
        start_broadcasts(m, topic)


def on_outreach(m, pol):
    m.info["outreach_reach"] = pol.fields["reach"]
    if "accuracy" in pol.fields:
        m.info["outreach_accuracy"] = pol.fields["accuracy"]
    start_broadcasts(m)


HANDLERS = {"announce": on_announce, "outreach": on_outreach}
