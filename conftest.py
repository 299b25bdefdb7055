"""pytest plugin: every case instance in cases/*.toml is a test item.

The case files may be anywhere (--cases, CASES=: directories and single files;
harness/case_paths.py): with no test paths on the command line, a session with
--cases runs those cases.  Collection validates the case files; the session
start builds the kernel (make kernel) and checks QEMU, so a bad case or a
missing tool stops the run before anything runs, with one message and exit
status 2.
"""
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness import case_paths, features, options, predictions
from harness.case_cache import CaseFileCache
from harness.cases import CaseError, load_file
from harness.errors import HarnessError
from harness.implementation import QEMU, BugMark, Implementation, applicable_mark, case_mark, load_bugs, mark_reason
from harness.qemu import CASE_TIMEOUT, CONSOLES, HANG_CHECK, qemu_version
from harness.qemu_builds import resolve_qemu
from harness.results import ResultsWriter, case_entry
from harness.runner import Runner, Settings
from harness.scheduling import BatchGroupScheduling, batch_groups, is_case_nodeid
from harness.terminal import TerminalSummary, rerun_command
from harness.verdict import describe_step

ROOT = Path(__file__).resolve().parent
RUNNER = pytest.StashKey()
GROUPS = pytest.StashKey()
QEMU_NAME = pytest.StashKey()       # --qemu as given (a build's name, `system`, a path), for rerun hints
BUG_MARKS = pytest.StashKey()       # the --bugs files' marks (harness/implementation.py), or the CaseError
IMPLEMENTATION = pytest.StashKey()


_DEFAULTS = {"--build": str(ROOT / "build")}


def pytest_addoption(parser):
    # Each option's Makefile variable is named in its help (`pytest --help`), as `make help` names them.
    group = parser.getgroup("mmu", "AArch64 MMU conformance suite (make run VAR=...: the Makefile variable)")
    group.addoption("--qemu", default=os.environ.get("QEMU", "qemu-system-aarch64"),
                    help="QEMU to test: a fetched build's name (make qemus: bookworm, sid ...), `system`, or a "
                         "path (default: qemu-system-aarch64 on PATH, or $QEMU; QEMU=)")
    group.addoption("--cpu", default=os.environ.get("CPU", "max"), help="QEMU -cpu model (default: max; CPU=)")
    group.addoption("--cases", action="append", metavar="PATH",
                    help="case directories or files, anywhere; repeat it, or separate paths by spaces or ':'. "
                         "With no test paths given, the session runs these cases (default: cases/; CASES=)")
    group.addoption("--build", default=_DEFAULTS["--build"],
                    help="build directory of the kernel (default: build/; BUILD=)")
    group.addoption("--case-timeout", type=options.positive_seconds, default=CASE_TIMEOUT,
                    help=f"seconds a QEMU run may take before it is stopped (default: {CASE_TIMEOUT:g}; "
                         "PYTEST_ARGS=--case-timeout=N)")
    group.addoption("--isolated", action="store_true",
                    help="one QEMU boot per case, rather than many per boot with failures rerun alone "
                         "(README: Speed; PYTEST_ARGS=--isolated)")
    group.addoption("--hang-check", type=options.seconds, default=HANG_CHECK, metavar="SECONDS",
                    help="seconds without output after which QEMU is asked whether the kernel still makes "
                         f"progress, and stopped if not (default: {HANG_CHECK}; 0: only --case-timeout stops it; "
                         "PYTEST_ARGS=--hang-check=N)")
    group.addoption("--console", choices=CONSOLES, default="uart",
                    help="the channel of the kernel's records: the PL011 UART (default), or semihosting's "
                         "SYS_WRITE0 (README: Speed; PYTEST_ARGS=--console=semihosting)")
    group.addoption("--prediction-cache", metavar="DIR",
                    help="where the model's predictions for the cases are kept between runs (default: "
                         f"predictions/ in the build directory; {predictions.OFF}: none, the model evaluates "
                         "every step; README: Speed; PYTEST_ARGS=--prediction-cache=DIR)")
    group.addoption("--results", default=str(ROOT / "results"),
                    help="where results are written (default: results/; PYTEST_ARGS=--results=DIR)")
    # Not --strict: pytest keeps that name (an alias of --strict-markers).
    group.addoption("--strict-model", action="store_true",
                    help="a step the reference model could not judge fails its case (make test sets it); "
                         "without it such a step is reported as unjudged, with the model's reason")
    group.addoption("--implementation", metavar="NAME/VERSION",
                    help="what --qemu runs, when it is not QEMU itself (a fork, another emulator with QEMU's "
                         "command line): its name and version, which the --bugs marks name (default: qemu/<the "
                         "version --qemu reports>; IMPL=)")
    group.addoption("--bugs", action="append", metavar="FILE",
                    help="a bugs file: known bugs of an implementation (or of QEMU with a -cpu model), naming "
                         "the cases by ID, without touching the case files (harness/implementation.py; BUGS=)")
    group.addoption("--fuzz-seed", type=options.count, default=None,
                    help="tests/test_fuzz_campaign.py: the campaign's seed (default: CI's fixed seed)")
    group.addoption("--fuzz-count", type=options.positive_count, default=None,
                    help="tests/test_fuzz_campaign.py: generated cases to run (default: CI's 5000)")


