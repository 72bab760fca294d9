"""Information: awareness of the SMOs and of parole, knowledge of their rules, and beliefs (chance of
approval, expected wait, fees, expulsion risk, the border, the route's danger).

Word of mouth along ties is the main channel (002 s5.2); announcements (policy kinds `announce` and
`outreach`) are put on information channels (the pack's channels.toml: official and news media, social
media, family and friends abroad, smugglers and other migrants on the route), each with its own audience,
weekly chance of hearing (`hear_<channel>`, times the nationality's use of it), weeks live and accuracy;
contacts' outcomes (approved, rejected, arrived, expelled, died) move beliefs. What contacts say is read
with abm.contacts.view.

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
  6. channels: a person on a channel on which an announcement concerning them is live hears it with the
     channel's weekly chance (see `hear`); what they hear is the accurate version or the inaccurate one.
The weekly step (`step`) applies the same rules to everyone, drawn as events: transmissions along ties
(abm.contacts) for 1 and 2, clocks (abm.clocks) for the weekly chances of 2 and 6 (the route channel's
audience, people preparing to move, are on the active list: a weekly draw each, with the same stream
`hear_route` as the reference step).
"""
from __future__ import annotations

import numpy as np

from agents.states import IS_RESIDENT, ParoleStage, State

from . import kernels
from .clocks import Clock
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
    else:
        m.count_heard(topic, idx)
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
    # 6. announcements heard on information channels
    with m.timed("information/channels"):
        _channels(m, draw)


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


# --- 6. channels ---

class Channel:
    """An information channel of the pack (channels.toml) as the model uses it."""

    def __init__(self, m, name: str, cfg: dict):
        pack = m.pack
        self.name = name
        self.audience = cfg["audience"]
        self.internet = bool(cfg["internet"])
        self.rules = bool(cfg["rules"])
        self.live_weeks = int(cfg["live_weeks"])
        self.accuracy = float(cfg["accuracy"])
        self.use = np.ones(len(pack.nationalities))
        for n, v in cfg.get("use", {}).items():
            self.use[pack.nat_index(n)] = v
        # the preparing are on the active list, touched every week anyway: a weekly draw each, no clock
        self.clock = None if self.audience == "preparing" else Clock(f"channel_{name}", m.people.n, m.n_weeks, small=True)

    def chance(self, m, idx) -> np.ndarray:
        """Weekly chance of hearing on this channel, for persons `idx` (in its audience)."""
        return np.minimum(1.0, m.info[f"hear_{self.name}"] * self.use[m.people.nat[idx]])

    def audience_of(self, m, idx) -> np.ndarray:
        p = m.people
        st = p.state[idx]
        on = (st == State.PREPARING) if self.audience == "preparing" else IS_RESIDENT[st]
        if self.audience == "tie":
            on &= p.us_tie[idx]
        if self.internet:
            on &= p.internet[idx]
        return on


def init_channels(m):
    """The pack's channels, and the announcements put on them (none yet)."""
    m.channels = {name: Channel(m, name, cfg) for name, cfg in m.pack.channels.items()}
    m.announcements = []


def _live(m, ch: Channel, week: int) -> list:
    """Announcements live on channel `ch` in `week`."""
    return [a for a in m.announcements if ch.name in a["channels"] and a["week"] <= week < a["week"] + a["weeks"][ch.name]]


