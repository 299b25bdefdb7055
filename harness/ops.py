"""The steps a case can take, by name: the kernel's probes (loads, stores and fetches of
kernel/probe.S and kernel/el0.S, the AT instructions) and its maintenance operations
(descriptor writes, barriers, TLBIs, register writes).  The names sit beneath both the
case loader (harness/cases/) and the model (harness/model/), which each import them
from here: the model imports nothing of the loader.
"""
import re

from harness import esr
from harness.kdefs import kernel_header, read_defines

# Load-exclusive of one X register (LDXR; LDAXR with acquire) and of a pair of W or X registers (LDXP; LDAXP
# with acquire).
EXCLUSIVE_PAIRS = {"ldxp32": 4, "ldxp64": 8, "ldaxp64": 8}
EXCLUSIVE_LOADS = ("ldxr64", "ldaxr64", *EXCLUSIVE_PAIRS)
# DC ZVA (C5.3.38): a write of zeros to the naturally aligned block holding the VA, of DCZID_EL0.BS's size (so
# no size of its own here: model.translate.zva_block_size), at EL1, EL2 and EL0 (where the case's regime.dze leaves
# SCTLR_EL1.DZE 0, EL0's traps: EC 0x18, harness.esr.SYSTEM_TRAP); no value.
DC_ZERO = {"dc_zva": 0}
# Cache maintenance by VA (DC CIVAC, DC CVAC, DC IVAC: C5.3.21, C5.3.25, C5.3.37; IC IVAU: C5.3.41), each by its
# CacheOp (J1.1.3 AArch64.DC, AArch64.IC): translated (AccessType_DC, AccessType_IC: neither a read nor a write,
# harness/model/permissions.cache_maintenance_permissions), nothing read or written, at EL1 or EL2, and but DC IVAC
# (UNDEFINED there) at EL0 (the kernel sets SCTLR_EL1.UCI, and SCTLR_EL2.UCI in the EL2&0 regime); no value.  A fault's CM and WnR are 1, its FAR the register's VA.
CACHE_MAINT = {"dc_civac": "clean_invalidate", "dc_cvac": "clean", "dc_ivac": "invalidate", "ic_ivau": "ic"}
# The steps that take no value: DC ZVA writes zeros, cache maintenance writes nothing, nor GCSPOPX (GCS_EX_POPS).
NO_VALUE = (*DC_ZERO, *CACHE_MAINT, "gcspopx")
# The System instructions a step runs that a control may trap (EC 0x18: SCTLR_EL1.DZE, HCR_EL2.TDZ, TPCP, TPU), each
# by its encoding (harness.esr), with the register the kernel's probes name (kernel/probe.S, el0.S: x0).
SYSTEM_OPS = {"dc_zva": esr.SYS_DC_ZVA, "dc_civac": esr.SYS_DC_CIVAC, "dc_cvac": esr.SYS_DC_CVAC,
              "dc_ivac": esr.SYS_DC_IVAC, "ic_ivau": esr.SYS_IC_IVAU}
SYSTEM_OP_RT = 0


def system_trap_iss(op):
    """The ISS of the trap of the kernel's `op` (D24.2.45): its encoding, Rt, Direction 0."""
    return esr.system_trap_iss(SYSTEM_OPS[op], SYSTEM_OP_RT)


