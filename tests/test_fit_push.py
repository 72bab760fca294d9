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


def test_every_nationality_with_a_calibrated_push_has_a_fit_target():
    """Each nationality whose groups' push is marked calibrated in the pack is matched to a fit target of
    targets.toml (never a check target), and the value fit_push aims at is that target's."""
    import tomllib

    from calibration.targets import load_targets

    groups = tomllib.loads(POPULATIONS.read_text())["group"]
    calibrated = {g["nationality"] for g in groups if "calibrated" in g.get("sources", {}).get("push", "")}
    t = observed()
    assert calibrated and calibrated <= set(t)
    fit = load_targets(role="fit")
    by_nat = fit["border_encounters_fy2023"]["value"]
    for n, v in t.items():
        darien = [k for k, x in fit.items() if x["observe"].get("nationalities") == [n]
                  and x["observe"].get("metric") == "darien_crossings" and x["observe"]["statistic"] == "total"]
        assert v == (fit[darien[0]]["value"] if darien else by_nat[n]), n
