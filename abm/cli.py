"""Command line: `smo-abm run SCENARIO [--scale F] [--seed N] [--out DIR] [--set key=value ...]`,
`smo-abm bench [--quick] [--out DIR] [--max-agents N]`,
`smo-abm calibrate [--check] [--method emulator|abc] [--scale F] [--design N] [--max-minutes M] [--fresh]`,
`smo-abm experiment FILE [--replicates N] [--draws D] [--out DIR] [--scheduler ADDRESS | --single-process]`."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from .errors import InputError
from .interrupts import deferred


EXAMPLES = """examples:
  smo-abm run experiments/baseline.toml                      the baseline into results/baseline/
  smo-abm run experiments/baseline.toml --scale 0.02 --seed 7 --out results/mine
                                                             a finer run, another seed, its own folder
  smo-abm run experiments/baseline.toml --set behaviour.tolerated_wait_weeks=20
                                                             one value changed (any scenario or pack key)
  smo-abm run experiments/europe_baseline.toml               another region pack's baseline
  smo-abm experiment experiments/waiting_thresholds.toml     variants against the baseline: report.html
  smo-abm validate experiments/europe_baseline.toml          runs against a pack's published figures
  smo-abm dashboard --port 8765                              the dashboard at http://localhost:8765
  smo-abm COMMAND --help                                     a command's options