# Store-exclusive of one X register (STXR; STLXR with release) and of a pair of W or X registers (STXP; STLXP of
# X, with release): a store that writes only where the Exclusives monitors pass, and returns its status in a W
# register (0: written, 1: not; harness/model/exclusives.py).  A pair's by the size of one register, as PAIRS.
EXCLUSIVE_STORE_PAIRS = {"stxp32": 4, "stxp64": 8, "stlxp64": 8}
EXCLUSIVE_STORES = {"stxr64": 8, "stlxr64": 8, **{op: 2 * size for op, size in EXCLUSIVE_STORE_PAIRS.items()}}
# FEAT_LSE atomics of one X register: LDADD and SWP of `value` (Xs), CAS of `value` (Xt) where memory holds
# `compare` (Xs); each returns the old contents (docs/model.md: ATOMIC_RESULT).  Each in its four orderings
# (CreateAccDescAtomicOp's acquire and release): none (ldadd64), A (ldadda64, acquire), L (ldaddl64, release)
# and AL (ldaddal64, both).
ATOMIC_OPS = ("ldadd", "swp", "cas")
ATOMIC_ORDERINGS = {"": (False, False), "a": (True, False), "l": (False, True), "al": (True, True)}
ATOMICS = {f"{base}{order}64": 8 for base in ATOMIC_OPS for order in ATOMIC_ORDERINGS}
# The CAS forms: the only steps that take `compare`.
CAS_OPS = tuple(op for op in ATOMICS if op.startswith("cas"))
# FEAT_LRCPC's load-acquire RCpc of one X register (LDAPR: accdesc.acqpc).
RCPC_LOADS = ("ldapr64",)


def atomic_op(op):
    """The operation of an atomic step, whatever its ordering: ldaddal64 is 'ldadd'."""
    return next(base for base in ATOMIC_OPS if op.startswith(base))


def atomic_ordering(op):
    """(acquire, release) of an atomic step (CreateAccDescAtomicOp): ldaddal64 is (True, True)."""
    return ATOMIC_ORDERINGS[op.removeprefix(atomic_op(op)).removesuffix("64")]


# SIMD&FP loads and stores of one B, H, S, D or Q register (LDR/STR Bt ... Qt; AccessType_ASIMD): a store's `value`
# and a load's up to 128 bits, the register's low bits; no instruction syndrome (not a general-purpose register).
ASIMD_LOADS = {f"vload{8 * size}": size for size in (1, 2, 4, 8, 16)}
ASIMD_STORES = {f"vstore{8 * size}": size for size in (1, 2, 4, 8, 16)}


# Loads and stores by the bytes they move: single registers, pairs (LDP/STP of two W or two X
# registers, the second after the first: a load's value is the two as they lie in memory, a
# store's value both, the first in its low half), load-acquire and store-release (LDAR/STLR),
# load-exclusive, and the atomics (loads that write too: their value is the old contents).
# FEAT_GCS's GCSPOPM (J1.1.3.62: a GCS data access loading the doubleword at GCSPR_ELx, which the kernel points
# at the step's VA) and GCSPUSHM (J1.1.3.64 with J1.1.3.52 AddGCSRecord: storing `value` at GCSPR_ELx - 8, the
# step's VA), run with the Guarded Control Stack enabled at the step's EL (kernel/steps.c run_gcs_enabled).
GCS_POPS = {"gcspopm": 8}
GCS_PUSHES = {"gcspushm": 8}
# FEAT_GCS's GCSSS1 of the step's VA (Xt, the incoming stack's pointer; J1.1.3.67): with GCSPR_ELx the step's
# `value` (the outgoing stack's), a compare-and-swap at the VA of the Valid cap entry for it (VA<63:12>:1)
# with the In-progress cap entry of the outgoing stack (value<63:3>:0b101), then GCSPR_ELx the VA.
GCS_SWITCHES = {"gcsss1": 8}
# FEAT_GCS's GCSSS2 (J1.1.3.68), with GCSPR_ELx the step's VA: a GCS load there of the In-progress cap entry GCSSS1
# left (bits [2:0] 0b101), then a GCS store of the Valid cap entry at the outgoing pointer it names (its bits [63:3]
# less one doubleword), which Xt returns: two accesses, the second at an address the first loads.
GCS_SS2 = {"gcsss2": 8}
LOADS = {"load8": 1, "load16": 2, "load32": 4, "load64": 8, "ldtr64": 8, "ldp32": 8, "ldp64": 16, "ldar64": 8,
         "ldapr64": 8, "ldxr64": 8, "ldaxr64": 8, "ldxp32": 8, "ldxp64": 16, "ldaxp64": 16, **ATOMICS, **ASIMD_LOADS,
         **GCS_POPS, **GCS_SS2}
