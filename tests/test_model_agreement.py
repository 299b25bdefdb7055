"""Every hand-written case instance against the reference model, offline: on
each CPU below whose ID registers meet the case's `requires` (at least one
does: a case no CPU here runs would be checked by nothing), every step's
expectation must agree with the outcomes the model allows
(harness.oracle.expectation_agrees), and the model must be able to
evaluate every step."""
import pytest

from harness.cases import load_dir
from harness.features import missing
from harness.kdefs import REPO
from harness.model import Unknown
from harness.predict import predict_case
from harness.oracle import describe, expectation_agrees
from harness.verdict import describe_step, expected_text

# The ID registers of QEMU 7.2.22's CPU models (their boot records: ID_AA64MMFR0/1/2_EL1 and
# ID_AA64ISAR0_EL1, and -cpu max's whole record, whose ISAR1.LRCPC = 2 without FEAT_LSE2 is the only
# CPU here for access_kinds.ldapr_unaligned_no_lse2; registers not given read 0, as harness.features.Ids says).
CPUS = {
    "max": (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120, 0x0, 0x0, 0x1000021,
            0x11111101211012, 0x0, 0x4, 0x2000023, 0x8444c004),
    "cortex-a53": (0x1122, 0x0, 0x0, 0x11120),
    "cortex-a57": (0x1124, 0x0, 0x0, 0x11120),
    "cortex-a72": (0x1124, 0x0, 0x0, 0x11120),
    "neoverse-n1": (0x101125, 0x10212122, 0x1011, 0x100010211120),
    # QEMU 11.1.3's -cpu max (Debian sid), its whole boot record (Ids' order): FEAT_PAN3, S1PIE/S2PIE,
    # AIE, GCS, ASID2, ATS1A, XS, NV, which none of 7.2.22's models has.  Both max's DCZID_EL0 = 0x4 (DC ZVA's 64-byte
# block: the dczva64 cases pass on both), then CLIDR_EL1 and CTR_EL0 (7.2.22: LoC = 2, DIC = 0, so DC and IC IVAU
# translate; 11.1.3: LoC = 0, DIC = 1, so each may be a NOP: access_kinds_cmo's two sides).
    "max-11.1.3": (0x2100032310201126, 0x110112010312122, 0x1221011112011011, 0x1221111110312120,
                   0x1000000011001111, 0x100, 0x10101012000121, 0x111211110211502, 0x1120000000110012, 0x4, 0x123,
                   0xb444c004),
    # QEMU 10.0.13's -cpu max (Debian trixie), its whole boot record: FEAT_CMOW with LoC = 2 (DC by VA translates),
    # the only build's CPU that runs access_kinds_cmo.cmow_dc_civac_el0.
    "max-10.0.13": (0x2100032310201126, 0x110112010312122, 0x1221011112011011, 0x1221111110212120,
                    0x1000000000000000, 0x0, 0x1001000121, 0x111211110211502, 0x110012, 0x4, 0x2000023, 0xb444c004),
    # No QEMU CPU has both FEAT_CMOW and CTR_EL0.DIC = 0 (IC IVAU no NOP), which access_kinds_cmo.cmow_ic_ivau_el0
    # needs: 10.0.13's max with DIC = 0 (bit 29 of CTR_EL0 clear) stands for such a CPU, so the model checks the case.
    "max-10.0.13-dic0": (0x2100032310201126, 0x110112010312122, 0x1221011112011011, 0x1221111110212120,
                         0x1000000000000000, 0x0, 0x1001000121, 0x111211110211502, 0x110012, 0x4, 0x2000023,
                         0x9444c004),
}

CASES = load_dir(REPO / "cases")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_agrees_with_model(case):
    problems = []
    runs_on = [cpu for cpu, ids in CPUS.items() if not missing(case.requires, *ids)]
    assert runs_on, f"{case.id}: no CPU here meets its requires {case.requires}, so nothing checks it: add one"
    for cpu in runs_on:
        ids = CPUS[cpu]
        for n, (step, outcomes) in enumerate(zip(case.steps, predict_case(case, ids))):
            where = f"{case.id} on {cpu}, step {n} ({describe_step(step)})"
            if any(isinstance(o, Unknown) for o in outcomes):
                problems.append(f"{where}: the model cannot evaluate it: "
                                + "; ".join(describe(o, step.op) for o in outcomes))
            problems += [f"{where}: expects {expected_text(step)}; {p}" for p in expectation_agrees(step, outcomes)]
    assert not problems, "\n".join(problems)
