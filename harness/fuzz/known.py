"""Known QEMU bugs, as the suite marks them, and which mismatch each explains.

A known bug is a `[bug.<name>]` table of a case file (its QEMU version range
and reason are read from there, so the marks stay in one place) together
with the model changed to do what that QEMU does: one ASL function replaced
(AArch64.BlockDescSupported accepting a block where the architecture does
not, PAREncodeShareability passing the descriptor's SH through,
AArch64.S1HasAlignmentFault never faulting Device memory, __FetchInstr
translating the fetch before it checks the PC's alignment, the TLBI
instructions' regime).  A mismatch
is explained by a bug when its QEMU is in the bug's range, the changed model
allows what was observed and the model itself does not: a check, not a
pattern match on fault codes.  Where one bug does not explain a step, pairs
of bugs are tried, and so on: the report names the fewest that do; an answer
is computed only where a bug can change it (fewest_explaining).
tests/test_fuzz_known.py checks that each change does turn the model's answer
into QEMU's on the case the suite marks.
"""
import contextlib
import itertools
import signal
import threading
from dataclasses import dataclass, fields, replace
from functools import cache
from unittest import mock

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

# The model's modules, whose functions a known bug replaces.
import harness.model.descriptors as descriptors  # isort: skip
import harness.model.exclusives as exclusives  # isort: skip
import harness.model.indirect as indirect  # isort: skip
import harness.model.permissions as permissions  # isort: skip
import harness.model.registers as registers  # isort: skip
import harness.model.translate as translate  # isort: skip
import harness.model.walk as walk  # isort: skip
import harness.model.stage2 as stage2  # isort: skip
import harness.model.tlb as tlb  # isort: skip
import harness.predict as predict_module  # isort: skip
from harness import esr, geometry, par
from harness.cases import AT_OPS, AT_S12_OPS, LAYOUT, LOADS
from harness.ops import ATOMICS, DC_ZERO, EXCLUSIVE_STORES, LS_SYNDROME
from harness.kdefs import REPO
from harness.errors import HarnessError
from harness.model import Abort, Outcomes, UnknownMemory
from harness.predict import predict_case
from harness.model.attributes import DEVICE_TYPES, NC, WB, WT, MemAttrs
from harness.model.registers import IPS_BITS, REGIME_EL2, REGIME_EL20
from harness.oracle import observation_allowed, unjudged
from harness.model.outcome import Completes, Par, Unknown, abort_class
from harness.par import SH_NAMES
from harness.versions import in_range


def _isv_for_stage1_aborts_taken_to_el2():
    """AArch64.InstructionSyndromeValid, but also TRUE for a stage 1 Data Abort of an access at
    EL2 (the EL2 and EL2&0 regimes' own faults; EL0's under TGE have ISV = 0 as they must): ISV = 1
    with the load's or store's syndrome, on either page of an access that crosses pages (7.2.22
    reports it for a fault on the second page too: harness.fuzz seed 20261201, case 150)."""
    original = stage2.instruction_syndrome

    def instruction_syndrome(regs, access, outcome):
        if (isinstance(outcome, Abort) and outcome.stage == 1 and outcome.fsc is not None
                and regs.regime in (REGIME_EL2, REGIME_EL20) and access.el != 0 and access.op in LS_SYNDROME):
            return replace(outcome, syndrome=LS_SYNDROME[access.op])
        return original(regs, access, outcome)
    return [(stage2, "instruction_syndrome", instruction_syndrome)]


def _blocks_also_at(granule, levels):
    """AArch64.BlockDescSupported, but also true for `levels` of `granule` whatever DS and the PA size say."""
    original = descriptors.block_desc_supported

    def block_desc_supported(params, level):
        return original(params, level) or params.granule == granule and level in levels
    return [(descriptors, "block_desc_supported", block_desc_supported)]


def _level_minus1_faults_abort():
    """Where the block QEMU 7.2.22 takes at level -1 gives an Access flag or Permission fault, which
    has no fault status code at level -1, QEMU itself aborts (assertion in arm_fi_to_lfsc): the
    fault's encoding, asked for while this variant is in force, ends the run (QemuAborts)."""
    original = esr.fault_status

    def fault_status(cls, level):
        if level == -1 and cls in ("access_flag", "permission"):
            raise QemuAborts(f"a {cls} fault at level -1")
        return original(cls, level)
    return [(esr, "fault_status", fault_status)]


def _descriptor_shareability():
    """PAREncodeShareability, but reporting the descriptor's shareability for every memory type."""
    return [(translate, "par_encode_shareability", lambda memattrs, shareability: shareability)]


def _ds_drops_oa_51_50(stage):
    """The descriptors' output and table addresses of a stage (the module that walks it: walk for
    stage 1, stage2), but with DS = 1 and an OA size below 52 bits OA[51:50] (bits[9:8]) left
    out: the address is taken without them, so they make no Address size fault."""
    original = stage.desc_oa

    def desc_oa(params, desc, lsb):
        oa = original(params, desc, lsb)
        return oa & ((1 << 50) - 1) if params.ds and params.oasize < 52 else oa
    return [(stage, "desc_oa", desc_oa)]


def _lpa_only_with_a_52_bit_oa_size():
    """Descriptor bits[15:12] of the 64K granule read as OA[51:48] only where the OA size (IPS, PS)
    is 52 bits, not wherever PAMax is (AArch64.S1LeafBase, AArch64.NextTableBase): below it they
    are left out of the address, so they make no Address size fault."""
    original = walk.lpa_choices

    def lpa_choices(params):
        return (False,) if params.granule == 16 and params.oasize < 52 else original(params)
    return [(module, "lpa_choices", lpa_choices) for module in (translate, stage2)]


def _block_oa_checked_whole():
    """AArch64.S1Walk's output address check, but made on the descriptor's whole OA field, bits
    below the block size included (AArch64.BlockBase leaves them out); the translation still
    uses the block base."""
    original = walk.desc_oa

    def desc_oa(params, desc, lsb):
        whole = original(params, desc, params.granule)
        return whole if walk.oa_out_of_range(params, whole) else original(params, desc, lsb)
    return [(walk, "desc_oa", desc_oa)]


def _lse2_alignment_fault_as_a_write():
    """Mem's Alignment fault of an exclusive or atomic access that leaves its aligned 16-byte
    quantity (AArch64.UnalignedAccessFaults with FEAT_LSE2), but reported with WnR = 1 as a write's,
    for LDXR as for LDADD, with SCTLR_ELx.A = 1 too (harness.fuzz seed 1, case 34 on 11.1.3; within
    the 16 bytes SCTLR_ELx.A's fault has WnR = 0); AlignmentFault's FaultRecord has NoFault's write,
    !read && write: 0."""
    original = translate._abort

    def _abort(acc, el, far, piece, updates):
        outcome = original(acc, el, far, piece, updates)
        across = (piece.rule == permissions.ATOMIC_16_RULE or piece.rule == permissions.ALIGNMENT_RULE
                  and (acc.exclusive or acc.atomic) and not permissions.all_in_aligned_quantity(far, acc.size, 16))
        return replace(outcome, wnr=True) if across else outcome
    return [(translate, "_abort", _abort)]


