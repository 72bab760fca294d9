"""Enums for what a person is doing, and where their legal cases stand."""
from enum import IntEnum

import numpy as np


class State(IntEnum):
    """A person's situation in a given week: exactly one of these."""

    NOT_ARRIVED = 0      # future arrival (or someone not yet considering leaving home)
    INTEGRATING = 1      # settled, integrating locally (or staying at home)
    WAITING_SMO = 2      # registered or trying to register with a Safe Mobility Office
    WAITING_PAROLE = 3   # finding out about, or applying for, humanitarian parole
    PREPARING = 4        # saving, finding a smuggler, travelling to the route's start
    IN_TRANSIT = 5       # Darien, Central America, Mexico
    AT_BORDER = 6        # at the US border this week
    IN_US = 7            # resettled, paroled or admitted into the US
    RETURNED = 8         # removed, or gave up after an expulsion and went back
    DEAD = 9
    WAITING_MEXICO = 10  # in central or northern Mexico (the pack's geofence): deciding, or waiting for CBP One
    SETTLED_MEXICO = 11  # stopped short of the border and settled in Mexico (abm/mexico.py): out of the flows


#: States in which a person lives in their host place and can be reached by the office and word of mouth.
RESIDENT = (State.INTEGRATING, State.WAITING_SMO, State.WAITING_PAROLE, State.PREPARING)
#: RESIDENT as a lookup table indexed by state: IS_RESIDENT[people.state[idx]]
IS_RESIDENT = np.zeros(len(State), dtype=bool)
IS_RESIDENT[list(RESIDENT)] = True
#: States a person never leaves.
TERMINAL = (State.IN_US, State.RETURNED, State.DEAD, State.SETTLED_MEXICO)


class Option(IntEnum):
    """What a person can choose each week."""

    INTEGRATE = 0
    SMO = 1
    PAROLE = 2
    MOVE = 3


class Intent(IntEnum):
    """What a person means to do if the legal option they are pursuing fails."""

    STAY = 0
    MOVE = 1
    UNDECIDED = 2    # prompted to leave, took a legal option first: decides afresh if it fails


class SmoStage(IntEnum):
    NONE = 0
    PENDING = 1      # chose to register; trying to get through the portal's weekly quota
    REGISTERED = 2   # in the queue for assessment
    UNHCR = 3        # protection case, referred towards resettlement
    APPROVED = 4     # approved, waiting for relocation (housing is the bottleneck)
    RELOCATED = 5
    REFERRED_IOM = 6 # no protection route: counselling only (002 s3.1, s5.5)
    REJECTED = 7
    WITHDRAWN = 8


class ParoleStage(IntEnum):
    NONE = 0
    CONSIDERING = 1  # heard of it, finding out whether it applies to them
    APPLIED = 2      # sponsor has filed; waiting for a travel authorisation under the monthly cap
    AUTHORISED = 3   # travelling
    ARRIVED = 4
    DENIED = 5
    WITHDRAWN = 6


class Status(IntEnum):
    """Legal status in the host country."""

    REGULAR = 0
    REGULARISING = 1
    IRREGULAR = 2
