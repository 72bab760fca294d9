"""The push prior fit edits only the groups of the nationality it fits."""
from calibration.fit_push import observed, shift_push
from calibration.setting import of

POPULATIONS = of().populations


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


def test_every_nationality_with_a_calibrated_push_has_a_fit_target():
    """Each nationality whose groups' push is marked calibrated in the pack is matched to a fit target marked
    fits_push (never a check target), a one-nationality total before a table by nationality, and the value
    fit_push aims at is that target's."""
    import tomllib

    from calibration.fit_push import push_targets
    from calibration.targets import load_targets

    groups = tomllib.loads(POPULATIONS.read_text())["group"]
    calibrated = {g["nationality"] for g in groups if "calibrated" in g.get("sources", {}).get("push", "")}
    t = observed()
    assert calibrated and calibrated <= set(t)
    fit = load_targets(role="fit")
    which = push_targets(fit)
    for n, v in t.items():
        k, sub = which[n]
        assert fit[k]["fits_push"] and v == (fit[k]["value"] if sub is None else fit[k]["value"][sub]), n
    # Venezuelans are in both the encounters table and a Darien total: the Darien total is used
    assert which["Venezuela"][1] is None and which["Cuba"][1] == "Cuba"
    assert not any(x.get("fits_push") for x in load_targets(role="check").values())