def _s2_device_alignment_at_stage1():
    """AArch64.S2HasAlignmentFaultDueToMemType's Alignment fault, but taken as stage 1's: to EL1,
    without the IPA (QEMU checks the alignment of the two stages' combined Device type and reports
    it as the access's own fault)."""
    original = stage2._s2_abort

    def _s2_abort(acc, far, fault, s1ptw, pamax, updates=()):
        outcome = original(acc, far, fault, s1ptw, pamax, updates)
        if acc.at or fault.fsc != esr.fault_status("alignment", None):
            return outcome
        return Abort(ec=abort_class(acc.fetch, 0 if acc.el0 else 1), fsc=outcome.fsc, wnr=outcome.wnr,
                     s1ptw=False, far=far, rule=outcome.rule, updates=updates)
    return [(stage2, "_s2_abort", _s2_abort)]


def _ldapr_without_alignment_check():
    """Mem's alignment check (AArch64.UnalignedAccessFaults), but with no branch for LDAPR's acqpc: an
    unaligned LDAPR is an Alignment fault only where SCTLR_ELx.A enforces alignment."""
    original = translate.check_alignment

    def check_alignment(params, acc, va):
        if acc.acqpc and not params.a:
            return va % acc.alignment == 0, (False,), ""
        return original(params, acc, va)
    return [(translate, "check_alignment", check_alignment)]


def _store_exclusive_monitor_before_alignment():
    """AArch64.ExclusiveMonitorsPass, but with the monitors checked before the alignment: an unaligned
    store-exclusive that the monitors fail returns status 1 and writes nothing, where
    AArch64.UnalignedAccessFaults' Alignment fault comes first."""
    original = exclusives.store_exclusive

    def store_exclusive(translated, before, monitor):
        outcomes = original(translated, before, monitor)
        if not before:
            return outcomes
        kept = {o for o in outcomes if not (isinstance(o, Abort) and replace(o, syndrome=None) in before)}
        return Outcomes(kept | {exclusives.NOT_TRANSLATED}, outcomes.rule)
    return [(predict_module, "store_exclusive", store_exclusive)]


def _dc_zva_without_the_device_alignment_fault():
    """AArch64.S1HasAlignmentFaultDueToMemType and its stage 2 twin without AccessType_DCZero's branch: DC ZVA to
    Device memory is made (zeros written) or takes the write's Permission fault, where it is an Alignment fault."""
    original = permissions.s1_has_alignment_fault

    def has_alignment_fault(acc, aligned, memattrs, wb_cached):
        return original(replace(acc, dczero=False), True if acc.dczero else aligned, memattrs, wb_cached)
    return [(translate, "s1_has_alignment_fault", has_alignment_fault),
            (stage2, "s2_has_alignment_fault", has_alignment_fault)]


def _implied_pxn_from_the_descriptor_ap():
    """AArch64.S1DirectBasePermissions, but "EL0 can write it, so EL1 cannot execute it" judged on
    the descriptor's AP[2:1] alone: a writable-clean page (DBM = 1, HA = HD = 1, AP[2] = 1) is
    writable, yet executable at EL1 as its AP says it is read-only."""
    original = permissions.s1_direct_base_permissions

    def s1_direct_base_permissions(params, walk, el0, pan=False):
        perms = original(params, walk, el0, pan)
        clean = original(params, replace(walk, desc=walk.desc & ~descriptors.DESC_DBM.mask), el0, pan)
        return replace(perms, x=clean.x)
    return [(permissions, "s1_direct_base_permissions", s1_direct_base_permissions)]


def _at_write_without_the_dirty_state():
    """AArch64.S1CheckPermissions, but an AT write judged on AP[2] as written, without the hardware
    dirty state: AT S1E1W on a writable-clean page (DBM = 1, HA = HD = 1, AP[2] = 1) a Permission
    fault, where AArch64.S1DirectBasePermissions lets the walk state permit the write."""
    original = translate.s1_check_permissions

    def s1_check_permissions(params, walk, acc, memattrs, pan=False):
        if acc.at and acc.write:
            walk = replace(walk, desc=walk.desc & ~descriptors.DESC_DBM.mask)
        return original(params, walk, acc, memattrs, pan)
    return [(translate, "s1_check_permissions", s1_check_permissions)]


def _at_write_makes_the_dirty_update():
    """AArch64.S1Translate's descriptor updates, but an AT write through a writable-clean page
    (DBM = 1, HA = HD = 1, AP[2] = 1) makes the dirty state update, AP[2] cleared, as a store does."""
    original = translate._updates

    def _updates(params, walk, acc, fault_class):
        if acc.at and acc.write and params.ha and params.hd and descriptors.DESC_DBM.get(walk.desc) \
                and descriptors.DESC_AP.get(walk.desc) & descriptors.AP2:
            dirty = walk.desc & ~(descriptors.AP2 << descriptors.DESC_AP.shift)
            return translate.hw_update_choices(walk.desc_pa, walk.desc, params.ha, dirty, acc, fault_class)
        return original(params, walk, acc, fault_class)
    return [(translate, "_updates", _updates)]


def _pie_ndirty_only_with_bit_51():
    """AArch64.S1CheckPermissions and AArch64.S1Translate under PIE, but nDirty (descriptor bit 7)
    counted as the dirty state only where bit 51 is 1, as DBM is in the direct scheme: through a
    descriptor with bit 51 = 0 a write to a clean location (nDirty = 1) is made with neither the
    Permission fault of the dirty state (TCR_ELx.HD = 0) nor the update (HA = HD = 1)."""
    check, updates = permissions._s1_check_indirect, translate._updates

    def counts(params, walk):
        return not (params.pie and not descriptors.DESC_DBM.get(walk.desc))

    def _s1_check_indirect(params, walk, acc, memattrs, pan):
        if not counts(params, walk):
            walk = replace(walk, desc=walk.desc & ~indirect.DESC_NDIRTY.mask)
        return check(params, walk, acc, memattrs, pan)

    def _updates(params, walk, acc, fault_class):
        return updates(params if counts(params, walk) else replace(params, hd=False), walk, acc, fault_class)
    return [(permissions, "_s1_check_indirect", _s1_check_indirect), (translate, "_updates", _updates)]


def _pie_dirty_state_on_a_writing_walk_only():
    """AArch64.S1CheckPermissions under PIE, but the dirty state's Permission fault (a write to a clean
    location, nDirty = 1, with TCR_ELx.HD = 0) taken only by a write that walks the tables itself: where
    QEMU's TLB holds the page from a read (an entry an earlier load or read left, which the model's TLB
    may hold: a leaf entry usable for the VA; and always for an atomic, which QEMU translates as a read
    first: atomic_read_first), the write completes through that entry (harness.fuzz seed 1, cases 600,
    1059 and 1558 on 11.1.3: LDADDAL, SWPAL with descriptor bit 51 = 1)."""
    check, original = permissions._s1_check_indirect, predict_module._access_outcomes

    def unchecked(params, walk, acc, memattrs, pan):
        if acc.write and not acc.at and not acc.gcs:
            walk = replace(walk, desc=walk.desc & ~indirect.DESC_NDIRTY.mask)
        return check(params, walk, acc, memattrs, pan)

    def _access_outcomes(tlb, access):
        try:
            held = access.op in ATOMICS or any(leaf for _, leaf, _ in tlb.usable_entries(access.va))
        except stage2.WalkS2Uncertain:
            held = False
        if not held:
            return original(tlb, access)
        with mock.patch.object(permissions, "_s1_check_indirect", unchecked):
            through = original(tlb, access)
        outcomes = original(tlb, access)
        return through if access.op in ATOMICS else Outcomes(set(outcomes) | set(through), outcomes.rule)
    return [(predict_module, "_access_outcomes", _access_outcomes)]


