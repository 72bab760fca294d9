"""The push prior fit edits only the groups of the nationality it fits."""
from calibration.fit_push import POPULATIONS, observed, shift_push


def test_shift_push_touches_one_nationality_only():
    text = POPULATIONS.read_text()
    out = shift_push(text, "Cuba", 0.5)
    before = [l for l in text.splitlines()]
    after = [l for l in out.splitlines()]
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after)
    assert len(changed) == text.count('nationality = "Cuba"')
    for a, b in changed:
        assert a.startswith("push = ") and abs(float(b.split("=")[1]) - float(a.split("=")[1]) - 0.5) < 1e-9


def test_targets_cover_every_nationality():
    t = observed()
    assert t["Venezuela"] == 201281 and t["Guatemala"] == 213266