# FEAT_GCS's exception return records (32 bytes: 0b1001, ELR_ELx, SPSR_ELx, LR from the lowest address up), EL1's
# only (UNDEFINED at EL0): GCSPUSHX stores one below GCSPR_ELx (J1.1.3.65, J1.1.3.51 AddGCSExRecord: LR first, at
# GCSPR - 8, the step's VA, as GCSPUSHM's), GCSPOPX loads one at GCSPR_ELx (the step's VA) and checks its lowest
# doubleword (J1.1.3.63), GCSPOPCX loads it and compares each doubleword (J1.1.3.61, J1.1.3.53 CheckGCSExRecord).
# Each is four GCS accesses of a doubleword, in the order the pseudocode makes them; the kernel runs them with ELR_EL1
# the step's `value`, SPSR_EL1 GCS_EX_SPSR and LR ~value (kernel/probe.S gcs_ex_probe).  Neither pop returns a
# register: both are listed with the stores (GCSPOPCX's `value` is the ELR_EL1 it compares), GCSPOPX with no value.
GCS_EX_PUSHES = {"gcspushx": 8}
GCS_EX_POPS = {"gcspopx": 8, "gcspopcx": 8}
GCS_EX_RECORDS = (*GCS_EX_PUSHES, *GCS_EX_POPS)
GCS_EX_RECORD_BYTES = 32
GCS_EX_MAGIC = 0b1001           # the record's lowest doubleword (AddGCSExRecord: Zeros(60):'1001')
GCS_EX_SPSR = read_defines(kernel_header("sysreg.h"))["GCS_EX_SPSR"]
# FEAT_GCS's Guarded Control Stack stores of one X register (GCSSTR; GCSSTTR, unprivileged): GCS data accesses
# (AccessType_GCS, J1.3.3 CreateAccDescGCS), with no instruction syndrome (AArch64.InstructionSyndromeValid).
GCS_STORES = {"gcsstr": 8, "gcssttr": 8}
STORES = {"store8": 1, "store16": 2, "store32": 4, "store64": 8, "sttr64": 8, "stp32": 8, "stp64": 16, "stlr64": 8,
          **GCS_STORES, **ASIMD_STORES, **GCS_PUSHES, **EXCLUSIVE_STORES, **GCS_SWITCHES, **DC_ZERO, **GCS_EX_PUSHES,
          **GCS_EX_POPS,
          **{op: 0 for op in CACHE_MAINT}}
# What a step returns in a register, by bytes: a load's value, a store-exclusive's status (Ws, 32 bits).
RETURNS = {**LOADS, **{op: 4 for op in EXCLUSIVE_STORES}}
# Every GCS data access the kernel issues (AccessType_GCS); GCSPUSHM and GCSPOPM use GCSPR_ELx, which holds a
# multiple of 8 (bits [2:0] RES0, D24.11.5): their VA is one.
GCS_PUSH_POP = (*GCS_PUSHES, *GCS_POPS)
# The ones that need the Guarded Control Stack enabled at the step's EL (kernel/steps.c run_gcs_enabled).
GCS_ENABLED_OPS = (*GCS_PUSH_POP, *GCS_SWITCHES, *GCS_SS2, *GCS_EX_RECORDS)
# The ones whose VA is where GCSPR_ELx points (or just below it: the pushes), a multiple of 8: all but GCSSS1 (Xt).
GCS_POINTER_OPS = tuple(op for op in GCS_ENABLED_OPS if op not in GCS_SWITCHES)
# The ones whose outcome rests on the memory the steps before them left (a GCS Data Check, GCSSS2's second address).
GCS_MEMORY_OPS = (*GCS_POPS, *GCS_SWITCHES, *GCS_SS2, *GCS_EX_POPS)
GCS_ACCESSES = (*GCS_STORES, *GCS_ENABLED_OPS)
# The unprivileged forms, checked as EL0 from EL1 (LDTR, STTR, GCSSTTR; J1.1.3.98 AArch64.IsUnprivAccessPriv).
UNPRIVILEGED_OPS = ("ldtr64", "sttr64", "gcssttr")
# The pairs, by the size of one register (Mem's alignment unit: AArch64 Mem[] checks an element, not the pair,
# but an exclusive pair's whole access: AccessKind.alignment).
PAIRS = {"ldp32": 4, "ldp64": 8, "stp32": 4, "stp64": 8, **EXCLUSIVE_PAIRS, **EXCLUSIVE_STORE_PAIRS}
# Load-acquire (AccessDescriptor.acqsc; LDAPR's acqpc) and store-release (relsc) of one register.
ACQUIRE_RELEASE = ("ldar64", "stlr64", "ldaxr64", "ldaxp64", "stlxr64", "stlxp64", *RCPC_LOADS)
# at_s1e1a: FEAT_ATS1A's AT S1E1A, stage 1 without permission checks (ATAccess_Any).
AT_OPS = ("at_s1e1r", "at_s1e1w", "at_s1e0r", "at_s1e0w", "at_s1e1rp", "at_s1e1wp", "at_s1e1a")
# What a step may do at EL0 (`el = 0`, kernel/el0.S): plain loads and stores, fetches, and a hang for the harness's tests.
# Not DC IVAC (UNDEFINED at EL0: C5.3.37); DC ZVA traps unless the case's regime.dze sets SCTLR_EL1.DZE.
# Nor GCSPUSHX, GCSPOPX and GCSPOPCX (UNDEFINED at EL0: C5.9.5, C5.9.3, C5.9.1).
EL0_OPS = (*(op for op in (*LOADS, *STORES) if op not in UNPRIVILEGED_OPS and op != "dc_ivac"
             and op not in GCS_EX_RECORDS), "fetch",
           "selftest_hang")