def _pie_at_ignores_ndirty():
    """AArch64.S1CheckPermissions under PIE, but an AT's write (AT S1E1W, S1E2W) not checked against
    the dirty state: nDirty (descriptor bit 7) is taken as clear for it, so the AT translates where a
    store to the same location takes the dirty state's Permission fault (TCR_ELx.HD = 0)."""
    check = permissions._s1_check_indirect

    def _s1_check_indirect(params, walk, acc, memattrs, pan):
        if acc.at and acc.write:
            walk = replace(walk, desc=walk.desc & ~indirect.DESC_NDIRTY.mask)
        return check(params, walk, acc, memattrs, pan)
    return [(permissions, "_s1_check_indirect", _s1_check_indirect)]


def _s2pie_dirty_ignored():
    """AArch64.S2CheckPermissions and AArch64.S2Translate under S2PIE, but the Dirty bit (descriptor
    bit 7) ignored: a write S2PIR permits is made whatever the bit, with neither the Permission fault
    of the dirty state (VTCR_EL2.HD = 0) nor the update setting it (HA = HD = 1)."""
    permits, updates = stage2.s2_permits, stage2._s2_updates

    def s2_permits(params, desc, acc):
        return permits(params, desc | indirect.DESC_S2DIRTY.mask if params.s2pie else desc, acc)

    def _s2_updates(params, leaf, acc, fault_class):
        return updates(replace(params, hd=False) if params.s2pie else params, leaf, acc, fault_class)
    return [(stage2, "s2_permits", s2_permits), (stage2, "_s2_updates", _s2_updates)]


def _pie_pan_ignores_reserved_pire0():
    """AArch64.S1IndirectBasePermissions, but PSTATE.PAN takes EL1's read and write only where PIRE0's
    encoding at the index is neither 0b0000 nor reserved (0b0100, 0b1011, 0b1101, 0b1111): the ASL's
    test is the encoding itself, permissions.upi != '0000'."""
    original = permissions.s1_indirect_base_permissions

    def s1_indirect_base_permissions(pir, pire0, desc, unprivileged, el0, pan):
        upi = indirect.pir_field(pire0, indirect.pi_index(desc)) if unprivileged else 0
        return original(pir, pire0, desc, unprivileged, el0, pan and not indirect.s1_indirect(upi).reserved)
    return [(permissions, "s1_indirect_base_permissions", s1_indirect_base_permissions)]


def _aie_keeps_hierarchical_permissions():
    """AArch64.S1TTWParamsEL10 (EL2, EL20), but TCR2_ELx.AIE = 1 leaves walkparams.hpd as TCR_ELx.HPDn
    says: the table descriptors' APTable, PXNTable and UXNTable still apply (R_MJGNV: AIE disables
    them, as PIE does)."""
    original = translate.walk_params

    def walk_params(regs, upper):
        params = original(regs, upper)
        if params.aie and not params.pie:
            return replace(params, hpd=original(replace(regs, tcr2=regs.tcr2 & ~registers.TCR2_AIE.mask), upper).hpd)
        return params
    return [(translate, "walk_params", walk_params), (predict_module, "walk_params", walk_params)]


def _s2_at_write_makes_the_dirty_update():
    """AArch64.S2Translate's descriptor updates, but an AT write through a writable-clean stage 2
    page (DBM = 1, VTCR_EL2.HA = HD = 1, S2AP[1] = 0) sets S2AP[1], as a store does."""
    original = stage2._s2_updates

    def _s2_updates(params, leaf, acc, fault_class):
        if acc.at and acc.write and params.ha and params.hd and descriptors.DESC_DBM.get(leaf.desc) \
                and not leaf.desc & stage2.S2AP_W:
            return translate.hw_update_choices(leaf.desc_pa, leaf.desc, params.ha, leaf.desc | stage2.S2AP_W, acc,
                                               fault_class)
        return original(params, leaf, acc, fault_class)
    return [(stage2, "_s2_updates", _s2_updates)]


def _s2_at_write_without_the_dirty_state():
    """AArch64.S2CheckPermissions, but an AT write judged on S2AP[1] as written, without the
    hardware dirty state: AT S12E1W through a writable-clean stage 2 page a Permission fault."""
    original = stage2.s2_permits

    def s2_permits(params, desc, acc):
        if acc.at and acc.write:
            desc &= ~descriptors.DESC_DBM.mask
        return original(params, desc, acc)
    return [(stage2, "s2_permits", s2_permits)]


def _at_s12_permission_fault_aborts():
    """AArch64.AT_S12 (AT S12E1R/W, S12E0R/W), but QEMU ends the run where stage 2 gives the final
    IPA a Permission fault (QemuAborts), rather than report it in PAR_EL1."""
    original = predict_module.full_translate

    def full_translate(regs, memory, access, s2=None):
        outcomes = original(regs, memory, access, s2)
        if access.op in AT_S12_OPS and any(isinstance(o, Par) and par.PAR_F.get(o.value) and par.PAR_S.get(o.value)
                                             and esr.decode_fsc(par.PAR_FST.get(o.value))[0] == "permission"
                                             for o in outcomes):
            raise QemuAborts(f"{access.op}: a stage 2 Permission fault")
        return outcomes
    return [(predict_module, "full_translate", full_translate)]