Bad input stops with one line naming the file and the field, exit status 2 (README.md, Bad input)."""


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="smo-abm", description="Safe Mobility agent-based model", epilog=EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario and write its outputs (in people) to a folder")
    r.add_argument("scenario", help="scenario TOML file (see experiments/)")
    r.add_argument("--scale", type=float, help="agents per person (default: the scenario's, 0.01 in the baseline)")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    r.add_argument("--out", help="output folder (default: results/<scenario name>)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario value, e.g. behaviour.tolerated_wait_weeks=20 or "
                        "pack.offices.<place>.weekly_quota=5000 (repeatable)")
    r.add_argument("--posterior-draw", type=int, metavar="K",
                   help="calibrated parameters from draw K of calibration/posterior.csv instead of its point estimate")
    r.add_argument("--no-posterior", action="store_true",
                   help="hand-set parameter values of abm/params.py instead of the calibrated posterior")
    r.add_argument("--force", action="store_true", help="run even if the output folder already holds this run")
    r.add_argument("--no-figures", action="store_true", help="skip the figures")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    b = sub.add_parser("bench", help="benchmark the model on the baseline: scaling, reference step, cost growth "
                                     "(writes OUT/bench.json and OUT/report.md)")
    b.add_argument("--quick", action="store_true",
                   help="rows up to 300k agents, reference step at 30k agents (a smoke test, a few minutes)")
    b.add_argument("--out", help="output folder (default: results/bench, or results/bench-versus with --versus)")
    b.add_argument("--max-agents", type=int, metavar="N",
                   help="no scaling row above N agents (with --versus: the size of the runs, default 1000000)")
    b.add_argument("--versus", metavar="REF",
                   help="instead of the suite: this tree's throughput against commit REF, runs alternating on this "
                        "machine, and their ratio (writes OUT/versus.json and OUT/versus.md; default OUT "
                        "results/bench-versus)")
    b.add_argument("--reps", type=int, default=3, metavar="N", help="with --versus: runs of each side (default 3)")
    c = sub.add_parser("calibrate", help="ABC-SMC calibration of a pack to its targets (calibration/targets.toml for "
                                         "the Americas; resumes an interrupted run), then the posterior-predictive "
                                         "check and report; or --check alone")
    c.add_argument("--scenario",
                   help="the scenario whose runs are fitted; its pack's meta names the targets, priors and posterior "
                        "files (default the project's experiments/baseline.toml; e.g. experiments/europe_baseline.toml)")
    c.add_argument("--method", choices=("emulator", "abc"), default="emulator",
                   help="emulator (default): ABC-SMC on a Gaussian-process emulator of the model, from two waves of "
                        "model runs (calibration/emulated.py); abc: ABC-SMC on the model itself (calibration/abc.py)")
    c.add_argument("--design", type=int, default=1200, metavar="N",
                   help="emulator: points of the first wave, a Latin hypercube over the priors (default 1200)")
    c.add_argument("--design-wave2", type=int, default=400, metavar="N",
                   help="emulator: points of the second wave, drawn from the first wave's posterior (default 400)")
    c.add_argument("--emulator-pop-size", type=int, default=2000, metavar="N",
                   help="emulator: particles per ABC-SMC generation on the emulator (default 2000)")
    c.add_argument("--check", action="store_true",
                   help="only the posterior-predictive check and report, from the pack's shipped posterior")
    c.add_argument("--scale", type=float, default=0.005,
                   help="agents per person in each calibration run (default 0.005: its fit figures agree with "
                        "0.01's, python -m calibration.scale_check)")
    c.add_argument("--seeds", type=int, default=2, help="runs (seeds) averaged per particle (default 2)")
    c.add_argument("--pop-size", type=int, default=400, help="abc: particles per ABC-SMC generation (default 400)")
    c.add_argument("--pop-size-later", type=int, default=800,
                   help="abc: particles per generation from generation --later-from on (default 800)")
    c.add_argument("--later-from", type=int, default=3, help="see --pop-size-later (default 3)")
    c.add_argument("--max-sims", type=int, default=20000,
                   help="abc: budget of particles simulated in all, counting those of resumed calls (default 20000)")
    c.add_argument("--max-minutes", type=float, default=150.0, help="budget: minutes of this call (default 150)")
    c.add_argument("--generations", type=int, default=20, help="budget: ABC-SMC generations (default 20)")
    c.add_argument("--scheduler", help="a running Dask scheduler (e.g. tcp://10.0.0.5:8786); default: a LocalCluster")
    c.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    c.add_argument("--fresh", action="store_true", help="start over instead of resuming OUT/abc.db")
    c.add_argument("--draws", type=int, default=40, help="posterior draws in the check (default 40)")
    c.add_argument("--check-scale", type=float, default=0.01, help="agents per person in the check (default 0.01)")
    c.add_argument("--out", help="output folder (default results/calibration; results/calibration-PACK for a pack "
                                 "other than the Americas)")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    e = sub.add_parser("experiment", help="run an experiment file (baseline and variants, replicates, posterior "
                                          "draws) and write runs.csv, effects.csv, figures and report.html")
    e.add_argument("file", help="experiment TOML file (see experiments/eligibility_expansion.toml)")
    e.add_argument("--replicates", type=int, help="replicates (seeds) per variant and draw (default: the file's)")
    e.add_argument("--draws", type=int, help="posterior draws (default: the file's; 0 = the point estimate)")
    e.add_argument("--scale", type=float, help="agents per person (default: the file's, else the baseline scenario's)")
    e.add_argument("--out", help="output folder (default: results/experiments/<name>)")
    _dask_args(e)
    s = sub.add_parser("sensitivity", help="global sensitivity analysis (SALib Morris and Sobol) of the headline "
                                           "outputs to the calibrated parameters over their posterior ranges")
    s.add_argument("--method", choices=("morris", "sobol", "both"), default="both", help="default: both")
    s.add_argument("--trajectories", type=int, default=10,
                   help="Morris trajectories (runs: trajectories x (k + 1), k the calibrated parameters the "
                        "posterior holds, 16 today: 170 at the default 10)")
    s.add_argument("--samples", type=int, default=64,
                   help="Sobol base samples, a power of 2 (runs: samples x (k + 2): 1,152 at the default 64)")
    s.add_argument("--scale", type=float, default=0.01, help="agents per person (default 0.01)")
    s.add_argument("--seed", type=int, default=1, help="the seed every run shares, and the sampler's (default 1)")
    s.add_argument("--out", default="results/sensitivity", help="output folder (default results/sensitivity)")
    _dask_args(s)
    d = sub.add_parser("dashboard", help="serve the dashboard (Mesa SolaraViz) on localhost")
    d.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    d.add_argument("--host", default="localhost", help="host to listen on (default localhost); the server answers only "
                                                       "requests addressed to it, localhost, 127.0.0.1 or [::1]")
    v = sub.add_parser("validate", help="compare a scenario's runs with published figures it was not built from: the "
                                        "check targets of the pack's targets file (meta calibration_targets, role "
                                        "check), or a checks file (the pack's meta validation_checks, or --checks)")
    v.add_argument("scenario", help="scenario TOML file, e.g. experiments/europe_baseline.toml")
    v.add_argument("--checks", help="checks TOML file (default: calibration/<the pack's meta validation_checks>)")
    v.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    v.add_argument("--draws", type=int, default=10,
                   help="posterior draws, each run with every seed, when the pack has a posterior and check targets "
                        "(default 10)")
    v.add_argument("--scale", type=float, help="agents per person (default: the scenario's)")
    v.add_argument("--out", help="output folder (default results/validation/<pack name> for check targets, "
                                 "results/validation/<scenario name> for a checks file)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def _dask_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler (e.g. tcp://10.0.0.5:8786); default: a LocalCluster on this machine")
    g.add_argument("--single-process", action="store_true", help="run every task in this process, one after another")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _scheduler(args):
    """"single", None (a LocalCluster) or a scheduler address at which a Dask scheduler answered."""
    from experiments.cluster import check_scheduler

    cores = os.cpu_count() or 1
    if args.workers is not None:
        if args.scheduler or args.single_process:
            raise InputError("command line", "--workers", "sets the LocalCluster's size: not with --scheduler or --single-process")
        if not (1 <= args.workers <= 4 * cores):  # more processes than that only share the cores and the memory
            raise InputError("command line", "--workers", f"must be between 1 and {4 * cores} (4 per core), not {args.workers}")
    if args.single_process:
        return "single"
    return check_scheduler(args.scheduler) if args.scheduler is not None else None


def experiment_command(args) -> int:
    from experiments.experiment import run_experiment

    res = run_experiment(args.file, out=args.out, replicates=args.replicates, draws=args.draws, scale=args.scale,
                         scheduler=_scheduler(args), workers=args.workers, progress=not args.quiet)
    m = res["manifest"]
    print(f"{res['out']}: {m['runs']} runs, {m['wall_time_s']:.0f} s; report.html, effects.csv, runs.csv")
    return 0


def sensitivity_command(args) -> int:
    from experiments.sensitivity import run_sensitivity

    from .folders import out_path

    out, _ = out_path(args.out, Path("results") / "sensitivity")  # an empty --out is an error, not "."
    methods = ("morris", "sobol") if args.method == "both" else (args.method,)
    res = run_sensitivity(out, methods, args.trajectories, args.samples, args.scale, args.seed,
                          scheduler=_scheduler(args), workers=args.workers, progress=not args.quiet)
    m = res["manifest"]
    print(f"{res['out']}: {', '.join(f'{k} {v} runs' for k, v in m['runs'].items())}, {m['wall_time_s']:.0f} s; "
          f"{', '.join(f'{k}.csv' for k in methods)}, figures/")
    return 0


def dashboard_command(args) -> int:
    """abm/app.py served as `solara run --production` serves it, behind Host and Origin checks, in a process group
    of its own that SIGTERM, SIGINT and SIGHUP stop whole (abm/dashboard.py)."""
    from abm.dashboard import check_address, launch, url

    host = check_address(args.host, args.port)
    print(f"dashboard: {url(host, args.port)} (Ctrl-C stops it)", flush=True)
    return launch(host, args.port)


def validate_command(args) -> int:
    from calibration.validate import markdown, markdown_targets, uses_targets, validate, validate_targets, write, write_targets

    if args.seeds < 1:
        raise InputError("command line", "--seeds", "must be at least 1")
    if args.draws < 1:
        raise InputError("command line", "--draws", "must be at least 1")
    if args.scale is not None and not (0 < args.scale <= 1):
        raise InputError("command line", "--scale", f"agents per person must be in (0, 1], not {args.scale}")
    from .folders import claim, out_path, plain_name

    from calibration.posterior import load_run

    targets = uses_targets(args.scenario, args.checks)   # the scenario is read (and checked) before any work
    default = Path("results") / "validation"
    if args.out is None and targets:
        pack = load_run(args.scenario).pack
        default = default / plain_name("command line", "pack", pack.raw.get("meta", {}).get("name", pack.path.name))
    elif args.out is None:
        default = default / plain_name("command line", "scenario", Path(args.scenario).stem)
    out, field = out_path(args.out, default)
    if targets:
        with claim(out, "validation", field, 1_000_000) as folder:
            t = validate_targets(args.scenario, seeds=range(1, args.seeds + 1), draws=args.draws, scale=args.scale,
                                 progress=not args.quiet)
            runs = f"{t.attrs['draws']} posterior draws x {args.seeds} seeds" if t.attrs["draws"] else f"{args.seeds} seeds"
            header = (f"# Check targets: {args.scenario}, {runs}" + (f", scale {args.scale:g}" if args.scale else "")
                      + (f" ({t.attrs['posterior']})" if t.attrs["posterior"] else ""))
            folder.prepare()
            write_targets(t, folder, header, str(args.scenario))
        print(markdown_targets(t, header))
        print(f"{out}/validation.csv, validation.md, figures/validation.png")
        return 0
    header = f"{args.scenario}: {args.seeds} seeds" + (f", scale {args.scale:g}" if args.scale else "")
    with claim(out, "validation", field, 1_000_000) as folder:  # before the runs: a refused folder costs nothing
        t = validate(args.scenario, args.checks, seeds=range(1, args.seeds + 1), scale=args.scale,
                     progress=not args.quiet)
        folder.prepare()
        write(t, folder, header, str(args.scenario))
    print(markdown(t, header))
    print(f"{out}/validation.csv, validation.md")
    return 0


def calibrate_command(args) -> int:
    from calibration.abc import calibrate
    from calibration.check import check

    from .folders import claim, out_path, write_error

    from calibration.setting import BASELINE, of

    args.scenario = args.scenario or str(BASELINE)
    cal = of(args.scenario)   # the pack's targets, priors, posterior: checked first
    out, field = out_path(args.out, Path("results") / ("calibration" if cal.pack == "americas"
                                                       else f"calibration-{cal.pack}"))
    if args.check and not cal.posterior_csv.exists():
        raise InputError("command line", "--check", f"pack {cal.pack!r} has no posterior yet (calibration/"
                                                    f"{cal.posterior}): run smo-abm calibrate --scenario "
                                                    f"{args.scenario} first")
    for name in ("scale", "check_scale"):
        v = getattr(args, name)
        if not (0 < v <= 1):
            raise InputError("command line", "--" + name.replace("_", "-"), f"agents per person must be in (0, 1], not {v}")
    for name in ("pop_size", "pop_size_later", "max_sims", "generations", "draws", "seeds", "design", "design_wave2",
                 "emulator_pop_size"):
        if getattr(args, name) < 1:
            raise InputError("command line", "--" + name.replace("_", "-"), "must be at least 1")
    if args.workers is not None and not 1 <= args.workers <= 4 * (os.cpu_count() or 1):
        raise InputError("command line", "--workers", f"must be 1 to {4 * (os.cpu_count() or 1)} (1 to 4 per core)")
    if args.scheduler is not None:
        if args.workers is not None:
            raise InputError("command line", "--workers", "not with --scheduler (the scheduler's workers run the fit)")
        from experiments.cluster import check_scheduler

        args.scheduler = check_scheduler(args.scheduler)
    if args.max_minutes <= 0:
        raise InputError("command line", "--max-minutes", "must be positive")
    with claim(out, "calibration", field, 50_000_000) as folder:  # abc.db grows to tens of MB
        folder.prepare()
        if not args.check:
            try:
                if args.method == "emulator":
                    from calibration.emulated import calibrate_emulated

                    res = calibrate_emulated(out, args.scale, args.seeds, args.design, args.design_wave2,
                                             args.emulator_pop_size, args.max_minutes, args.generations, args.fresh,
                                             progress=not args.quiet, scheduler=args.scheduler, workers=args.workers,
                                             cal=cal)
                else:
                    res = calibrate(out, args.scale, args.pop_size, args.max_sims, args.max_minutes, args.generations,
                                    args.fresh, progress=not args.quiet, pop_size_later=args.pop_size_later,
                                    later_from=args.later_from, scheduler=args.scheduler, workers=args.workers,
                                    seeds=args.seeds, cal=cal)
            except KeyboardInterrupt:
                print(f"interrupted: the finished generations are kept in {out}/abc.db; the same command resumes",
                      file=sys.stderr)
                return 130
            except OSError as e:  # a full disk or a folder made read-only during the fit
                raise write_error(out, field, e, f"the finished generations are kept in {out}/abc.db; "
                                                 "the same command resumes") from None
            if not res["converged"]:
                print(f"not converged after {res['generations']} generations ({res['stopped_because']}); "
                      f"{out} keeps them and the same command resumes; calibration/{cal.posterior} is unchanged",
                      file=sys.stderr)
                return 3
            runs = res.get("model_runs", res["simulations"] * res["seeds_per_particle"])
            print(f"posterior: {res['generations']} generations, {res['simulations']:,} particles, {runs:,} model runs, "
                  f"effective sample size {res['ess']:.0f}, stopped: {res['stopped_because']}; "
                  f"calibration/{cal.posterior} ({len(res['draws'])} weighted draws)")
        try:
            table = check(out, draws=args.draws, scale=args.check_scale, progress=not args.quiet, cal=cal)
        except OSError as e:
            raise write_error(out, field, e, f"finished check runs are kept in {out}/predictive; "
                                             "the same command resumes") from None
    for role in ("fit", "check"):
        t = table[table.role == role]
        print(f"{out}/targets.csv: {int(t.inside.sum())} of {len(t)} {role} targets inside the 90% posterior-predictive "
              f"interval")
    return 0


def run_command(args) -> int:
    # the command line assembles the run: the posterior's values and the comparison with the targets are
    # calibration's, handed to abm (abm/ itself imports nothing from calibration/: tests/test_layers.py)
    from calibration.posterior import load_run
    from calibration.targets import comparison

    from .folders import claim, out_path
    from .model import SafeMobilityModel
    from .outputs import finished_run, output_bytes, write_run
    from .scenario import CLI

    extra = [f"run.posterior_draw={args.posterior_draw}"] if args.posterior_draw is not None else []
    extra += ["run.use_posterior=false"] if args.no_posterior else []
    try:
        sc = load_run(args.scenario, overrides=args.set + extra, scale=args.scale, seed=args.seed)
    except InputError as e:
        if (e.file, e.field) == (CLI, "run.posterior_draw") and args.posterior_draw is not None:
            raise InputError("command line", "--posterior-draw", e.message) from None  # as the user typed it
        raise
    out, field = out_path(args.out, Path("results") / sc.name)
    # every check on the folder (kind, lock, writability, space, finished run) comes before the simulation
    with claim(out, "run", field, output_bytes(sc, figures=not args.no_figures)) as folder:
        done = finished_run(folder, sc)
        if done == "same" and not args.force:
            print(f"{out}: already holds this run (same inputs); use --force to run it again")
            return 0
        if done == "other" and not args.force:
            raise InputError(out, field, "holds a finished run of other inputs: use --force to replace it "
                                         "(only the run's own files are replaced) or choose another folder")
        folder.prepare()
        t0 = time.perf_counter()
        model = SafeMobilityModel(sc)
        with WeekBars(model, f"{sc.name} (scale {sc.scale:g}, seed {sc.seed})", quiet=args.quiet) as bars:
            model.run(progress=bars)
        wall = time.perf_counter() - t0
        write_run(model, folder, wall, figures=not args.no_figures, compare=comparison)
        model.release()
    print(f"{out}: {model.people.n} agents, {model.n_weeks} weeks from {sc.start} ({model.spinup} weeks of burn-in "
          f"before, not reported), {wall:.1f} s")
    return 0


class WeekBars:
    """A run's progress as two bars on stderr: the burn-in's weeks, then the reported weeks (those timeseries.csv
    holds, the count the last line gives). One bar over both counted weeks the outputs do not have."""

    def __init__(self, model, label: str, quiet: bool = False):
        from tqdm import tqdm

        self.model = model
        self.burn_in = tqdm(total=model.spinup, desc=f"{label}: burn-in", unit="wk", disable=quiet or not model.spinup,
                            file=sys.stderr)
        self.label, self.quiet, self.weeks = label, quiet, None

    def update(self, n: int = 1):
        """Called after each week: a week stepped while the model's clock was below 0 was a burn-in week."""
        if self.model.week <= 0:
            self.burn_in.update(n)
            return
        if self.weeks is None:
            from tqdm import tqdm

            self.burn_in.close()
            self.weeks = tqdm(total=self.model.n_weeks, desc=f"{self.label}: weeks", unit="wk", disable=self.quiet,
                              file=sys.stderr)
        self.weeks.update(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for bar in (self.burn_in, self.weeks):
            if bar is not None:
                bar.close()
        return False


def bench_command(args) -> int:
    from benchmarks.suite import run_suite

    if args.max_agents is not None and args.max_agents < 1:
        raise InputError("command line", "--max-agents", "must be a positive number of agents")
    if args.versus is not None:
        from benchmarks.versus import DEFAULT_AGENTS, run_versus

        if args.quick:
            raise InputError("command line", "--quick", "not with --versus (use --max-agents for smaller runs)")
        try:
            run_versus(args.out, args.versus, reps=args.reps, agents=args.max_agents or DEFAULT_AGENTS)
        except RuntimeError as e:  # a checkout or a run of one side failed: said in one line
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0  # a measurement: a ratio below the target is reported, not an error
    run_suite(args.out, quick=args.quick, max_agents=args.max_agents)  # None: the default; "" is an error
    return 0  # a measurement: targets that fail are reported, not an error


def _simulates_here(args) -> bool:
    """Whether the command runs its models in this process (so a deferred Ctrl-C is seen between weeks:
    abm/interrupts.py); on a Dask cluster this process only waits, and Ctrl-C must act at once."""
    if args.command in ("run", "validate"):
        return True
    return args.command in ("experiment", "sensitivity") and args.single_process


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    with deferred() if _simulates_here(args) else contextlib.nullcontext():
        return _dispatch(args)


def _dispatch(args) -> int:
    try:
        if args.command == "run":
            return run_command(args)
        if args.command == "bench":
            return bench_command(args)
        if args.command == "calibrate":
            return calibrate_command(args)
        if args.command == "experiment":
            return experiment_command(args)
        if args.command == "sensitivity":
            return sensitivity_command(args)
        if args.command == "validate":
            return validate_command(args)
        if args.command == "dashboard":
            return dashboard_command(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # abm.folders.Interrupted says what a claimed folder kept
        from .folders import NOTHING_WRITTEN

        print(getattr(e, "message", NOTHING_WRITTEN), file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