def _case_paths(config):
    """The case directories and files of --cases (the repository's cases/ by default)."""
    return case_paths.split(config.getoption("--cases"))


def _runs_cases(config):
    """Whether this session collects case files: an argument is, or contains, or lies in a
    case path.  (Not while pytest only prints its help: it has no arguments then.)"""
    args = getattr(config, "args", None)
    if args is None:
        return False
    for arg in args or [str(ROOT)]:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        for cases in _case_paths(config):
            if path == cases or cases in path.parents or path in cases.parents:
                return True
    return False


def _select_case_paths(config):
    """With --cases and no test paths on the command line, the session runs those cases
    (rather than pytest.ini's testpaths): `pytest --cases ~/mycases` runs them, wherever they are."""
    if config.getoption("--cases") and getattr(config, "args_source", None) == pytest.Config.ArgsSource.TESTPATHS:
        config.args[:] = [str(p) for p in _case_paths(config)]


def _is_worker(config):
    return hasattr(config, "workerinput")


def _kernel(config):
    return Path(config.getoption("--build")) / "kernel.elf"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "mmu_case: an MMU conformance case instance")
    if not hasattr(config, "args"):
        return      # pytest --help, --version: nothing runs
    _select_case_paths(config)
    # A build's name, `system` or a path; unresolvable: left as given, and the session start reports it.
    config.stash[QEMU_NAME] = config.getoption("--qemu")
    try:
        config.option.qemu = resolve_qemu(config.getoption("--qemu"))
    except HarnessError:
        pass
    try:
        config.stash[BUG_MARKS] = [m for f in config.getoption("--bugs") or () for m in load_bugs(f)]
    except CaseError as e:
        config.stash[BUG_MARKS] = e
    # Case files are collected wherever they are: a plugin, not this conftest's hook, which
    # pytest applies only to files beneath the conftest's directory.
    config.pluginmanager.register(_CaseFiles(_case_paths(config)), "mmut-case-files")
    # Every CPU runs a QEMU: the xdist workers share them out, and a run without xdist boots in parallel itself.
    workers = config.workerinput["workercount"] if _is_worker(config) else 1
    config.stash[RUNNER] = Runner(Settings(config.getoption("--qemu"), config.getoption("--cpu"),
                                           _kernel(config), config.getoption("--case-timeout"),
                                           config.getoption("--hang-check") or None, config.getoption("--console"),
                                           _prediction_cache(config), qemu_bugs=_tests_qemu(config)),
                                  parallel=max(1, len(os.sched_getaffinity(0)) // workers))
    if _is_worker(config) or not _runs_cases(config):
        return
    version = _qemu_version_or_none(config)
    if version is None:
        return      # pytest_sessionstart reports it
    impl = _implementation(config)
    # A run of another implementation is named by it: it must not replace QEMU's run of the same version.
    other = impl is not None and impl.name != QEMU
    stem = f"{impl.name}-{impl.version}-{impl.cpu}" if other else f"{version}-{config.getoption('--cpu')}"
    results = Path(config.getoption("--results"))
    if not config.option.xmlpath:
        # A selection's JUnit XML goes beside its partial results, never over a whole run's.
        config.option.xmlpath = str(results / (f"{stem}.partial.xml" if _selection(config) else f"{stem}.xml"))
    writer = ResultsWriter(results / f"{stem}.json", config.getoption("--qemu"), version, config.getoption("--cpu"),
                           f"{impl.name}/{impl.version}" if other else None)
    config.pluginmanager.register(_Collector(writer), "mmut-results")
    marks = [m for m in _bug_marks(config) if impl is not None and m.covers(impl)]
    config.pluginmanager.register(TerminalSummary(writer, lambda file, nodeid: _rerun_command(config, file, nodeid),
                                                  marks, impl), "mmut-terminal")


def _prediction_cache(config):
    """The run's predictions.PredictionCache, or None where --prediction-cache turns it off."""
    where = config.getoption("--prediction-cache") or Path(config.getoption("--build")) / "predictions"
    return None if str(where) == predictions.OFF else predictions.PredictionCache(where)


def pytest_unconfigure(config):
    if RUNNER in config.stash:
        config.stash[RUNNER].close()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    config = session.config
    if _is_worker(config) or not _runs_cases(config):
        return
    try:
        resolve_qemu(config.getoption("--qemu"))
        Implementation.of(config.getoption("--implementation"), qemu_version(config.getoption("--qemu")),
                          config.getoption("--cpu"))
    except (HarnessError, ValueError) as e:
        _stop(str(e))
    if isinstance(config.stash[BUG_MARKS], CaseError):
        _stop(str(config.stash[BUG_MARKS]))
    if config.stash[BUG_MARKS]:
        # Each case a bugs file names is one of CASES' (checked once, here: it loads every case file).
        try:
            ids = [c.id for c in case_paths.load(_case_paths(config))]
            for f in config.getoption("--bugs"):
                load_bugs(f, ids)
        except (CaseError, HarnessError) as e:
            _stop(str(e))
    dist = getattr(config.option, "dist", "no")
    if not config.getoption("--isolated") and dist not in ("no", "load"):
        _stop(f"--dist={dist} would split the cases' shared boots: leave --dist at its default, or add --isolated")
    make = ["make", "-s", "--no-print-directory", "-C", str(ROOT), "kernel", f"PYTHON={sys.executable}",
            f"CASES={' '.join(map(str, _case_paths(config)))}", f"BUILD={Path(config.getoption('--build')).resolve()}"]
    try:
        built = subprocess.run(make, capture_output=True, text=True)
    except FileNotFoundError:
        _stop("`make` is not installed: apt-get install make")
    if built.returncode:
        _stop(f"building the kernel failed ({shlex.join(make)}):\n{built.stderr.strip()}")


def _stop(message):
    """End the session before anything ran, with exit status 2 and the message once
    (pytest repeats an exit's reason, so the reason is kept short)."""
    sys.stderr.write(f"error: {message}\n")
    pytest.exit("nothing was run", returncode=2)


class _CaseFiles:
    """Collects the case files of --cases (directories' *.toml and single files) as CaseFiles."""

    def __init__(self, paths):
        self.paths = paths

    @pytest.hookimpl
    def pytest_collect_file(self, file_path, parent):
        if case_paths.is_case_file(file_path, self.paths):
            # A case file outside the rootdir would get an empty node ID from pytest ('::name' for
            # its cases), which no batch grouping, result or rerun command can tell apart: its
            # node ID is its absolute path there.
            root = parent.session.config.rootpath
            nodeid = None if file_path.is_relative_to(root) else str(file_path)
            return CaseFile.from_parent(parent, path=file_path, nodeid=nodeid)
        return None


class CaseFile(pytest.File):
    def collect(self):
        try:
            cases = _loaded_cases(self.config).load(self.path)
        except CaseError as e:
            raise CaseFileError(str(e)) from None
        impl = _implementation(self.config)
        for case in cases:
            item = CaseItem.from_parent(self, name=case.name, case=case)
            item.add_marker(pytest.mark.mmu_case)
            # A case file's own [bug.*] mark of QEMU is judged step by step (CaseItem.verdict).  A bugs
            # file's mark (--bugs: another implementation's bug, or QEMU's with a -cpu model) has no
            # model variant to explain steps with: it stays pytest's strict xfail of the whole case.
            mark = applicable_mark(case, impl, _bug_marks(self.config))
            if isinstance(mark, BugMark):
                item.add_marker(pytest.mark.xfail(strict=True, reason=mark_reason(mark)))
            yield item

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFileError):
            return f"bad case file: {excinfo.value}"
        return super().repr_failure(excinfo)


class CaseFileError(Exception):
    pass


LOADED = pytest.StashKey()


def _loaded_cases(config):
    """The case_cache.CaseFileCache of the build directory: the case files' cases as loaded before."""
    if LOADED not in config.stash:
        config.stash[LOADED] = CaseFileCache(Path(config.getoption("--build")) / "collection")
    return config.stash[LOADED]


class CaseFailed(Exception):
    pass


def _bug_marks(config):
    marks = config.stash.get(BUG_MARKS, [])
    return [] if isinstance(marks, CaseError) else marks


def _implementation(config):
    """The Implementation this run tests (--implementation, else QEMU at --qemu's version), or
    None where that cannot be told (pytest_sessionstart reports why)."""
    if IMPLEMENTATION not in config.stash:
        version = _qemu_version_or_none(config)
        try:
            impl = Implementation.of(config.getoption("--implementation"), version, config.getoption("--cpu"))
        except ValueError:
            impl = None
        config.stash[IMPLEMENTATION] = impl if impl is None or impl.version else None
    return config.stash[IMPLEMENTATION]


def _tests_qemu(config):
    """Whether the run tests QEMU (no --implementation, or one named qemu): only then may QEMU's known
    bugs (the case files' [bug.*] and their model variants) explain what a step did."""
    spec = config.getoption("--implementation")
    return not spec or spec.partition("/")[0].lower() == QEMU


def _qemu_version_or_none(config):
    try:
        return qemu_version(config.getoption("--qemu"))
    except HarnessError:
        return None


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        # Every report of the item says whose it is, with the case's file: the results take in an
        # error that left no entry (_Collector), whatever the node ID looks like.
        self.user_properties.append(("mmut-case", json.dumps([case.id, str(case.path)])))

    def setup(self):
        missing = self.missing_features()
        if missing:
            reason = f"-cpu {self.config.getoption('--cpu')} {' and '.join(missing)}"
            self._record(None, "skipped", reason)
            pytest.skip(reason)

    def missing_features(self):
        """The features the case requires that the CPU lacks: the case is skipped if any.  Asked
        of each later case whenever a boot is filled (runtest), so it is worked out once."""
        if not hasattr(self, "_missing"):
            self._missing = self._find_missing_features()
        return list(self._missing)

    def _find_missing_features(self):
        missing = features.missing(self.case.requires, *_cpu_ids(self.config)) if self.case.requires else []
        if self.case.needs_el2 and not _has_el2(self.config):
            needs = ("its stage 2" if self.case.stage2 is not None else
                     "its steps in the EL2&0 regime" if self.case.el2 == "vhe" else "its steps in the EL2 regime")
            missing.insert(0, f"EL2, which {needs} needs (with QEMU's virtualization=on the kernel booted at "
                              "EL1: CurrentEL.EL = 1)")
        return missing

    def runtest(self):
        runner = self.config.stash[RUNNER]
        if self.config.getoption("--isolated"):
            j = runner.run_one(self.case)
        else:
            group, position = _batch_group(self)
            # Lazily: the runner takes only as many as one boot runs.
            following = (group[k].case for k in range(position + 1, len(group)) if not group[k].missing_features())
            j = runner.run_shared(self.case, following)
        raw = None
        if j.raw_output_matters:
            raw = Path(self.config.getoption("--results")) / "raw" / f"{self.case.id}.log"
            raw.parent.mkdir(parents=True, exist_ok=True)
            raw.write_text(j.run.output)
        self._raw = raw
        verdict, why = self.verdict(j)
        self._record(j, verdict, why)
        if verdict == "xfailed":
            pytest.xfail(why)
        if verdict == "failed":
            raise CaseFailed(self._report(j, raw, why))

    def known_bug_mark(self):
        """The case's known-bug mark (cases.Xfail) if its range covers the QEMU tested and the CPU has the
        features it names, else None."""
        return case_mark(self.case, _implementation(self.config), _cpu_ids(self.config))

    def verdict(self, j):
        """('passed' | 'xfailed' | 'failed', why): a known-bug xfail only where the case is marked
        with a bug of this QEMU, every step that departs from the architecture is explained by a
        known bug of this QEMU (the marked one among them), and nothing else went wrong."""
        if self.get_closest_marker("xfail") is not None:
            # A bugs file's mark (no model variant): pytest's strict xfail of the whole case decides.
            return ("passed", None) if j.status == "passed" else ("failed", None)
        mark = self.known_bug_mark()
        impl = _implementation(self.config)
        strict = self.config.getoption("--strict-model")
        unjudged = [f"step {s.n} ({s.unjudged})" for s in j.unjudged]
        if strict and unjudged:
            return "failed", f"--strict-model: the model could not judge {'; '.join(unjudged)}"
        if j.status == "passed":
            if mark is not None:
                return "failed", (f"marked as known bug {mark.name} of {mark.scope}, but every step is what the "
                                  f"architecture permits: the bug is not in this QEMU (narrow the mark's range)")
            return "passed", None
        explained = j.explanations()
        named = "; ".join(f"{bug} explains {', '.join(f'step {n}' if n != 'run' else 'how the run ended' for n in where)}"
                          for bug, where in explained.items())
        if j.status == "failed":
            if mark is None:
                return "failed", None
            return "failed", (f"marked as known bug {mark.name} of {mark.scope}, but not every departure is "
                              f"explained: " + _unexplained(j) + (f" (what is explained: {named})" if named else ""))
        if impl is None or impl.name != QEMU:
            return "failed", f"only QEMU's known bugs explain steps ({named}), and this is {impl}"
        if mark is None:
            # A case that checks something else meets a known bug the model sees (PAR_EL1.SH of an AT it
            # makes for its PA, say): the departure is the bug's, and no pass.
            return "xfailed", f"known bug of QEMU (the case is not marked with it): {named}"
        if mark.name not in explained:
            return "failed", f"marked as known bug {mark.name}, which explains none of its steps: {named}"
        return "xfailed", f"known bug of {mark.scope}: {named}"

    def teardown(self):
        # The results entry has reached the results file through the setup or call report.  JUnit
        # XML writes the teardown report's properties: it would hold every entry again, escaped
        # (3.8 MB a run, more than the JSON itself).  "mmut-case" served the setup and call reports
        # (_Collector reads no other), so it goes too: the XML keeps no property.
        self.user_properties[:] = [p for p in self.user_properties if p[0] not in ("mmut", "mmut-case")]

    def _record(self, judgement, outcome, reason=None):
        mark = self.case.xfail
        applies = mark is not None and self.known_bug_mark() is not None
        has_features = None if mark is None else not features.missing(mark.features, *_cpu_ids(self.config))
        self.user_properties.append(("mmut", json.dumps(case_entry(self.case, self.nodeid, judgement, outcome, reason,
                                                                   applies, has_features))))

    def _report(self, j, raw, why=None):
        cfg = self.config
        lines = [f"{self.case.id} on QEMU {_qemu_version_or_none(cfg)} ({cfg.getoption('--qemu')}), "
                 f"-cpu {cfg.getoption('--cpu')}",
                 f"rule: {' '.join(self.case.summary.split())}"]
        if why:
            lines.append(f"verdict: {why}")
        for s in j.steps:
            lines.append(f"  {_STEP_WORD[s.verdict]}  step {s.n}: {describe_step(self.case.steps[s.n])}")
            lines.append(f"          expected: {s.expected}")
            if s.model is not None:
                lines.append(f"          model:    {s.model}")
            lines.append(f"          got:      {s.observed}")
            if not s.ok:    # the walk of a failing step: what the MMU was given to translate
                lines += [f"          {'walk:' if k == 0 else '':9} {line}" for k, line in enumerate(s.walk)]
            lines += [f"          -> {p}" for p in s.problems]
            lines += [f"          -> known bug {'+'.join(s.known_bugs)}: {p}" for p in s.explained]
            if s.unjudged:
                lines.append(f"          -> not judged by the model: {s.unjudged}")
        lines += [f"  run: {p}" for p in j.problems]
        lines += [f"  run: known bug {'+'.join(j.known_bugs)}: {p}" for p in j.explained]
        if j.rerun:
            lines.append(f"  this verdict is from a fresh boot that ran the case alone; it was rerun because it {j.rerun}")
        if raw:
            lines.append(f"  raw QEMU output kept in {raw}")
        lines.append(f"rerun this case: {_rerun_command(cfg, self.path, self.nodeid)}")
        qemu, cpu = shlex.quote(cfg.stash.get(QEMU_NAME, cfg.getoption("--qemu"))), cfg.getoption("--cpu")
        lines.append(f"debug it:        make debug CASE={shlex.quote(self.case.id)} QEMU={qemu} CPU={cpu}"
                     + "".join(f" {var}={value}" for _, var, value in _where(cfg) if var in ("CASES", "BUILD")))
        return "\n".join(lines)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # A known bug's verdict: its reason is all a report shows (pytest's traceback with the
            # source around each frame cost 0.2 s of CPU a case).
            return excinfo.value.msg
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, HarnessError):     # a boot that failed, QEMU that cannot run: said whole
            return f"{self.case.id}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.case.id}: {' '.join(self.case.summary.split())[:80]}"