def _atomic_translated_as_a_read_first():
    """J1.1.3.112 Mem with an atomic's AccessDescriptor (a read and a write at once), but QEMU
    translates the atomic first as a read of its size through both stages and reports that read's
    abort (WnR = 0, no instruction syndrome: as the exclusive load ldxr64 of the same size) before
    stage 1 checks the write; an atomic whose read translates is then translated again as a write,
    whose abort QEMU reports with WnR = 1 whatever the fault (a Translation fault too, where
    NoFault's write is FALSE for an atomic).  Where the read may either translate or abort (a
    descriptor write not yet seen by every walk, a stale TLB entry), either may happen: the read's
    aborts and the atomic's outcomes (seed 20261201, case 544: a stage 2 unmap without a DSB; case
    1142: a stage 1 unmap without a TLBI, QEMU's TLB still holding the page for reads only, the
    write's fresh walk then a Translation fault with WnR = 1)."""
    original = stage2._stages      # beneath full_translate, whichever module calls it (predict, tlb)

    def _stages(regs, memory, access, s2=None, s1_tables=()):
        if access.op not in ATOMICS:
            return original(regs, memory, access, s2, s1_tables)
        read = original(regs, memory, replace(access, op="ldxr64"), s2, s1_tables)
        aborts = {o for o in read if isinstance(o, Abort)}
        if read and len(aborts) == len(read):
            return read
        atomic = original(regs, memory, access, s2, s1_tables)
        written = {replace(o, wnr=True) if isinstance(o, Abort) and o.wnr is False else o for o in atomic}
        return Outcomes(aborts | set(atomic) | written,
                        "; ".join(r for r in dict.fromkeys((read.rule, atomic.rule)) if r) or None)

    original_access = predict_module._access_outcomes     # the TLB's entries and the walks, together

    def _access_outcomes(tlb, access):
        # The read may complete through an entry QEMU's TLB holds for reads (a stale one) while the
        # write's own walk, of the tables as they are, faults: that fault with WnR = 1.
        outcomes = original_access(tlb, access)
        if access.op in ATOMICS:
            read = original_access(tlb, replace(access, op="ldxr64"))
            if any(not isinstance(o, (Abort, Unknown)) for o in read):
                return Outcomes(set(outcomes) | {replace(o, wnr=True) for o in outcomes
                                                 if isinstance(o, Abort) and o.wnr is False},
                                outcomes.rule)
        return outcomes
    return [(stage2, "_stages", _stages), (predict_module, "_access_outcomes", _access_outcomes)]


def _reserved_shareability_reported():
    """DecodeShareability, but SH[1:0] = 0b01 kept as it is (not one of the valid values), and
    PAR_EL1.SH then reporting 0b01."""
    return [(translate, "decode_shareability", lambda sh: (SH_NAMES[sh],)),
            (translate, "SH_CODES", {name: code for code, name in SH_NAMES.items()})]


def _pc_alignment_after_the_fetch():
    """__FetchInstr, but translating the fetch before AArch64.CheckPCAlignment: the
    translation's fault wins; only a fetch that would complete is a PC alignment fault."""
    def check_pc_alignment(pc, fetch):
        outcomes = fetch()
        if not pc & 0b11:
            return outcomes
        return Outcomes({o if isinstance(o, Abort) else translate.pc_alignment_fault(pc) for o in outcomes},
                        outcomes.rule)
    return [(translate, "check_pc_alignment", check_pc_alignment)]


def _s1ptw_reports_the_stage1_level():
    """A stage 2 fault on a stage 1 descriptor read, but reporting the level of the stage 1 table
    being read instead of the stage 2 walk's level (AArch64.S2Walk's fault.level)."""
    original = translate.s1_walk

    def s1_walk(params, memory, va, txsz):
        level = [walk.s1_start_level(params.granule, txsz)]

        class LevelOfEachRead:
            def read64(self, pa):
                try:
                    return memory.read64(pa)
                except stage2.WalkFaultedAtStage2 as e:
                    cls, _ = esr.decode_fsc(e.results[0].fault.fsc)
                    raise stage2.WalkFaultedAtStage2([replace(r, fault=replace(r.fault, fsc=esr.fault_status(
                        cls, level[0]))) for r in e.results]) from None
                finally:
                    level[0] += 1
        return original(params, LevelOfEachRead(), va, txsz)
    return [(translate, "s1_walk", s1_walk)]


def _fwb_device_type_of_stage2():
    """S2ApplyFWBMemAttrs giving a stage 2 Device MemAttr's type alone, not the more restrictive of
    the two stages' Device types (S2CombineS1Device)."""
    original = stage2.s2_apply_fwb_mem_attrs

    def s2_apply_fwb_mem_attrs(s1, memattr):
        if not memattr & 0b1100 and not s1.reserved:
            return MemAttrs(device=DEVICE_TYPES[memattr & 0b11])
        return original(s1, memattr)
    return [(stage2, "s2_apply_fwb_mem_attrs", s2_apply_fwb_mem_attrs)]


def _s2_write_through_drops_the_transient_hint():
    """S2CombineS1MemAttrs' cacheability, but stage 2 Write-Through over stage 1 Write-Back made
    non-transient (stage 1's allocation hints kept)."""
    original = stage2._combine_cacheability

    def combine_cacheability(s1, s2):
        out = original(s1, s2)
        return (WT, out[1], False) if out[0] == WT and s1[0] == WB else out
    return [(stage2, "_combine_cacheability", combine_cacheability)]


def _device_over_normal_nc_as_ngnre():
    """S2CombineS1MemAttrs, but stage 1 Device-nGRE or GRE under stage 2 Normal with an inner
    Non-cacheable MemAttr made Device-nGnRE (as if that MemAttr were a Device type)."""
    original = stage2.s2_combine_mem_attrs

    def s2_combine_mem_attrs(s1, s2):
        out = original(s1, s2)
        if (s1.is_device and not s2.is_device and not s2.reserved and s2.inner[0] == NC
                and out.device in ("nGRE", "GRE")):
            return MemAttrs(device="nGnRE")
        return out
    return [(stage2, "s2_combine_mem_attrs", s2_combine_mem_attrs)]


def _fwb_memattr_0100_as_device():
    """S2ApplyFWBMemAttrs, but MemAttr 0b0100 giving Device-nGnRnE."""
    original = stage2.s2_apply_fwb_mem_attrs

    def s2_apply_fwb_mem_attrs(s1, memattr):
        if memattr == 0b0100 and not s1.reserved:
            return MemAttrs(device=DEVICE_TYPES[0])
        return original(s1, memattr)
    return [(stage2, "s2_apply_fwb_mem_attrs", s2_apply_fwb_mem_attrs)]


@dataclass(frozen=True)
class _RefusedS2Params(stage2.S2Params):
    """A stage 2 geometry QEMU 7.2.22 refuses (_s2_geometry_bounded_by_ps): every walk under it faults."""