def hear(m, idx, ch: Channel, week: int):
    """Persons `idx` (in the channel's audience) hear what is live on channel `ch` for their nationality.
    Each hears an announcement's accurate version with the channel's accuracy, the same version each
    time (the draw is keyed by the announcement): accurate news of the SMO or parole makes them aware
    (and, on a channel that teaches the rules, teaches them and dispels the misbeliefs about fees and
    expulsion: 002 s5.2 and the offices' FAQ); inaccurate news of the SMO makes them aware with both
    misbeliefs (002 s5.2: 'a lot of nonsense on social media'; it must be paid for; registering can get
    one expelled); inaccurate news of parole makes them aware without its rules (a wrong idea of who
    qualifies). Accurate news of expulsion lowers the believed chance of being let in at the border once;
    the inaccurate version (the smuggler's: there is a way round, 002 s2.2) leaves it as it was."""
    p = m.people
    for a in _live(m, ch, week):
        sel = idx[a["nat"][p.nat[idx]]]
        if len(sel) == 0:
            continue
        topic = a["topic"]
        acc = m.streams.uniform(f"accuracy_{ch.name}_{a['id']}", a["week"], sel) < ch.accuracy
        if topic == "expulsion":
            took = sel[acc & ~p.heard_expulsion[sel]]
            p.b_admit[took] *= 1 - m.border.cfg["p_expel_title42"]
            p.heard_expulsion[took] = True
            m.count_heard("expulsion", took)
            continue
        p.renew(sel, topic, announced=a["week"])  # news of the pathway for those who gave it up before (abm.waiting)
        aware = getattr(p, f"aware_{topic}")
        fresh = ~aware[sel]
        become_aware(m, sel[fresh], topic)
        getattr(p, f"b_{topic}")[sel[fresh]] = m.info[f"prior_{topic}_chance"]
        if topic == "smo":
            wrong = sel[fresh & ~acc]
            p.fee_belief[wrong] = True
            p.expel_belief[wrong] = True
        if ch.rules:
            right = sel[acc]
            learn_rules(m, right, topic)
            if topic == "smo":
                p.fee_belief[right] = False
                p.expel_belief[right] = False


def _channels(m, draw):
    """Rule 6 for everyone: those whose channel clock came due this week hear what is live there; on
    the route channel each person preparing to move draws every week while something is live."""
    w = m.week
    for ch in m.channels.values():
        if ch.clock is not None:
            due = ch.clock.due(w)
            hear(m, due[ch.audience_of(m, due)], ch, w)
        elif _live(m, ch, w):
            act = m.act
            on = act[ch.audience_of(m, act)]
            hear(m, on[draw(f"hear_{ch.name}", on) < ch.chance(m, on)], ch, w)


def put_on_channels(m, topic: str, nationalities, channels, weeks=None):
    """An announcement on `topic` for `nationalities` (all if None) put on `channels` (all the pack's if
    None), live from this week for each channel's live weeks (or `weeks`). Those on a channel with a
    clock get their next hearing drawn now, from this week on (a pass over the population, at a policy
    date only)."""
    p, w = m.people, m.week
    nat = np.ones(len(m.pack.nationalities), dtype=bool)
    if nationalities:
        nat[:] = False
        nat[[m.pack.nat_index(n) for n in nationalities]] = True
    names = [c for c in (channels or m.channels) if c in m.channels]
    a = {"id": len(m.announcements), "topic": topic, "nat": nat, "week": w, "channels": names,
         "weeks": {c: int(weeks) if weeks else m.channels[c].live_weeks for c in names}}
    m.announcements.append(a)
    if topic in m.topic_public:
        m.topic_public[topic] = True
    for c in names:
        ch = m.channels[c]
        if ch.clock is None:
            continue
        cand = np.flatnonzero(nat[p.nat])
        cand = cand[ch.audience_of(m, cand)]
        # from the week before, so that the first hearings can fall in this week
        ch.clock.schedule(m.streams, cand, w - 1, ch.chance(m, cand), until=w + a["weeks"][c] - 1)


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
    for ch in m.channels.values():
        if _live(m, ch, w) and ch.audience_of(m, idx)[0] and draw(f"hear_{ch.name}", idx)[0] < ch.chance(m, idx)[0]:
            hear(m, idx, ch, w)


# --- Policy handlers ---

def on_announce(m, pol):
    """A public announcement, put on information channels (see put_on_channels and hear)."""
    f = pol.fields
    put_on_channels(m, f["topic"], f.get("nationalities"), f.get("channels"))


def on_outreach(m, pol):
    """An outreach campaign: the SMO and its rules (an FAQ) on the official channel, for `weeks`."""
    f = pol.fields
    put_on_channels(m, "smo", f.get("nationalities"), ["official"], f.get("weeks"))


HANDLERS = {"announce": on_announce, "outreach": on_outreach}