_STEP_WORD = {"ok": "ok  ", "failed": "FAIL", "known_bug": "BUG ", "unjudged": "ok? ", "amalgamation": "ok? "}


def _unexplained(j):
    """What no known bug explains in a judgement, in a line."""
    parts = [f"step {s.n}: {s.problems[0]}" + (f" (+{len(s.problems) - 1} more)" if len(s.problems) > 1 else "")
             for s in j.steps if s.problems]
    parts += [f"the run: {p}" for p in j.problems]
    return "; ".join(parts)


def _where(config):
    """What a rerun needs to find and build the cases: (option, Makefile variable, value) of the
    options not at their defaults."""
    where = [(opt, var, shlex.quote(str(config.getoption(opt)))) for opt, var in (("--build", "BUILD"),)
             if config.getoption(opt) != _DEFAULTS[opt]]
    if config.getoption("--implementation"):
        where.append(("--implementation", "IMPL", shlex.quote(config.getoption("--implementation"))))
    where += [("--bugs", "BUGS", shlex.quote(str(Path(f).resolve()))) for f in config.getoption("--bugs") or ()]
    paths = _case_paths(config)
    if paths != [case_paths.DEFAULT]:
        where.insert(0, ("--cases", "CASES", shlex.quote(" ".join(map(str, paths)))))
    return where