def _s2_geometry_bounded_by_ps():
    """AArch64.S2Translate's checks of VTCR_EL2 before the walk (J1.1.4.40 AArch64.S2InvalidSL, J1.1.4.38
    AArch64.S2InconsistentSL, the IPA bound of T0SZ alone: D8.1.10 bounds the IPA size by the implemented PA
    size, never by VTCR_EL2.PS), but as QEMU 7.2.22 makes them: it also faults every stage 2 translation at
    level 0 (a Translation fault) where the IPA size (64 - T0SZ) or the start level's least PA size (4K
    level 0: 44 bits, level -1: 52; 16K and 64K level 1: 42 and 44) is above VTCR_EL2.PS, where the walk
    starts at level -1 with an IPA below 52 bits (T0SZ 13 to 15), and for the 16K granule's SL0 = 3
    (level 0, DS).  Under the case's own stage 2 the kernel's instruction fetch (its code at IPA = PA)
    faults first: the case stops with the kernel's exception record before its first step
    (KernelFaultsAtStage2).  Under an AT S12's own VTCR_EL2 (`under`, kernel/el2.c at_s12_under) it is the
    AT's: the stage 2 translation of its stage 1 walk's first read, PAR_EL1 with F = 1, S = 1, PTW = 1."""
    original = stage2.s2_params
    original_under = predict_module._under_outcomes
    under = []          # whether an AT's own VTCR_EL2 is being translated (_under_outcomes)

    def refused(params, vtcr):
        sl0, sl2 = stage2.VTCR_SL0.get(vtcr), params.granule == 12 and params.start == -1
        ps_bits, ipa_bits = IPS_BITS.get(stage2.VTCR_PS.get(vtcr), 52), 64 - params.t0sz
        return (ipa_bits > ps_bits or (geometry.s2_sl_min_pa_bits(params.granule, sl0, sl2) or 0) > ps_bits
                or params.start == -1 and ipa_bits < 52 or params.granule == 14 and sl0 == 3)

    def s2_params(regs):
        params = original(regs)
        if params is None or params.bad_sl or not refused(params, regs.vtcr):
            return params
        if under:
            return _RefusedS2Params(**{f.name: getattr(params, f.name) for f in fields(params) if f.init})
        raise KernelFaultsAtStage2("translation", 0)

    original_walk = stage2.s2_walk

    def s2_walk(params, memory, ipa, start_bits=None):
        if isinstance(params, _RefusedS2Params):
            return stage2.S2Fault(esr.fault_status("translation", 0), ipa, "QEMU 7.2.22: a stage 2 geometry beyond "
                                  "VTCR_EL2.PS")
        return original_walk(params, memory, ipa, start_bits)

    def _under_outcomes(case, step, tlb, access):
        under.append(True)
        try:
            return original_under(case, step, tlb, access)
        finally:
            under.pop()
    return [(module, "s2_params", s2_params) for module in (stage2, tlb, predict_module)] + \
        [(stage2, "s2_walk", s2_walk), (predict_module, "_under_outcomes", _under_outcomes)]


def _tlbi_for_el2_only(ops):
    """The regime of the TLBI instructions (tlb.tlbi_regime), but `ops` for EL2's own regime
    whatever HCR_EL2.E2H: they leave the EL2&0 regime's entries."""
    original = tlb.tlbi_regime

    def tlbi_regime(op, regs):
        return tlb.REGIME_EL2 if op in ops else original(op, regs)
    return [(tlb, "tlbi_regime", tlbi_regime)]


@dataclass(frozen=True)
class RunEnd:
    """How a run ended inside a case, before the case's end record: the signal that killed QEMU
    (None: it exited), and the kernel's `exception` record's decoded ESR and EL (None: none)."""
    signal: int = None
    esr: object = None      # harness.esr.Esr
    el: int = None


class VariantError(HarnessError):
    """A known bug's model variant (or the model under it) raised where it should answer: a defect of
    the variant (harness/fuzz/known.py), reported with the bugs, and by explain() the case and step."""


class RunEnds(Exception):
    """Raised by a known bug's variant where that QEMU ends the whole run at the step instead of
    doing anything the architecture has for it: not an outcome, so the step has none.  Its
    `matches(RunEnd)` says whether a run ended so."""

    def matches(self, end):
        raise NotImplementedError


class QemuAborts(RunEnds):
    """QEMU itself ends the run: an assertion fails (SIGABRT), with no exception record."""

    def matches(self, end):
        return end.signal == signal.SIGABRT and end.esr is None


class KernelFaultsAtStage2(RunEnds):
    """Every stage 2 translation of the case faults (`fault` at `level`), the kernel's own: its
    first instruction fetch under the case's stage 2 is a stage 2 abort taken to EL2 outside a
    step, which ends the run with the kernel's exception record."""

    def __init__(self, fault, level):
        super().__init__(f"every stage 2 translation a {fault} fault at level {level}, the kernel's own first")
        self.fault, self.level = fault, level

    def matches(self, end):
        e = end.esr
        return (end.signal is None and e is not None and end.el == 2 and e.ec in (esr.EC.IABT_LOW, esr.EC.DABT_LOW)
                and not e.s1ptw and (e.fault, e.level) == (self.fault, self.level))


# Held while the model is changed to a known bug, and by whoever evaluates the model alongside
# threads that may change it (the runner judges cases in several threads at once).
MODEL_LOCK = threading.RLock()
# The names of the known bugs whose changes are in force now (KnownBug.model), in order.
_IN_FORCE = []


def in_force():
    """The known bugs the model is changed by now (names): what an answer of the model depends on."""
    return tuple(_IN_FORCE)


@dataclass(frozen=True)
class KnownBug:
    name: str               # the [bug.<name>] table
    case_file: str          # the case file that holds it, relative to the repository
    does: str               # what the QEMU does instead, as the changed model does it
    change: object          # () -> [(module, attribute, replacement)]: the model as that QEMU is
    # A bug that changed shape across its range: (QEMU range, does, change) of the versions that
    # behave otherwise than `does` says.
    shapes: tuple = ()
    # What a case must hold for the change to change anything (case -> bool; None: any case): the
    # change's own condition (a feature, a regime, a step kind), read off the case, so that the search
    # skips the bug elsewhere (fewest_explaining).  tests/test_fuzz_known.py checks it holds for every
    # case the bug marks.
    applies: object = None

    def shape(self, version):
        """(what QEMU `version` does, the change of the model that does it)."""
        for qemu, does, change in self.shapes:
            if version and in_range(version, qemu):
                return does, change
        return self.does, self.change

    @property
    def table(self):
        return _bug_tables(self.case_file)[self.name]

    @property
    def qemu(self):
        return self.table["qemu"]

    @property
    def reason(self):
        return self.table["reason"]

    def affects(self, version):
        return in_range(version, self.qemu)

    @contextlib.contextmanager
    def model(self, version=None):
        """The model as QEMU `version` (None: the bug's first shape) behaves, while the context lasts.
        The change patches the model's modules, which every thread shares: MODEL_LOCK keeps the other
        threads out of the model meanwhile (they take it for their own evaluations: harness/crosscheck.py)."""
        with MODEL_LOCK, contextlib.ExitStack() as stack:
            for module, attribute, replacement in self.shape(version)[1]():
                stack.enter_context(mock.patch.object(module, attribute, replacement))
            _IN_FORCE.append(self.name)
            stack.callback(_IN_FORCE.remove, self.name)
            yield


@cache
def _bug_tables(case_file):
    return tomllib.loads((REPO / case_file).read_text())["bug"]


# The conditions of KnownBug.applies: what of a case the changes read.
def _ops(case, test):
    return any(test(translate.ACCESS_KINDS[s.op]) for s in case.steps if s.op in translate.ACCESS_KINDS)


def _granules(case):
    """The granules (shifts) of the case's walks: stage 1's, stage 2's, an AT S12's own stage 2's."""
    r, s2 = case.regime, case.stage2
    return {r.tg0, r.tg1, *((s2.tg,) if s2 else ()), *(s.s2_under.tg for s in case.steps if s.s2_under)}


def _with_ops(*ops):
    return lambda case: any(s.op in ops for s in case.steps)


def _in_granule(granule):
    return lambda case: granule in _granules(case)


def _two_stages(case):
    return case.stage2 is not None or any(s.op in AT_S12_OPS for s in case.steps)


def _at_write(case):
    return _ops(case, lambda k: k.at and k.write)