# What a fix-up may retry (kernel/blob.c: the ops up to OP_STTR64): the single-register loads and stores.
RETRYABLE = ("load8", "load16", "load32", "load64", "ldtr64", "store8", "store16", "store32", "store64", "sttr64")
# Two-stage AT, executed at EL2 (kernel/el2.c): only in a case with a stage 2.
AT_S12_OPS = ("at_s12e1r", "at_s12e1w", "at_s12e0r", "at_s12e0w")
# AT of the EL2 regime: only in a case whose steps run at EL2 (`el2`).
AT_S1E2_OPS = ("at_s1e2r", "at_s1e2w", "at_s1e2a")
# FEAT_ATS1A's AT S1E1A and S1E2A: the translation alone, no permission checked (ATAccess_Any).
AT_ANY_OPS = ("at_s1e1a", "at_s1e2a")
ALL_AT_OPS = (*AT_OPS, *AT_S12_OPS, *AT_S1E2_OPS)


def at_aborts(op, expect):
    """Whether an AT step's outcome is an exception instead of PAR_EL1: an AT S1E0*/S1E1* whose
    stage 1 walk faults at stage 2 is taken to EL2 as a Data Abort with CM = 1, WnR = 1, S1PTW = 1,
    FAR_EL2 the VA and HPFAR_EL2 the descriptor's IPA (Arm ARM D8, "Synchronous faults generated
    by address translation instructions"; Linux's __kvm_at runs AT S1E1R under an exception
    fix-up for it).  The kernel's EL2 half resumes the AT probe (kernel/el2.c)."""
    return op in AT_OPS and expect.kind == "fault" and expect.stage == 2


SELFTESTS = {"selftest_brk": "unexpected_exception", "selftest_nested": "nested_exception",
             "selftest_hang": "hang"}
