"""Ctrl-C while a command simulates is taken between weeks (abm/interrupts.py): a SIGINT raised at an arbitrary
bytecode can land inside numpy's attribute probes (which clear it: the run went on to its end) or numba's
callbacks (a SystemError traceback); before this, 4 of 16 experiments interrupted after their first run did
one or the other (tests/test_faults.py's Ctrl-C case failed about one time in four)."""
from __future__ import annotations

import os
import signal

import pytest

from abm import interrupts
from abm.model import SafeMobilityModel
from abm.scenario import load_scenario
from tests.conftest import TESTLAND


def test_a_deferred_sigint_waits_for_the_checkpoint():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)  # handled at once by Python: only a flag is set
        with pytest.raises(KeyboardInterrupt):
            interrupts.checkpoint()
        interrupts.checkpoint()  # taken once
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_sigint_raises_at_once():
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs at the next bytecode
                pass


def test_checkpoint_does_nothing_without_deferral():
    before = signal.getsignal(signal.SIGINT)
    interrupts.checkpoint()
    assert signal.getsignal(signal.SIGINT) is before and not interrupts._pending


def test_the_model_stops_between_weeks():
    """A Ctrl-C pending when a run starts stops it after its first week, in the model's own loop."""
    model = SafeMobilityModel(load_scenario(TESTLAND, scale=0.002))
    start = model.week
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            model.run()
    assert model.week == start + 1
    model.release()