def _pie(case):
    return case.regime.pie


KNOWN_BUGS = (
    # The most frequent first: explain() tries them one at a time before any two together.
    KnownBug("isv_stage1_el2", "cases/syndrome.toml",
             "reports ISV = 1 with the instruction syndrome for a stage 1 Data Abort taken to EL2",
             _isv_for_stage1_aborts_taken_to_el2,
             applies=lambda case: case.el2 is not None),
    KnownBug("atomic_read_first", "cases/access_kinds.toml",
             "translates an atomic first as a read through both stages and reports that read's fault",
             _atomic_translated_as_a_read_first,
             applies=lambda case: _ops(case, lambda k: k.atomic)),
    KnownBug("par_sh", "cases/at_par.toml",
             "reports the descriptor's SH in PAR_EL1.SH for Device and Normal Non-cacheable memory",
             _descriptor_shareability),
    KnownBug("l0_block", "cases/translation.toml",
             "takes bits[1:0] = 0b01 at level 0 of the 4K granule as a 512 GiB block without DS",
             lambda: _blocks_also_at(12, (0,)),
             applies=_in_granule(12)),
    KnownBug("block_level_16k", "cases/granule16k.toml",
             "takes bits[1:0] = 0b01 at levels 0 and 1 of the 16K granule as a block without DS",
             lambda: _blocks_also_at(14, (0, 1)),
             applies=_in_granule(14)),
    KnownBug("l1_block_64k", "cases/granule64k.toml",
             "takes bits[1:0] = 0b01 at level 1 of the 64K granule as a 4 TiB block without 52-bit PAs",
             lambda: _blocks_also_at(16, (1,)),
             applies=_in_granule(16)),
    # Found by harness.fuzz (cases/fuzz_found.toml).
    KnownBug("block_level_minus1", "cases/fuzz_found.toml",
             "takes bits[1:0] = 0b01 at level -1 (4K granule, DS = 1) as a 256 TiB block, and aborts "
             "where that block gives an Access flag or Permission fault",
             lambda: _blocks_also_at(12, (-1,)) + _level_minus1_faults_abort(),
             applies=_in_granule(12)),
    KnownBug("ds_ips", "cases/fuzz_found.toml",
             "drops OA[51:50] (bits[9:8]) of output and table addresses with DS = 1 and IPS below 52 bits",
             lambda: _ds_drops_oa_51_50(walk),
             applies=lambda case: case.regime.ds),
    KnownBug("lpa_ips", "cases/fuzz_found.toml",
             "leaves OA[51:48] (bits[15:12]) of 64K descriptors out of the address with IPS or PS below 52 bits",
             _lpa_only_with_a_52_bit_oa_size,
             applies=_in_granule(16)),
    KnownBug("block_oa_low_bits", "cases/fuzz_found.toml",
             "makes the Address size check on a block descriptor's OA bits below the block size too",
             _block_oa_checked_whole),
    KnownBug("par_reserved_sh", "cases/fuzz_found.toml",
             "reports a descriptor's reserved SH[1:0] = 0b01 in PAR_EL1.SH",
             _reserved_shareability_reported),
    KnownBug("dbm_implied_pxn", "cases/fuzz_found.toml",
             "executes at EL1 from a writable-clean page EL0 may write (DBM = 1 with HA and HD, AP[2:1] = 0b11)",
             _implied_pxn_from_the_descriptor_ap,
             applies=_with_ops("fetch")),
    KnownBug("at_dirty_update", "cases/hw_readback.toml",
             "clears AP[2] for AT S1E1W through a writable-clean DBM page (HA = HD = 1), as a store does",
             _at_write_makes_the_dirty_update,
             shapes=((">=11.1.3", "reports a Permission fault for an AT write through a writable-clean DBM page "
                      "(HA = HD = 1)", _at_write_without_the_dirty_state),),
             applies=_at_write),
    KnownBug("s1ptw_level", "cases/s1ptw.toml",
             "reports a stage 2 fault on a stage 1 descriptor read at the stage 1 table's level, not stage 2's",
             _s1ptw_reports_the_stage1_level,
             applies=_two_stages),
    KnownBug("s2_ds_ps", "cases/s2_pa52.toml",
             "drops OA[51:50] (bits[9:8]) of stage 2 output and table addresses with DS = 1 and PS below 52 bits",
             lambda: _ds_drops_oa_51_50(stage2),
             applies=_two_stages),
    KnownBug("fwb_device_type", "cases/s2_fwb.toml",
             "gives a stage 2 Device MemAttr's type under HCR_EL2.FWB = 1, not the more restrictive of both stages'",
             _fwb_device_type_of_stage2,
             applies=_two_stages),
    KnownBug("s2_wt_transient", "cases/fuzz_found.toml",
             "makes stage 2 Write-Through over stage 1 Write-Back transient non-transient",
             _s2_write_through_drops_the_transient_hint,
             applies=_two_stages),
    KnownBug("s2_nc_device_type", "cases/fuzz_found.toml",
             "makes stage 1 Device-nGRE or GRE under stage 2 Normal inner Non-cacheable Device-nGnRE",
             _device_over_normal_nc_as_ngnre,
             applies=_two_stages),
    KnownBug("fwb_memattr_100", "cases/fuzz_found.toml",
             "gives Device-nGnRnE for stage 2 MemAttr 0b0100 under HCR_EL2.FWB = 1, not Normal Non-cacheable",
             _fwb_memattr_0100_as_device,
             applies=_two_stages),
    KnownBug("fault_before_alignment", "cases/pc_alignment.toml",
             "translates a misaligned branch target before checking the PC's alignment, and reports its fault",
             _pc_alignment_after_the_fetch,
             applies=_with_ops("fetch")),
    KnownBug("tlbi_e2is_el20", "cases/vhe.toml",
             "leaves the EL2&0 regime's entries at TLBI VAE2IS and VALE2IS with HCR_EL2.E2H = 1",
             lambda: _tlbi_for_el2_only(("tlbi_vae2is", "tlbi_vale2is")),
             applies=_with_ops("tlbi_vae2is", "tlbi_vale2is")),
    KnownBug("tlbi_re2_el20", "cases/vhe.toml",
             "leaves the EL2&0 regime's entries at TLBI RVAE2, RVAE2IS, RVALE2 and RVALE2IS with HCR_EL2.E2H = 1",
             lambda: _tlbi_for_el2_only(("tlbi_rvae2", "tlbi_rvae2is", "tlbi_rvale2", "tlbi_rvale2is")),
             applies=_with_ops("tlbi_rvae2", "tlbi_rvae2is", "tlbi_rvale2", "tlbi_rvale2is")),
    KnownBug("s2_at_dirty", "cases/s2_hw_update.toml",
             "sets S2AP[1] for AT S12E1W through a writable-clean stage 2 DBM page (VTCR_EL2.HA = HD = 1)",
             _s2_at_write_makes_the_dirty_update,
             shapes=((">=11.1.3", "reports a stage 2 Permission fault for AT S12E1W through a writable-clean "
                      "stage 2 DBM page (VTCR_EL2.HA = HD = 1)", _s2_at_write_without_the_dirty_state),),
             applies=lambda case: _ops(case, lambda k: k.at and k.write) and _with_ops(*AT_S12_OPS)(case)),
    KnownBug("pie_ndirty_dbm", "cases/pie.toml",
             "counts nDirty (bit 7) under PIE only where descriptor bit 51 is 1: a write through a clean "
             "location with bit 51 = 0 is made without the dirty state's Permission fault or update",
             _pie_ndirty_only_with_bit_51,
             applies=_pie),
    KnownBug("pie_at_ndirty", "cases/pie.toml",
             "translates AT S1E1W and S1E2W through a clean location (nDirty = 1) under PIE with TCR_ELx.HD = 0, "
             "where a store takes the dirty state's Permission fault",
             _pie_at_ignores_ndirty,
             applies=lambda case: _pie(case) and _at_write(case)),
    KnownBug("pie_ndirty_read_entry", "cases/fuzz_found.toml",
             "takes the dirty state's Permission fault under PIE (TCR_ELx.HD = 0) only on a write's own walk: a "
             "write through the TLB entry of a read of the page (an earlier load, an atomic's own read) completes",
             _pie_dirty_state_on_a_writing_walk_only,
             applies=_pie),
    KnownBug("pie_pan_reserved", "cases/pie.toml",
             "does not apply PSTATE.PAN under PIE where PIRE0's encoding at the page's index is a reserved one: "
             "EL1's loads and stores complete",
             _pie_pan_ignores_reserved_pire0,
             applies=_pie),
    KnownBug("aie_hierarchical", "cases/aie.toml",
             "keeps the hierarchical permissions (APTable, PXNTable, UXNTable) with TCR2_ELx.AIE = 1",
             _aie_keeps_hierarchical_permissions,
             applies=lambda case: case.regime.aie),
    KnownBug("s2pie_dirty", "cases/s2pie.toml",
             "ignores the stage 2 Dirty bit (bit 7) under S2PIE: a write to a clean location is made without "
             "the dirty state's Permission fault or update",
             _s2pie_dirty_ignored,
             applies=_two_stages),
    KnownBug("s2_device_alignment_stage1", "cases/fuzz_found.toml",
             "takes the stage 2 Alignment fault of an unaligned access to memory stage 2 makes Device as a "
             "stage 1 fault, to EL1 (16K granule, after an access to the page)",
             _s2_device_alignment_at_stage1,
             applies=_two_stages),
    KnownBug("s2_geometry_ps", "cases/fuzz_found.toml",
             "faults every stage 2 walk at level 0 where the IPA size or the start level's least PA size is above "
             "VTCR_EL2.PS, from level -1 below a 52-bit IPA, and at 16K SL0 = 3: under the case's stage 2 the "
             "kernel's own fetch first, under an AT S12's own VTCR_EL2 the AT's",
             _s2_geometry_bounded_by_ps,
             applies=_two_stages),
    KnownBug("at_s12_permission_abort", "cases/at_s12.toml",
             "aborts (SIGABRT, the whole run) on an AT S12* whose stage 2 translation gives a Permission fault",
             _at_s12_permission_fault_aborts,
             applies=_with_ops(*AT_S12_OPS)),
    KnownBug("lse2_alignment_wnr", "cases/access_kinds.toml",
             "reports WnR = 1 for the Alignment fault of an exclusive or atomic access that leaves its "
             "aligned 16-byte quantity (FEAT_LSE2)",
             _lse2_alignment_fault_as_a_write,
             applies=lambda case: _ops(case, lambda k: k.atomic or k.exclusive)),
    KnownBug("ldapr_unaligned", "cases/access_kinds.toml",
             "checks no alignment for LDAPR without FEAT_LSE2: an unaligned LDAPR completes or takes its walk's fault",
             _ldapr_without_alignment_check,
             applies=lambda case: _ops(case, lambda k: k.acqpc)),
    KnownBug("store_exclusive_unaligned", "cases/access_kinds_exclusive.toml",
             "returns status 1 for an unaligned STXR, STLXR or STXP the monitor does not hold, where the Alignment "
             "fault comes first",
             _store_exclusive_monitor_before_alignment,
             applies=_with_ops(*EXCLUSIVE_STORES)),
    KnownBug("dczva_device", "cases/access_kinds_dczva.toml",
             "makes DC ZVA to Device memory (zeros written, or the write's Permission fault) where it is an "
             "Alignment fault",
             _dc_zva_without_the_device_alignment_fault,
             applies=_with_ops(*DC_ZERO)),
)


