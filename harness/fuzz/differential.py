"""A differential campaign: one seed on several QEMU builds, each judged by the model.

Each build runs the same generated cases (the seed's, generated for the first build's CPU: a
build whose CPU lacks what a case requires skips it) in a campaign of its own, the builds in
parallel where CPUs allow (the jobs shared among them), each case judged by the model with that
build's own ID registers.  The report lists every case whose verdict differs between builds (agrees
with the model, a known bug of that build, a new mismatch, flaky), with the model's verdict on
each build; each build's new mismatches are shrunk as in a campaign of its own, written to
results/<build>/fuzz/, and each written case is run alone on every build, its file naming
the builds it fails on.
"""
import os
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from harness.cases import load_file
from harness.fuzz.campaign import classify, _rerun_alone, boot_cpu, kernel_pool_base, run_campaign
from harness.qemu import qemu_version


@dataclass
class Build:
    name: str           # as QEMUS names it (a fetched build, `system`, or a path)
    qemu: str           # its binary
    version: str = None
    report: object = None   # its campaign.Report
    error: str = None


def verdicts(report):
    """{case index: verdict text} of a build's campaign, for the cases that did not simply agree."""
    out = {}
    for f in report.findings:
        if f.known is not None:
            out[f.index] = f"known bug {f.known}"
        else:
            m = next((x for x in f.mismatches if x.known is None), f.mismatches[0] if f.mismatches else None)
            what = m.problems[0] if m else "no mismatch alone"
            out[f.index] = ("new mismatch: " if f.reproduced else "flaky (in its batch only): ") + what
            for same in f.same:
                out[same] = f"as case {f.index}: " + out[f.index]
    return out


AGREES = "agrees with the model"


def disagreements(builds):
    """[(case index, {build name: verdict})] for every case whose verdict is not the same on every build."""
    per_build = {b.name: verdicts(b.report) for b in builds}
    indices = sorted({i for v in per_build.values() for i in v})
    out = []
    for i in indices:
        seen = {name: v.get(i, AGREES) for name, v in per_build.items()}
        kinds = {text.split(":")[0] for text in seen.values()}
        if len(kinds) > 1:
            out.append((i, seen))
    return out


def run_differential(settings, builds, seed, count, progress=None, first=0):
    """Run the campaign of (seed, count) on each Build (settings.qemu ignored), in parallel threads
    sharing settings.jobs QEMUs; each build's findings in results/<build>/fuzz/.  The builds, with
    their reports (or their errors)."""
    jobs = max(1, settings.jobs // len(builds))
    if settings.jobs < len(builds) and progress:
        progress(f"fuzz: {len(builds)} builds on {settings.jobs} job(s): each build runs with one QEMU")
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        gen_cpu = boot_cpu(replace(settings, qemu=builds[0].qemu), workdir)
    settings = replace(settings, gen_cpu=gen_cpu)

    def run(build):
        try:
            build.version = qemu_version(build.qemu)
            own = replace(settings, qemu=build.qemu, jobs=jobs, results=Path(settings.results) / _safe(build.name))
            say = (lambda text: progress(f"[{build.name} {build.version}] {text}")) if progress else None
            build.report = run_campaign(own, seed, count, progress=say, first=first)
        except Exception as e:      # one build's failure is reported with it; the others go on
            build.error = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=run, args=(b,)) for b in builds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [b for b in builds if b.report is not None]
    for b in ran:
        for f in b.report.findings:
            if f.file:
                name_failing_builds(settings, f.file, ran)
    return builds


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(name.rstrip("/")) or name)


def name_failing_builds(settings, path, builds):
    """Run the case file `path` alone on every build and add to it which builds fail it (a comment)."""
    lines = []
    for b in builds:
        own = replace(settings, qemu=b.qemu)
        fails = []
        with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
            cpu = boot_cpu(own, workdir)
            pool_base = kernel_pool_base(settings.kernel)
            for case in load_file(path):
                mismatches, _, _ = _rerun_alone(own, case, cpu, pool_base, workdir, "differential")
                classify(b.version, case, cpu, pool_base, mismatches)
                new = [m for m in mismatches if m.known is None]
                known = sorted({m.known for m in mismatches if m.known})
                if new:
                    fails.append(f"fails (step {new[0].step}: {new[0].problems[0]})")
                elif known:
                    fails.append(f"a known bug ({', '.join(known)})")
        lines.append(f"# On {b.name} (QEMU {b.version}): {'; '.join(fails) or 'agrees with the model'}")
    text = Path(path).read_text()
    Path(path).write_text("# Differential campaign: this case alone on each build\n" + "\n".join(lines) + "\n" + text)
    load_file(path)     # still a case file the loader takes