# Steps that change translations (kernel/maint.c): descriptor writes and reads at
# the slot for va at level, barriers, TLB maintenance and register writes.
DESC_WRITES = ("map", "unmap", "protect", "write_desc", "link")
# TLBI operations by the operand they take: (VA, ASID).
TLBI_OPS = {"tlbi_vmalle1": (False, False), "tlbi_vmalle1is": (False, False),
            "tlbi_vae1": (True, True), "tlbi_vae1is": (True, True),
            "tlbi_vale1": (True, True), "tlbi_vale1is": (True, True),
            "tlbi_aside1": (False, True), "tlbi_aside1is": (False, True),
            "tlbi_vaae1": (True, False), "tlbi_vaae1is": (True, False),
            "tlbi_vaale1": (True, False), "tlbi_vaale1is": (True, False),
            # By range of VAs (FEAT_TLBIRANGE): the operand's BaseADDR, NUM, SCALE, TTL and TG.
            "tlbi_rvae1": (True, True), "tlbi_rvae1is": (True, True),
            "tlbi_rvale1": (True, True), "tlbi_rvale1is": (True, True),
            "tlbi_rvaae1": (True, False), "tlbi_rvaae1is": (True, False),
            "tlbi_rvaale1": (True, False), "tlbi_rvaale1is": (True, False),
            # The EL2 regime's (E2H = 0: no ASID), executed at EL2 in a case with `el2`.
            "tlbi_alle2": (False, False), "tlbi_alle2is": (False, False),
            "tlbi_vae2": (True, False), "tlbi_vae2is": (True, False),
            "tlbi_vale2": (True, False), "tlbi_vale2is": (True, False),
            "tlbi_rvae2": (True, False), "tlbi_rvae2is": (True, False),
            "tlbi_rvale2": (True, False), "tlbi_rvale2is": (True, False)}
# FEAT_XS: every TLBI has an nXS form (TLBI VAE1NXS ...; C5.5), the same operand and scope, except that it
# need not remove entries whose XS attribute is 1 (TLBIMatch's TLBI_ExcludeXS; D8.17.5).
NXS = "nxs"
TLBI_OPS.update({op + NXS: operand for op, operand in TLBI_OPS.items()})
TLBI_EL2_OPS = tuple(op for op in TLBI_OPS if op.removesuffix(NXS).endswith(("e2", "e2is")))
RANGE_TLBI = tuple(op for op in TLBI_OPS if op.startswith("tlbi_rva"))
# The last-level forms (VALE1, VAALE1, RVALE1, RVAALE1, VALE2 and IS): only leaf entries need go,
# walk-cache entries may stay.
LAST_LEVEL_TLBI = tuple(op for op in TLBI_OPS if re.match(r"tlbi_r?va+le[12](is)?(nxs)?$", op))
# EL2's TLBI by VA takes an ASID in the EL2&0 regime (HCR_EL2.E2H = 1: bits[63:48], as TLBI VAE1's),
# none in EL2's own (E2H = 0).
TLBI_EL20_ASID_OPS = tuple(op for op in TLBI_EL2_OPS if TLBI_OPS[op][0])


def tlbi_takes_asid(op, host):
    """Whether TLBI op's operand holds an ASID; host: it runs at EL2 in the EL2&0 regime."""
    return TLBI_OPS[op][1] or host and op in TLBI_EL20_ASID_OPS


SYSREG_WRITES = ("set_tcr", "set_mair", "set_sctlr")
# Changing stage 2 (a case with a stage 2 only): descriptor writes and reads at the stage 2
# slot for ipa at level, the TLBIs of EL2 for EL1&0 (executed by the EL2 half) by whether they
# take an IPA, and a VMID switch.
S2_DESC_WRITES = ("s2_map", "s2_unmap", "s2_protect", "s2_write_desc", "s2_link")
S2_TLBI_OPS = {"tlbi_ipas2e1": True, "tlbi_ipas2e1is": True, "tlbi_ipas2le1": True, "tlbi_ipas2le1is": True,
                "tlbi_vmalls12e1": False, "tlbi_vmalls12e1is": False, "tlbi_alle1": False, "tlbi_alle1is": False,
                # By range of IPAs (FEAT_TLBIRANGE): the operand's BaseADDR, NUM, SCALE, TTL and TG, as RVAE1's.
                "tlbi_ripas2e1": True, "tlbi_ripas2e1is": True, "tlbi_ripas2le1": True, "tlbi_ripas2le1is": True}
