"""The suite's verdicts cannot say more than was checked (issue 22; docs/integrity.md): each class
of thing that can go wrong under a known-bug mark or a feature check is a FAIL or an error, never
xfailed or skipped.  Fake QEMUs wrap the real one (tests/suite_run.py) and break one thing each."""
import json

from harness.qemu import qemu_version
from harness.versions import in_range
from suite_run import ROOT, nodes, shell_script
from suite_run import qemu, real_qemu, suite, suite_options  # noqa: F401  (fixtures)

CASES = ROOT / "cases"
MARKED = "translation.block_at_level0"           # [bug.l0_block]: a strict known bug of 7.2.22
PLAIN = "translation.l3_reserved_type"

# A case boot is one with a case ID among its semihosting arguments (arg=<file>.<name> or arg=#<range>);
# the boots that read the ID registers run none.
CASE_BOOT = 'case "$*" in *arg=[a-z]*.*|*arg=#*) CASE=1;; *) CASE=;; esac'


def _fake(tmp_path, real, on_case_boot):
    """A QEMU that is `real` but for its case boots, where it runs `on_case_boot` (shell)."""
    return shell_script(tmp_path / "qemu-fake", f'{CASE_BOOT}\nif [ -n "$CASE" ]; then {on_case_boot}; fi\n'
                                                f'exec "{real}" "$@"')


def _marked_in_range(qemu):
    from harness.cases import load_file
    case = next(c for c in load_file(CASES / "translation.toml") if c.id == MARKED)
    return in_range(qemu_version(qemu), case.xfail.qemu)


def test_a_qemu_that_never_starts_a_case_fails_the_marked_case_too(suite, tmp_path, real_qemu):
    fake = _fake(tmp_path, real_qemu, 'echo "qemu-fake: refusing to run cases" >&2; exit 1')
    run = suite(select=nodes("block_at_level0", "l3_reserved_type", cases=CASES, family="translation"),
                cases=CASES, qemu=str(fake))
    assert run.returncode == 1, run.output
    assert run.outcomes() == {MARKED: "failed", PLAIN: "failed"}, run.output
    assert "never started this case" in run.case(MARKED)["problems"][0]


def test_a_qemu_that_crashes_fails_the_marked_case(suite, tmp_path, real_qemu):
    fake = _fake(tmp_path, real_qemu, 'kill -SEGV $$')
    run = suite(select=nodes("block_at_level0", cases=CASES, family="translation"), cases=CASES, qemu=str(fake))
    assert run.returncode == 1, run.output
    assert run.outcomes() == {MARKED: "failed"}, run.output
    if _marked_in_range(real_qemu):
        assert "not every departure is explained" in run.case(MARKED)["reason"]


def test_a_qemu_that_refuses_virtualization_is_an_error_not_a_skip(suite, tmp_path, real_qemu):
    """The boot that asks whether the kernel starts at EL2 fails: every stage 2 case is an error
    naming QEMU's command and message; the run fails (audit finding 5)."""
    fake = shell_script(tmp_path / "qemu-novirt",
                        'case "$*" in *virtualization=on*) echo "qemu-system-aarch64: Property '
                        "'virt.virtualization' not found\" >&2; exit 1;; esac\n"
                        f'exec "{real_qemu}" "$@"')
    run = suite(select=nodes("translates", "translation_fault", cases=CASES, family="stage2")
                + nodes("block_at_level0", cases=CASES, family="translation"), cases=CASES, qemu=str(fake))
    assert run.returncode == 1, run.output
    outcomes = run.outcomes()
    stage2 = [o for i, o in outcomes.items() if i.startswith("stage2.")]
    assert stage2 and set(stage2) == {"error"}, run.output
    assert "skipped" not in outcomes.values()
    error = next(e for e in run.results["cases"] if e["id"].startswith("stage2."))
    assert "virt.virtualization' not found" in error["problems"][0] and "virtualization=on" in error["problems"][0]
    assert f"{len(stage2)} error" in run.output, run.output


def test_an_unrelated_wrong_step_under_a_known_bug_mark_fails(suite, tmp_path, qemu):
    """A step that departs for a reason of its own (a load of an unmapped VA expected to complete)
    in a case marked with a known bug: the mark does not explain it, so the case FAILs."""
    text = (CASES / "translation.toml").read_text()
    start = text.index("[case.block_at_level0]")
    steps = text.index("steps = [", start)
    text = text[:steps] + text[steps:].replace(
        "steps = [\n", 'steps = [\n  { do = "load64", va = 0x9000_0000, expect = "ok" },\n', 1)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "translation.toml").write_text(text)
    # --isolated: a case directory outside the repository gets node IDs without their file (::name),
    # which the shared boots' grouping does not know.
    run = suite("--isolated", select=nodes("block_at_level0", cases=cases, family="translation"), cases=cases)
    assert run.outcomes() == {MARKED: "failed"}, run.output
    if _marked_in_range(qemu):
        entry = run.case(MARKED)
        assert "not every departure is explained: step 0" in entry["reason"], entry["reason"]
        assert entry["steps"][0]["verdict"] == "failed" and entry["steps"][1]["verdict"] == "known_bug"
        assert list(entry["known_bugs"]) == ["l0_block"]