def _rerun_command(config, file, nodeid):
    return rerun_command(sys.executable, file, nodeid, config.stash.get(QEMU_NAME, config.getoption("--qemu")),
                         config.getoption("--cpu"), [(opt, value) for opt, _, value in _where(config)])


def _batch_group(item):
    """The case items that share boots with `item` (its xdist worker's share of the case
    instances, harness.scheduling; or all of them in a run without xdist), and its position there."""
    session = item.session
    if GROUPS not in session.stash:
        items = {i.nodeid: i for i in session.items if is_case_nodeid(i.nodeid)}
        workers = session.config.workerinput["workercount"] if _is_worker(session.config) else 1
        groups = {}
        for nodeid, group in batch_groups(list(items), workers).items():
            groups.setdefault(group, []).append(items[nodeid])
        session.stash[GROUPS] = {i.nodeid: (members, k) for members in groups.values() for k, i in enumerate(members)}
    return session.stash[GROUPS][item.nodeid]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under xdist, each worker is sent whole batch groups, so it runs every case of its
    group, and only those, whatever -n is."""
    if config.getoption("--isolated") or config.getvalue("dist") != "load":
        return None
    return BatchGroupScheduling(config, log)


def _cpu_ids(config):
    """The ID registers (features.ID_REGISTERS) of this QEMU and CPU, from one boot that runs no case."""
    return features.boot_ids(_boot_record(config, "el1"))


def _has_el2(config):
    """Whether the kernel starts at EL2 on this QEMU and CPU with virtualization=on (one boot, no case)."""
    return _boot_record(config, "stage2").num("el") == 2


BOOTS = pytest.StashKey()


def _boot_record(config, mode):
    """The boot record of one boot of `mode` (qemu.BOOT_MODES) that runs no case.  A boot that fails
    (QEMU refuses virtualization=on, lacks the CPU model or a firmware; the kernel prints no boot
    record or exits non-zero) is an error of every case that needs it, naming the command and
    QEMU's message: a skip would say the CPU lacks a feature nobody looked at."""
    boots = config.stash.setdefault(BOOTS, {})
    if mode not in boots:
        run, output = config.stash[RUNNER].boot(boot=mode)
        if output.boot is None or run.exit_status != 0:
            said = " | ".join(output.other[-3:]) or run.output.strip()[-300:] or "nothing"
            boots[mode] = HarnessError(
                f"the {mode} boot that reads the CPU's ID registers failed ({'no boot record' if output.boot is None else 'booted'}, "
                f"QEMU exit status {run.exit_status}{'' if run.signal is None else f', signal {run.signal}'}): "
                f"{shlex.join(map(str, run.command))}\nQEMU said: {said}")
        else:
            boots[mode] = output.boot
    if isinstance(boots[mode], HarnessError):
        raise boots[mode]
    return boots[mode]