RAM = (LAYOUT["RAM_BASE"], LAYOUT["RAM_BASE"] + LAYOUT["RAM_SIZE"])


def allowed_on_the_board(step, outcomes, obs):
    """Whether the observation is one the outcomes allow on QEMU's virt board.  A bug that takes a
    block where the architecture refuses one sends the access wherever that block points; outside
    RAM the board decides what happens (no memory: a synchronous external abort; a PCIe window:
    reads of all ones), so an access the changed model completes outside RAM may end either way."""
    if not observation_allowed(step, outcomes, obs):
        return True
    if obs is None or step.op in AT_OPS:
        return False
    outside = any(isinstance(o, Completes) and o.pa is not None and not RAM[0] <= o.pa < RAM[1] for o in outcomes)
    if not outside:
        return False
    if obs.result == "ok":
        return True
    return obs.result == "fault" and obs.esr.fault == "external"


def walks_off_the_board(step, outcomes, obs):
    """Whether the observation is the board's answer to a walk the outcomes say reads outside RAM:
    a variant whose walk reads a table where the virt board has no memory is answered by a
    synchronous external abort on the walk (its level is the board's: not checked)."""
    reads = [o.pa for o in outcomes if isinstance(o, Unknown)]
    if not reads or len(reads) != len(outcomes) or any(pa is None or RAM[0] <= pa < RAM[1] for pa in reads):
        return False
    if obs.result == "fault":
        return obs.esr.fault == "external_walk"
    return obs.result == "par" and step.op in AT_OPS and obs.par.f == 1 and obs.par.fault == "external_walk"


# The most known bugs one step is explained by at once: three meet in a step (an AT through a 64K page
# whose OA[51:48] QEMU drops, of Device memory with a reserved SH that PAR_EL1.SH reports: lpa_ips,
# par_sh and par_reserved_sh; harness.fuzz seed 20261201, case 2760); every larger combination would
# be tried for each step no bug explains (with twenty bugs, about 1350 combinations at three).
MOST_BUGS_AT_ONCE = 3


class _Calls:
    """Which of the known bugs' patch targets (module, attribute) the model calls while an answer is
    computed: each target wrapped, for the while, in a function that notes its call and calls it."""

    def __init__(self):
        self.called = None
        self.targets = frozenset()

    @contextlib.contextmanager
    def watching(self):
        with contextlib.ExitStack() as stack:
            for module, attribute in self.targets:
                stack.enter_context(mock.patch.object(module, attribute, self._noting(module, attribute)))
            yield

    def _noting(self, module, attribute):
        target, original = (module, attribute), getattr(module, attribute)

        def noted(*args, **kwargs):
            if self.called is not None:
                self.called.add(target)
            return original(*args, **kwargs)
        return noted


