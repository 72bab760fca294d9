"""Catching up (abm.information.catch_up) stands in for weekly belief updates: people bring their
beliefs up to date when prompted to decide and every `catch_up_weeks` weeks otherwise. The headline
figures must not depend on it: five seeds with the default period and five with weekly updates
(catch_up_weeks = 1, the rule itself), a Welch t-test per figure with p > 0.001 each (six figures:
family-wise false alarm under agreement at most 0.6%, as in test_scale)."""
from abm.params import PARAMS
from tests.conftest import DEFAULT_SCALE, SEEDS, assert_figures_agree, ensemble


def test_headline_figures_do_not_depend_on_the_catch_up_period(default_ensemble):
    assert PARAMS["information"]["catch_up_weeks"][0] > 1  # the default does approximate
    weekly = ensemble(DEFAULT_SCALE, SEEDS, overrides=["information.catch_up_weeks=1"])
    assert_figures_agree(default_ensemble, weekly, "default", "weekly")