def _selection(config):
    """What narrows this session to part of its cases, as the user gave it ([] : it runs them all):
    node IDs or single case files of a case directory, -k, -m, -x/--maxfail, --deselect, --lf."""
    parts = []
    paths = _case_paths(config)
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if "::" in arg or any(cases in path.parents and cases.is_dir() for cases in paths):
            parts.append(arg)
    option = config.option
    parts += [f"{flag} {value}" for flag, value in (("-k", getattr(option, "keyword", "")),
                                                     ("-m", getattr(option, "markexpr", ""))) if value]
    if getattr(option, "maxfail", 0):
        parts.append(f"--maxfail={option.maxfail}")
    parts += [f"--deselect={d}" for d in getattr(option, "deselect", None) or ()]
    if getattr(option, "lf", False) or getattr(option, "failedfirst", False):
        parts.append("--lf")
    return parts


def _case_instances(config):
    """How many case instances the session's case paths hold (None: they cannot be read)."""
    try:
        return sum(len(load_file(f)) for f in case_paths.case_files(_case_paths(config)))
    except (CaseError, HarnessError, OSError):
        return None


class _Collector:
    """Feeds finished case reports (from this process or xdist workers) to the results writer:
    every case item's, errors included (a report that carries no results entry: the harness
    raised, a setup failed), so that the results and the summary line count what pytest counts."""

    def __init__(self, writer):
        self.writer = writer
        self.collected = None       # case items collected (None: not known here)

    @pytest.hookimpl
    def pytest_collection_finish(self, session):
        if not _is_worker(session.config) and session.items:
            self.collected = sum(1 for i in session.items if isinstance(i, CaseItem))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.collected = sum(1 for i in ids if is_case_nodeid(i))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.when not in ("setup", "call") or not any(k == "mmut-case" for k, _ in report.user_properties):
            return
        entry = _entry(report)
        if report.when == "setup" and report.outcome == "passed":
            return
        if entry is None:
            if report.outcome == "passed":
                return
            # The harness raised before the case had a verdict (QEMU could not be spawned, a boot
            # failed): an error of setup, a failure of the call, as pytest counts them.
            entry = _bare_entry(report)
        elif report.when == "setup" and report.outcome != "skipped":
            return
        if hasattr(report, "wasxfail"):
            entry["outcome"] = "xfailed" if report.skipped else "xpassed"
            entry["reason"] = report.wasxfail
        elif report.when == "call":
            entry["outcome"] = report.outcome
        self.writer.add(entry)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session, exitstatus):
        config = session.config
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        ran = len(self.writer.entries)
        why = _selection(config)
        if session.shouldfail:
            why.append(f"stopped early: {session.shouldfail}")
        if interrupted:
            why.append("interrupted")
        # Of a run that meant to run them all, how many there are: its own collection's count when
        # known, else the case files read again (not after Ctrl-C: its grace is short).
        instances = None if interrupted else self.collected if not why and self.collected else _case_instances(config)
        if instances is not None and ran != instances and not why:
            why.append(f"{instances - ran} instances have no verdict")
        partial = None
        if why:
            partial = {"why": why, "instances": instances, "collected": self.collected, "ran": ran,
                       "selection": shlex.join(config.invocation_params.args)}
        if ran or partial:
            self.writer.write(interrupted=interrupted, partial=partial)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_report_teststatus(self, report, config):
        """A verdict from a rerun alone says so on its report line (-v)."""
        outcome = yield
        entry = _entry(report)
        if entry and entry["rerun"] and report.when == "call":
            category, letter, word = outcome.get_result()
            said = " (rerun alone on a fresh boot)"
            word = (word[0] + said, word[1]) if isinstance(word, tuple) else word + said   # (word, markup) or word
            outcome.force_result((category, letter, word))


def _bare_entry(report):
    """The results entry of a case item whose report carries none: the harness's error, as pytest reports it."""
    case_id, path = next(json.loads(v) for k, v in report.user_properties if k == "mmut-case")
    text = str(report.longreprtext or report.outcome).strip()
    return {"id": case_id, "nodeid": report.nodeid, "file": path, "summary": "",
            "outcome": "skipped" if report.skipped else "error" if report.when == "setup" else "failed", "reason": text.splitlines()[-1][:500] if text else None,
            "wall": None, "batch_size": None, "fresh_boot": None, "rerun": None, "mark": None,
            "steps": [], "problems": [text[-2000:]], "explained": [], "known_bugs": {}}


def _entry(report):
    """The results entry a case item's report carries, or None."""
    entries = [json.loads(v) for k, v in report.user_properties if k == "mmut"]
    return entries[-1] if entries else None
