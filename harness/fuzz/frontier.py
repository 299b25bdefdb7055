"""Draws of the frontier features for generated cases (issue 19): stage 1 permission indirection
(FEAT_S1PIE: TCR2_ELx.PIE, PIR_ELx and PIRE0_ELx, every encoding, GCS's 0b1001 and the reserved
ones included), AttrIndx[3] with MAIR2_ELx (FEAT_AIE), and the GCS data accesses (FEAT_GCS: GCSSTR and
GCSSTTR, drawn by generate.access_ops as any op the CPU has, and GCSPUSHM, GCSPOPM, GCSSS2 and the exception
return records, drawn here only, on the GCS pages PIE makes here).

Each draw takes random numbers only on a CPU with its feature, so a campaign on a CPU without
them (QEMU 7.2.22's, 10.0.x's) draws exactly the cases it drew before.  The model judges them
as the hand-written cases (harness/model/indirect.py, permissions.py; cases/pie.toml, aie.toml,
gcs.toml), and a rerun on a CPU without the features skips them (their `requires`)."""
from dataclasses import replace

from harness.cases.translation import KERNEL_PI
from harness.ops import GCS_POINTER_OPS, GCS_STORES

# What draw_op adds to the GCS stores where the steps' Guarded Control Stack is EL1's and EL0's: every op at
# GCSPR_ELx's VA (GCSPUSHM, GCSPOPM, GCSSS2, GCSPUSHX, GCSPOPX, GCSPOPCX); GCSSS2 then stores at whatever
# In-progress cap entry the memory holds (most often none: its GCS Data Check).
GCS_STACK_DRAWS = GCS_POINTER_OPS

PIE_SHARE = 0.3         # regimes with TCR2_ELx.PIE, on a CPU with FEAT_S1PIE
AIE_SHARE = 0.25        # regimes with TCR2_ELx.AIE, on a CPU with FEAT_AIE
AIE_HIGH_SHARE = 0.3    # with AIE, mappings whose AttrIndx is 8-15 (MAIR2_ELx)
GCS_OP_SHARE = 0.3      # with PIE on a CPU with FEAT_GCS, accesses that are GCS stores
GCS = 0b1001            # the GCS encoding (J1.1.4.30): drawn more often than the others
# The PIR/PIRE0 encodings (J1.1.4.30), by weight: the GCS one often, so that GCS stores meet GCS pages;
# read/write, read/execute and no access often too; the reserved ones (0b0100, 0b1011, 0b1101, 0b1111) now and then.
ENCODING_WEIGHTS = {GCS: 10, 0b0101: 3, 0b0011: 2, 0b0001: 2, 0b0000: 2, 0b0111: 2, 0b0110: 1, 0b0010: 1,
                    0b1000: 1, 0b1010: 1, 0b1100: 1, 0b1110: 1, 0b0100: 1, 0b1011: 1, 0b1101: 1, 0b1111: 1}


def _pi_register(rng, kernel):
    """A PIR or PIRE0 value: a drawn encoding at every index but the kernel's own (kernel: index ->
    the encoding its mappings need, harness/cases/translation.py KERNEL_PI)."""
    encodings, weights = list(ENCODING_WEIGHTS), list(ENCODING_WEIGHTS.values())
    value = 0
    for index in range(16):
        encoding = kernel[index] if index in kernel else rng.choices(encodings, weights)[0]
        value |= encoding << 4 * index
    return value


def draw_regime(rng, cpu, mode, regime, mair_byte):
    """regime with PIE (and PIR, PIRE0) and AIE (and MAIR2, each byte by mair_byte(rng) as MAIR's)
    drawn where the CPU has them, in every mode; the EL2 regime has no EL0 (PIRE0 unused)."""
    el2 = mode if mode in ("nvhe", "vhe") else None
    if cpu.has("FEAT_S1PIE") and rng.random() < PIE_SHARE:
        kernel = KERNEL_PI[el2]
        pire0 = _pi_register(rng, kernel["pire0"]) if mode != "nvhe" else 0
        regime = replace(regime, pie=True, pir=_pi_register(rng, kernel["pir"]), pire0=pire0)
    if cpu.has("FEAT_AIE") and rng.random() < AIE_SHARE:
        regime = replace(regime, aie=True, mair2=sum(mair_byte(rng) << 8 * idx for idx in range(8)))
    return regime


def draw_op(rng, layout, ops):
    """A GCS data access, often, in a regime with PIE, whose GCS pages only they may write: a GCS store
    among ops (generate.access_ops: those the CPU has and the mode allows), or GCSPUSHM, GCSPOPM, GCSSS2 or an
    exception return record's push or pop where the Guarded Control Stack of EL1 and EL0 is the one the steps
    use (no EL2 regime, no stage 2: cases/validation.py); None: draw as for any case."""
    gcs = [op for op in ops if op in GCS_STORES]
    if gcs and layout.regime.pie and rng.random() < GCS_OP_SHARE:
        if layout.mode not in ("nvhe", "vhe", "stage2"):
            gcs += GCS_STACK_DRAWS
        return rng.choice(gcs)
    return None


def draw_attrindx(rng, regime, attrindx):
    """A mapping's AttrIndx: with AIE sometimes one of MAIR2's (8-15: AttrIndx[3], descriptor bit 59)."""
    if regime.aie and rng.random() < AIE_HIGH_SHARE:
        return attrindx | 8
    return attrindx