def test_a_selection_writes_a_partial_file_beside_the_whole_runs(suite, tmp_path):
    """A one-case run never replaces results/<ver>-<cpu>.json: its file is .partial.json, saying
    what it ran of what (audit finding 6)."""
    whole = tmp_path / "results" / "sentinel.json"
    run = suite(select=nodes("l3_reserved_type", cases=CASES, family="translation"), cases=CASES)
    assert run.returncode == 0, run.output
    written = sorted(p.name for p in (tmp_path / "results").glob("*.json"))
    assert len(written) == 1 and written[0].endswith(".partial.json"), written
    doc = json.loads((tmp_path / "results" / written[0]).read_text())
    assert doc["partial"]["ran"] == 1 and doc["partial"]["instances"] > 800 and doc["partial"]["why"]
    assert "PARTIAL" in run.output and not whole.exists()


def test_a_skip_names_the_id_register_field_that_says_the_feature_is_absent():
    from harness import features
    assert set(features.FIELDS) == set(features.FEATURES)
    cortex_a57 = (0x1124, 0x0, 0x0, 0x11120)
    assert features.missing(["FEAT_PAN3", "FEAT_VHE"], *cortex_a57) == [
        "lacks FEAT_PAN3 (SCTLR_EL1.EPAN: PAN for EL0-executable memory; ID_AA64MMFR1_EL1.PAN = 0x0)",
        "lacks FEAT_VHE (the EL2&0 regime, HCR_EL2.E2H (ID_AA64MMFR1_EL1.VH); ID_AA64MMFR1_EL1.VH = 0x0)"]
    # A feature a case requires absent: the CPU has it (no "lacks the absence of").
    qemu_max = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
    assert features.missing(["!FEAT_XNX"], *qemu_max) == [
        "has FEAT_XNX, which the case requires absent (stage 2 XN[0]: execute-never for EL1 or EL0 alone; "
        "ID_AA64MMFR1_EL1.XNX = 0x1)"]


def test_a_lost_walk_record_fails_the_case(suite, tmp_path, real_qemu):
    """A console that loses the last walk record of each step's walk (level 3 here): the model
    would fill the read from the declared layout and pass the case; the step records say how many
    walk records they sent, so the case FAILs as a damaged run (audit finding 7)."""
    status = tmp_path / "status"
    fake = _fake(tmp_path, real_qemu, f'{{ "{real_qemu}" "$@"; echo $? > "{status}"; }} | '
                                      # protocol 5 leaves out a before-walk record's when= and its n= where it is its step's
                                      "grep --line-buffered -E -v ' walk (n=[0-9]+ )?level=3 '; "
                                      f'exit $(cat "{status}")')
    run = suite("--isolated", select=nodes("l3_reserved_type", cases=CASES, family="translation"), cases=CASES,
                qemu=str(fake))
    assert run.outcomes() == {PLAIN: "failed"}, run.output
    problems = "\n".join(run.case(PLAIN)["problems"])
    assert "arrived (records lost or garbled): rerun it" in problems, problems


def test_the_later_features_are_read_from_the_boot_records_later_id_registers():
    """QEMU 11.1.3 -cpu max's ID registers as its boot record reports them (kernel/main.c report_boot):
    FEAT_S1PIE, FEAT_S2PIE, FEAT_AIE, FEAT_TCR2 from ID_AA64MMFR3_EL1, FEAT_GCS from ID_AA64PFR1_EL1;
    a boot record of 7.2.22 has the same registers at 0, and the skip names the field."""
    from harness import features
    sid = features.Ids(mmfr0=0x2100032310201126, mmfr1=0x110112010312122, mmfr2=0x1221011112011011,
                       isar0=0x1221111110312120, mmfr3=0x1000000011001111, mmfr4=0x100, pfr1=0x10101012000121,
                       isar1=0x111211110211502, isar2=0x1120000000110012)
    assert features.missing(["FEAT_TCR2", "FEAT_S1PIE", "FEAT_S2PIE", "FEAT_AIE", "FEAT_GCS", "FEAT_ASID2",
                             "FEAT_ATS1A", "FEAT_XS", "FEAT_NV2", "!FEAT_S1POE"], *sid) == []
    bookworm = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120, 0, 0, 0x21, 0, 0)
    assert features.missing(["FEAT_S1PIE", "FEAT_GCS"], *bookworm) == [
        "lacks FEAT_S1PIE (stage 1 permission indirection (TCR2_ELx.PIE, PIR_ELx, PIRE0_ELx); ID_AA64MMFR3_EL1.S1PIE = 0x0)",
        "lacks FEAT_GCS (Guarded Control Stack; ID_AA64PFR1_EL1.GCS = 0x0)"]