S2_TLBI_OPS.update({op + NXS: takes_ipa for op, takes_ipa in S2_TLBI_OPS.items()})
S2_RANGE_TLBI = tuple(op for op in S2_TLBI_OPS if op.startswith("tlbi_ripas2"))
# TLBI IPAS2LE1 and RIPAS2LE1 (TLBILevel_Last): need not remove stage 2 table entries (J1.1.3.449 TLBIMatch's
# level_match for TLBIOp_IPAS2; C5.5.24 RIPAS2LE1's prose, "from the leaf level", where the ASL's TLBIOp_RIPAS2
# branch has no level term: the prose is taken, as for the TTL hint, review D10).
S2_LAST_LEVEL_TLBI = tuple(op for op in S2_TLBI_OPS if re.match(r"tlbi_r?ipas2le1(is)?(nxs)?$", op))
NXS_TLBI = tuple(op for op in (*TLBI_OPS, *S2_TLBI_OPS) if op.endswith(NXS))


def tlbi_plain(op):
    """The TLBI an nXS form is of (tlbi_vae1nxs: tlbi_vae1); any other op itself."""
    return op.removesuffix(NXS) if op in NXS_TLBI else op


STAGE2_MAINT_OPS = (*S2_DESC_WRITES, "s2_read_desc", *S2_TLBI_OPS, "set_vmid")
# The key a step's record carries besides result=ok, by op (kernel/steps.c run_access, kernel/maint.c
# run_maint): the register a step returns (a fetch's x0 too), the slot a descriptor write or read leaves.
REPORTED = {**{op: "value" for op in (*RETURNS, "fetch")},
            **{op: "desc" for op in (*DESC_WRITES, "read_desc", *S2_DESC_WRITES, "s2_read_desc")}}
MAINT_OPS = (*DESC_WRITES, "read_desc", "dsb", "isb", *TLBI_OPS, "set_ttbr0", "set_ttbr1", *SYSREG_WRITES,
             *STAGE2_MAINT_OPS)
OPS = (*LOADS, *STORES, "fetch", *AT_OPS, *AT_S12_OPS, *AT_S1E2_OPS, *SELFTESTS, *MAINT_OPS)

# The value the planted fetch stub returns in x0 (kernel/probe.h: MOVZ X0, #FETCH_MAGIC; RET).
FETCH_MAGIC = read_defines(kernel_header("probe.h"))["FETCH_MAGIC"]

# The instruction each single-register load and store probe executes (kernel/probe.S,
# kernel/el0.S), no writeback: loads `LDRB/LDRH/LDR w0`, `LDR/LDTR/LDAR x0`, stores
# `STRB/STRH/STR w1`, `STR/STTR/STLR x1`, all `[x0]`.  What LSInstructionSyndrome (Arm ARM
# J1.3.3.11) reports of each when ISV = 1: (SAS: log2 of the size, SSE, SRT, SF, AR: acquire or
# release).  Pairs, exclusives and atomics have none: ESR_ELx.ISV is 1 only for a load or store of
# a single general-purpose register, "excluding Load Exclusive or Store Exclusive" (D24.2.46, ISV), nor GCS accesses
# nor SIMD&FP loads and stores (their register is not a general-purpose one).
LS_SYNDROME_FIELDS = ("SAS", "SSE", "SRT", "SF", "AR")
LS_SYNDROME = {
    **{op: (size.bit_length() - 1, 0, 0, int(size == 8), int(op in ACQUIRE_RELEASE))
       for op, size in LOADS.items()
       if op not in PAIRS and op not in EXCLUSIVE_LOADS and op not in ATOMICS and op not in ASIMD_LOADS
       and op not in GCS_ACCESSES},
    **{op: (size.bit_length() - 1, 0, 1, int(size == 8), int(op in ACQUIRE_RELEASE))
       for op, size in STORES.items()
       if op not in PAIRS and op not in GCS_ACCESSES and op not in ASIMD_STORES and op not in EXCLUSIVE_STORES
       and op not in NO_VALUE},
}


def describe_syndrome(syndrome):
    """An instruction syndrome (LS_SYNDROME's form) as ESR_ELx names it: 'SAS=3 SSE=0 SRT=0 SF=1 AR=0'."""
    return " ".join(f"{name}={value}" for name, value in zip(LS_SYNDROME_FIELDS, syndrome))
