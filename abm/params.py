"""Model parameters that are not geography: behaviour, information and network.

Each entry: default, lower bound, upper bound, and its source (a seed section, or an assumption to be
estimated by calibration). A scenario may set any of them; the run's manifest records the values used.
The parameters in calibration/priors.toml are estimated: runs of a pack with a posterior
(calibration/posterior.py) take their values from it, and the defaults here (inside their priors) apply only with --no-posterior.
"""
from __future__ import annotations

PARAMS: dict[str, dict[str, tuple]] = {
    "behaviour": {
        "legal_pull": (2.0, 0.0, 10.0, "prior (calibration/priors.toml): ln of how much more often a person considers a legal option they know of than a smuggler (002 s6.2: people delay to find out); set by hand, not yet fitted"),
        "legal_value": (3.6, -5.0, 15.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: utility of a legal pathway relative to the smuggler's route at even odds"),
        "belief_weight": (4.0, 0.0, 20.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: weight of the perceived chance that a legal option works"),
        "inertia": (3.0, 0.0, 10.0, "prior (calibration/priors.toml): utility bonus of the option a person is already pursuing; set by hand, not yet fitted"),
        "stay_value": (0.0, -10.0, 10.0, "assumption: reference utility of staying (integrating) for someone considering leaving"),
        "irregular_stay_penalty": (0.5, 0.0, 10.0, "assumption: staying is worse without regular status (002 s2.1)"),
        "tolerated_wait_weeks": (15.0, 1.0, 104.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: prior: 90-120 days, US official's estimate (002 s6.2)"),
        "patience_sigma": (0.5, 0.0, 3.0, "assumption: spread (lognormal sigma) of individual tolerated waits"),
        "wait_cost": (3.0, 0.0, 20.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: utility lost per tolerated-wait of waiting without news (002 s6.2)"),
        "fee_penalty": (1.5, 0.0, 20.0, "assumption: belief that the SMO must be paid for deters registration (002 s5.2)"),
        "expulsion_fear_penalty": (2.0, 0.0, 20.0, "assumption: fear that registering leads to expulsion (002 s5.2)"),
        "admit_weight": (3.0, 0.0, 20.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: weight of the perceived chance of being let in at the US border"),
        "risk_weight": (20.0, 0.0, 500.0, "assumption: weight of the perceived risk of dying on the route"),
        "prior_admit": (0.7, 0.0, 1.0, "assumption: believed chance of being let in at the border before any news"),
        "prior_risk": (0.002, 0.0, 1.0, "assumption: believed risk of dying on the route before any news"),
        "reattempt_choice": (1.0, 0.0, 1.0, "assumption: scales the pack's p_reattempt after an expulsion"),
    },
    "information": {
        "wom_awareness": (0.006, 0.0, 1.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: weekly chance that one aware contact makes a person aware (002 s5.2: word of mouth is the main channel)"),
        "wom_rules": (0.01, 0.0, 1.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: calibrated: weekly chance that one contact who knows an option's rules passes them on"),
        "official_rules": (0.01, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance an aware person with internet learns the rules from official sources (002 s5.3: little official information); set by hand, not yet fitted"),
        "search_rules": (0.03, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance that someone actively considering an option finds out its rules; set by hand (0.06, then 0.03) for the length of the October 2022 pause, not yet fitted (docs/ODD.md 4.2)"),
        "belief_mixing": (0.15, 0.0, 1.0, "assumption: weekly weight of contacts' average belief (DeGroot)"),
        "outcome_learning": (0.2, 0.0, 1.0, "calibrated (calibration/posterior.csv, docs/calibration.md); this hand-set value (inside its prior) applies only with --no-posterior. Was: assumption: how far one contact's outcome moves a belief"),
        # channels (abm/information.py; who is on each, its accuracy and how long news stays live on it: the pack's channels.toml)
        "hear_official": (0.01, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance that a person on the official and news-media channel hears an announcement live on it; official information was limited and press reports confused (002 s5.2, s5.3); the same order as official_rules"),
        "hear_social": (0.01, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance that a person with internet hears an announcement live on social media (002 s5.2: heard 'including through social media')"),
        "hear_family": (0.1, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance that a person with a tie at the destination hears an announcement from relatives and friends there (002 s5.2: heard predominantly from relatives or other migrants); assumption: in touch about weekly"),
        "hear_route": (0.5, 0.0, 1.0, "prior (calibration/priors.toml): weekly chance that a person preparing to move hears an announcement from smugglers and other migrants on the route (002 s2.2: 42% of Venezuelans, 40% of Cubans used smugglers; s5.2: heard from other migrants); assumption: those preparing to cross meet them at the departure points at least every other week"),
        "misbelief_spread": (0.5, 0.0, 1.0, "assumption: chance a contact passes on a misbelief with awareness"),
        "prior_smo_chance": (0.5, 0.0, 1.0, "assumption: believed chance of approval on first hearing of the SMO"),
        "prior_parole_chance": (0.95, 0.0, 1.0, "assumption: believed chance parole works, on first hearing (002 s6.2: it 'looks real')"),
        "prior_wait_weeks": (12.0, 0.0, 104.0, "assumption: expected SMO wait on first hearing"),
        "catch_up_weeks": (4, 1, 104, "numerical: people not prompted to decide bring their beliefs up to date with their contacts' every this many weeks (staggered), applying the weekly updates they missed; 1 is the weekly rule (abm/information.py); 4 is the longest measured period whose headline figures agree with it (python -m benchmarks.catch_up, tests/test_catch_up.py)"),
        "diaspora_weight": (0.1, 0.0, 1.0, "assumption: weekly pull of beliefs about the border towards what the diaspora in the US reports, for those with a US tie"),
    },
    "network": {
        "degree": (8.0, 1.0, 100.0, "assumption: mean ties per person within their community"),
        "clustering": (0.25, 0.0, 0.9, "assumption: target average local clustering coefficient within a community (networkx average_clustering)"),
        "bridge_same_nationality": (1.0, 0.0, 20.0, "assumption: mean ties to compatriots elsewhere (transnational networks)"),
        "bridge_other_nationality": (0.3, 0.0, 20.0, "assumption: mean ties to people of other nationalities in the same place"),
    },
}


#: parameters that count weeks and must be whole numbers
WHOLE_NUMBERS = {"catch_up_weeks"}


def defaults() -> dict[str, dict[str, float]]:
    return {sec: {k: v[0] for k, v in table.items()} for sec, table in PARAMS.items()}


def sources() -> dict[str, dict[str, str]]:
    return {sec: {k: v[3] for k, v in table.items()} for sec, table in PARAMS.items()}