def _targets(bug, version):
    """The (module, attribute)s QEMU `version`'s shape of the bug replaces, and whether a call shows
    every use of them (all are functions; a table the model reads shows none)."""
    targets = frozenset((module, attribute) for module, attribute, _ in bug.shape(version)[1]())
    return targets, all(callable(getattr(module, attribute)) for module, attribute in targets)


def fewest_explaining(version, evaluate, explains, bugs=KNOWN_BUGS, inapplicable=frozenset()):
    """The fewest known bugs of QEMU `version`, at most MOST_BUGS_AT_ONCE (a tuple of KnownBug,
    fewest first, in `bugs`' order; () when none do), under which the model's answer, `evaluate()`
    computed while they are in force, is one that `explains(answer)` accepts.  A changed model that
    has no answer (a fault the architecture has no encoding for: ValueError; memory nobody holds:
    UnknownMemory) explains nothing; one under which QEMU ends the run (RunEnds) answers that RunEnds.

    The search tries every combination in order, but computes an answer only where it can differ:
    a bug none of whose replaced functions the model calls under the combination's other bugs
    (nor under no bug, for a bug alone) changes nothing there, so the combination answers as the
    smaller one did, which did not explain (else the search had stopped) or, for a bug alone, as
    the unchanged model does.  A bug that replaces a function another bug of the combination
    replaces too, or a table, is always tried.  A bug of `inapplicable` (whose condition the case
    does not meet: KnownBug.applies) changes nothing anywhere."""
    active = [b for b in bugs if version and b.affects(version)]
    if not active:
        return ()
    calls, targets = _Calls(), {}

    def tried(combination):
        """(whether the model under `combination` explains, the targets it called)."""
        calls.called = set()
        try:
            with contextlib.ExitStack() as stack:
                for bug in combination:
                    stack.enter_context(bug.model(version))
                answer = evaluate()
        except RunEnds as ends:
            answer = ends
        except (ValueError, UnknownMemory):
            answer = None
        except Exception as e:      # the variant's own defect: named, never a bare traceback
            raise VariantError(f"the model changed as QEMU {version}'s known bug(s) {names(combination) or '(none)'} behave "
                               f"raised {type(e).__name__}: {e}") from e
        finally:
            called, calls.called = frozenset(calls.called), None
        return answer is not None and explains(answer), called

    def needless(bug, combination, called):
        """Whether `bug` changes nothing under the rest of `combination`, which called `called`."""
        if bug in inapplicable:
            return True
        mine, watched = targets[bug]
        return watched and not mine & called and \
            not any(mine & targets[other][0] for other in combination if other is not bug)

    with MODEL_LOCK:
        # combination (in `active` order) -> (explains, targets called).  Most departures are the first
        # bug's (tried first): it is tried unwatched, as if it called every target.
        known, first = {}, tuple(active[:1])
        if active[0] not in inapplicable:
            known[first] = tried(first)
            if known[first][0]:
                return first
        targets.update((b, _targets(b, version)) for b in active)
        calls.targets = frozenset().union(*(t for t, watched in targets.values() if watched))
        if first in known:
            known[first] = (False, calls.targets)
        with calls.watching():
            known[()] = tried(())
            for size in range(1, min(len(active), MOST_BUGS_AT_ONCE) + 1):
                for combination in itertools.combinations(active, size):
                    if combination in known:
                        continue
                    for k, bug in enumerate(combination):
                        rest = combination[:k] + combination[k + 1:]
                        if needless(bug, combination, known[rest][1]):
                            known[combination] = known[rest]
                            break
                    else:
                        known[combination] = tried(combination)
                    if known[combination][0]:
                        return combination
    return ()


def _predicts_the_value(step, architecture, outcomes, obs):
    """Whether `outcomes` predict what a completed load returned, where the architecture's own
    outcomes say what it must return: a variant that does not know the memory explains no value."""
    if step.op not in LOADS or obs.result != "ok" or \
            not any(isinstance(o, Completes) and o.value is not None for o in architecture):
        return True
    return any(isinstance(o, Completes) and o.value is not None and not observation_allowed(step, Outcomes({o}), obs)
               for o in outcomes)


def explain(version, case, ids, pool_base, n, obs, bugs=KNOWN_BUGS, ended=None, agrees=lambda outcomes: True):
    """The fewest known bugs of QEMU `version` that together explain step n's Observation
    `obs` (None: no record; fewest_explaining), the case's steps before it evaluated under them too (a bug's
    effect on memory or on the TLB shows in the steps after it).  Two bugs can meet in one step:
    a block the architecture refuses, taken by QEMU, of Device memory whose PAR_EL1.SH QEMU then
    reports wrongly.

    Nothing explains a step the architecture allows (it does not depart: its failure is no bug's)
    or cannot judge (Unknown), and no variant explains what it cannot predict itself.  A step left
    without a record is explained only by a variant under which the run ends at that step
    (RunEnds), and only if the run did end so (`ended`: the RunEnd there; None when the caller
    cannot tell).  `agrees(outcomes)`: what else of the step the outcomes must account for
    (the descriptors read back after it: harness/crosscheck.py)."""
    steps = case.steps[:n + 1]
    step = case.steps[n]

    def predicted():
        return predict_case(replace(case, steps=steps), ids, pool_base)[n]
    try:
        architecture = predicted()
    except (ValueError, UnknownMemory):
        return ()
    if unjudged(architecture) or obs is not None and not observation_allowed(step, architecture, obs) \
            and agrees(architecture):
        return ()

    def evaluate():
        if n == 0 and obs is None:
            # Whether every stage 2 translation faults, the kernel's own, depends on the case's stage 2
            # alone, which every step runs under: any step may be the first whose evaluation says so
            # (harness.fuzz seed 20261201, case 422 on 7.2.22: an s2_protect first, which reads none).
            try:
                predict_case(case, ids, pool_base)
            except KernelFaultsAtStage2 as ends:
                return ends
            except (RunEnds, ValueError, UnknownMemory):
                pass
        try:
            return predicted()
        except RunEnds as ends:
            try:
                predict_case(replace(case, steps=steps[:-1]), ids, pool_base)
            except RunEnds:
                return None         # the run would have ended before this step
            return ends

    def explains(outcomes):
        if isinstance(outcomes, RunEnds):
            return obs is None and (ended is None or outcomes.matches(ended))
        if obs is None or not agrees(outcomes):
            return False
        if walks_off_the_board(step, outcomes, obs):
            return True
        return (not unjudged(outcomes) and allowed_on_the_board(step, outcomes, obs)
                and _predicts_the_value(step, architecture, outcomes, obs))
    inapplicable = frozenset(b for b in bugs if b.applies is not None and not b.applies(case))
    try:
        return fewest_explaining(version, evaluate, explains, bugs, inapplicable)
    except VariantError as e:
        raise VariantError(f"case {case.id} step {n} ({step.op} va={step.va:#x}): {e}") from e.__cause__


def names(bugs):
    return "+".join(b.name for b in bugs) or None
