"""Stage 2 of the EL1&0 regime (HCR_EL2.VM = 1): AArch64.S2Translate over
AArch64.S1Translate.  Every stage 1 descriptor address is an IPA that stage 2
translates before the walk reads it (a fault there is a stage 2 fault with
S1PTW = 1), and the access's IPA is translated in turn: AArch64.S2Walk,
AArch64.S2CheckPermissions, AArch64.S2HasAlignmentFault, and the attributes
of both stages combined (S2CombineS1MemAttrs, HCR_EL2.FWB = 0).

full_translate(regs, memory, access) (AArch64.FullTranslate) is the entry for both cases: stage 1 alone
(s1_translate) when HCR_EL2.VM = 0.  Not modelled, said so by an Unknown
outcome: HCR_EL2.FWB = 1, VTCR_EL2.HA/HD, stage 1 hardware updates under
stage 2, and an AT S1E* whose stage 1 walk faults at stage 2 (taken to EL2).
"""
from dataclasses import dataclass, replace
from functools import lru_cache

from harness import esr, par
from harness.cases import AT_S12_OPS
from harness.model.attributes import (
    DEVICE_TYPES, NC, SH_CODES, WB, WT, MemAttrs, decode_shareability, encode_par_attrs, par_encode_shareability,
    s1_decode_mem_attrs,
)
from harness.model.descriptors import DESC_AF, DESC_SH, INVALID, TABLE, decode_descriptor_type, desc_oa
from harness.model.outcome import EC_DATA_ABORT_LOW, EC_INSTRUCTION_ABORT_LOW, Abort, Completes, Outcomes, Par, Unknown
from harness.model.registers import IPS_BITS, MMFR1_XNX, TCR_HA, TG0_GRANULE, pa_max
from harness.model.translate import ACCESS_KINDS, PAR_FAULT_MASK, s1_translate
from harness.model.walk import level_lsb
from harness.esr import Field
from harness.geometry import s2_start_level

# HCR_EL2, VTCR_EL2, VTTBR_EL2 (Arm ARM D19.2)
HCR_VM = Field(0, 1)
HCR_FWB = Field(46, 1)
VTCR_T0SZ = Field(0, 6)
VTCR_SL0 = Field(6, 2)
VTCR_TG0 = Field(14, 2)
VTCR_PS = Field(16, 3)
VTCR_VS = Field(19, 1)
VTCR_HA = Field(21, 1)
VTCR_HD = Field(22, 1)
VTTBR_BADDR = Field(1, 47)
VTTBR_VMID = Field(48, 16)
VTCR_TG0_GRANULE = TG0_GRANULE         # VTCR_EL2.TG0 encodes granules as TCR_EL1.TG0 does

# Stage 2 block and page attributes (kernel/pgtable-hwdef.h names them for the kernel)
S2_MEMATTR = Field(2, 4)
S2_AP = Field(6, 2)
S2_XN = Field(53, 2)

S2_DEVICE_RULE = "stage 2 MemAttr[3:2] = 0b00: Device memory of type MemAttr[1:0] (S2DecodeMemAttrs)"
S2_RESERVED_RULE = ("a reserved stage 2 MemAttr (Normal with MemAttr[1:0] = 0b00): CONSTRAINED UNPREDICTABLE "
                    "(S2DecodeMemAttrs)")
S2_FETCH_DEVICE_RULE = ("an instruction fetch from memory stage 2 makes Device: "
                        "ConstrainUnpredictable(Unpredictable_INSTRDEVICE): a stage 2 Permission fault, or the "
                        "fetch made as to Normal Non-cacheable memory")
S2_ALIGNMENT_RULE = "an unaligned access to memory stage 2 makes Device (AArch64.S2HasAlignmentFault)"


@dataclass(frozen=True)
class S2Params:
    """S2TTWParams of VTCR_EL2 and VTTBR_EL2 (AArch64.GetS2TTWParams), as the
    descriptor helpers of stage 1 read them (granule, ds, lpa, pamax)."""
    granule: int
    t0sz: int
    start: int
    base: int
    oasize: int             # Min(PS, PAMax), 48 at most with the 48-bit descriptor format
    pamax: int
    xnx: bool               # FEAT_XNX: XN[0] distinguishes EL1 from EL0 execution
    ds: bool = False
    lpa: bool = False


@lru_cache(maxsize=1024)
def s2_params(regs):
    """The stage 2 parameters, or None when HCR_EL2.VM = 0."""
    if not HCR_VM.get(regs.hcr):
        return None
    vtcr = regs.vtcr
    granule = VTCR_TG0_GRANULE.get(VTCR_TG0.get(vtcr), 12)
    t0sz = VTCR_T0SZ.get(vtcr)
    start = s2_start_level(granule, VTCR_SL0.get(vtcr))
    tsize = (64 - t0sz) - level_lsb(granule, start) + 3     # the start table's size (concatenated), log2 bytes
    base = VTTBR_BADDR.get(regs.vttbr) << 1 & ~((1 << tsize) - 1)
    pamax = pa_max(regs.mmfr0)
    return S2Params(granule=granule, t0sz=t0sz, start=start, base=base,
                    oasize=min(IPS_BITS.get(VTCR_PS.get(vtcr), 52), pamax, 48), pamax=pamax,
                    xnx=MMFR1_XNX.get(regs.mmfr1) >= 1)


@dataclass(frozen=True)
class S2Fault:
    """A stage 2 fault: its status code, the IPA, and the rule."""
    fsc: int
    ipa: int
    rule: str


@dataclass(frozen=True)
class S2Leaf:
    level: int
    desc: int
    pa: int                 # the output address of the IPA


def s2_walk(params, memory, ipa):
    """AArch64.S2Walk of ipa: an S2Leaf or an S2Fault (Translation, Address
    size, Access flag with VTCR_EL2.HA = 0).  Raises UnknownMemory."""
    if ipa >> (64 - params.t0sz):
        return S2Fault(esr.fault_status("translation", params.start), ipa,
                       "IPA above VTCR_EL2.T0SZ's input size (AArch64.S2Translate)")
    level, base = params.start, params.base
    while True:
        lsb = level_lsb(params.granule, level)
        msb = (64 - params.t0sz) - 1 if level == params.start else lsb + params.granule - 4
        desc = memory.read64(base | (ipa >> lsb & ((1 << (msb - lsb + 1)) - 1)) << 3)
        kind = decode_descriptor_type(params, desc, level)
        if kind == INVALID:
            return S2Fault(esr.fault_status("translation", level), ipa,
                           "invalid stage 2 descriptor (AArch64.S2Walk, AArch64.DecodeDescriptorType)")
        if kind != TABLE:
            break
        base = desc_oa(params, desc, params.granule)
        if base >> params.oasize:
            return S2Fault(esr.fault_status("address_size", level), ipa,
                           "next-level stage 2 table above the PA size (AArch64.S2Walk)")
        level += 1
    oa = desc_oa(params, desc, lsb)
    if oa >> params.oasize:
        return S2Fault(esr.fault_status("address_size", level), ipa,
                       "stage 2 output address above VTCR_EL2.PS / the PA size (AArch64.S2Walk)")
    if not DESC_AF.get(desc):
        return S2Fault(esr.fault_status("access_flag", level), ipa, "stage 2 AF = 0 with VTCR_EL2.HA = 0")
    return S2Leaf(level, desc, oa | ipa & ((1 << lsb) - 1))


def s2_decode_mem_attrs(memattr):
    """S2DecodeMemAttrs (HCR_EL2.FWB = 0): MemAttr[3:2] = 0b00 Device of type
    MemAttr[1:0]; else Normal, outer MemAttr[3:2] and inner MemAttr[1:0]
    (0b01 Non-cacheable, 0b10 Write-Through, 0b11 Write-Back)."""
    outer, inner = memattr >> 2, memattr & 0b11
    if outer == 0:
        return MemAttrs(device=DEVICE_TYPES[inner])
    if inner == 0:
        return MemAttrs(reserved=True)
    kinds = {0b01: NC, 0b10: WT, 0b11: WB}
    return MemAttrs(inner=(kinds[inner], 0, False), outer=(kinds[outer], 0, False))


_DEVICE_ORDER = ("nGnRnE", "nGnRE", "nGRE", "GRE")


def _combine_cacheability(s1, s2):
    """One cache level of S2CombineS1MemAttrs: the weaker of the two, stage 1's hints kept."""
    kind = NC if NC in (s1[0], s2[0]) else WT if WT in (s1[0], s2[0]) else WB
    return (kind, 0, False) if kind == NC else (kind, s1[1], s1[2])


def s2_combine_mem_attrs(s1, s2):
    """S2CombineS1MemAttrs: Device if either stage is (the more restrictive
    type), else Normal with each cache level the weaker of the two."""
    if s1.reserved or s2.reserved:
        return MemAttrs(reserved=True)
    if s1.is_device or s2.is_device:
        types = [m.device for m in (s1, s2) if m.is_device]
        return MemAttrs(device=min(types, key=_DEVICE_ORDER.index))
    return MemAttrs(inner=_combine_cacheability(s1.inner, s2.inner),
                    outer=_combine_cacheability(s1.outer, s2.outer))


_SH_ORDER = ("non", "inner", "outer")


def s2_permits(params, desc, acc):
    """AArch64.S2CheckPermissions: (permitted, rule) for the access: S2AP[0]
    reads, S2AP[1] writes; execution by XN[1] (with FEAT_XNX, XN[1:0]: 0b01
    not at EL1, 0b11 not at EL0).  Stage 2 has no EL0/EL1 distinction for data."""
    s2ap, xn = S2_AP.get(desc), S2_XN.get(desc)
    if acc.fetch:
        if params.xnx:
            executable = {0b00: True, 0b01: acc.el0, 0b10: False, 0b11: not acc.el0}[xn]
        else:
            executable = not xn & 0b10
        return executable, "stage 2 execute permission (XN; AArch64.S2CheckPermissions)"
    if acc.read and not s2ap & 0b01:
        return False, "stage 2 read permission (S2AP[0]; AArch64.S2CheckPermissions)"
    if acc.write and not s2ap & 0b10:
        return False, "stage 2 write permission (S2AP[1]; AArch64.S2CheckPermissions)"
    return True, ""


@dataclass(frozen=True)
class _S2Result:
    """The stage 2 translation of one IPA for an access: pa, memattrs and shareabilities, or fault."""
    pa: int = None
    memattrs: MemAttrs = None
    shares: tuple = ()
    fault: S2Fault = None


def s2_translate(params, memory, ipa, acc, aligned=True):
    """AArch64.S2Translate of one IPA for an access (its checks in the ASL's
    order: walk, alignment, permissions): a list of _S2Result, one per permitted outcome."""
    leaf = s2_walk(params, memory, ipa)
    if isinstance(leaf, S2Fault):
        return [_S2Result(fault=leaf)]
    memattrs = s2_decode_mem_attrs(S2_MEMATTR.get(leaf.desc))
    if not aligned and not acc.fetch and not acc.at and memattrs.is_device:
        return [_S2Result(fault=S2Fault(esr.fault_status("alignment", None), ipa, S2_ALIGNMENT_RULE))]
    ok, rule = s2_permits(params, leaf.desc, acc)
    fault = S2Fault(esr.fault_status("permission", leaf.level), ipa, rule)
    if not ok:
        return [_S2Result(fault=fault)]
    shares = decode_shareability(DESC_SH.get(leaf.desc))
    done = _S2Result(pa=leaf.pa, memattrs=memattrs, shares=shares)
    if acc.fetch and memattrs.is_device:
        return [_S2Result(fault=replace(fault, rule=S2_FETCH_DEVICE_RULE)), done]
    return [done]


class WalkFaultedAtStage2(Exception):
    """A stage 1 descriptor read that faults at stage 2: the access ends there (fault: an S2Fault)."""
    def __init__(self, fault):
        super().__init__(fault)
        self.fault = fault


class WalkS2Uncertain(Exception):
    """A stage 1 descriptor read whose IPA the stage 2 translations a TLB may use (harness/model/tlb.py)
    translate differently: which table the walk reads is not modelled."""


class _Stage1WalkMemory:
    """The memory stage 1's walk reads: each descriptor address an IPA that
    stage 2 translates first, as a read (AArch64.S1Walk's descriptor fetch
    through AArch64.S2Translate); a stage 2 fault there ends the access.
    translate(ipa, acc, aligned) gives the stage 2 results (_S2Result) an IPA may have."""

    def __init__(self, translate, memory):
        self.translate, self.memory = translate, memory

    def read64(self, ipa):
        results = {(r.pa, r.fault) for r in self.translate(ipa, _WALK_READ, True)}
        if len(results) > 1:
            raise WalkS2Uncertain(ipa)
        pa, fault = results.pop()
        if fault is not None:
            raise WalkFaultedAtStage2(fault)
        return self.memory.read64(pa)


def s1_walk_memory(regs, memory):
    """The memory a stage 1 walk of regs reads: memory itself, or under stage 2 through stage 2's
    walk of it (raises WalkFaultedAtStage2)."""
    params = s2_params(regs)
    if params is None:
        return memory
    return _Stage1WalkMemory(lambda ipa, acc, aligned: s2_translate(params, memory, ipa, acc, aligned), memory)


_WALK_READ = ACCESS_KINDS["load64"]
# The stage 1 half of each two-stage AT (AArch64.AT: the same stage 1 checks).
_S1_OP = {op: op.replace("s12", "s1") for op in AT_S12_OPS}


def _s2_abort(acc, far, fault, s1ptw):
    """A stage 2 fault of a load, store or fetch, taken to EL2.  WnR of a fault on
    the stage 1 walk is left open (None): which access it reports is not settled here."""
    ec = EC_INSTRUCTION_ABORT_LOW if acc.fetch else EC_DATA_ABORT_LOW
    return Abort(ec=ec, fsc=fault.fsc, wnr=None if s1ptw else acc.write, s1ptw=s1ptw, far=far, rule=fault.rule,
                 stage=2, ipa=fault.ipa)


def _s2_par(fault, s1ptw):
    value = fault.fsc << par.PAR_FST.shift | par.PAR_S.mask | (par.PAR_PTW.mask if s1ptw else 0) | 1
    return Par(value=value, mask=PAR_FAULT_MASK, rule=fault.rule)


def _combine(s1_attr, s1_sh, s2_memattrs, s2_sh):
    """The attribute byte and shareability (as PAR_EL1 reports them) of both stages
    combined: S2CombineS1MemAttrs, and the more shareable of the two stages, reported
    outer for Device and Normal Non-cacheable (PAREncodeShareability).  None where
    either stage leaves it open."""
    if s1_attr is None:
        return None, None
    memattrs = s2_combine_mem_attrs(s1_decode_mem_attrs(s1_attr), s2_memattrs)
    if memattrs.reserved:
        return None, None
    # Stage 1's shareability as PAR_EL1 reports it is outer for Device and Normal NC, which
    # the combination keeps Device or Non-cacheable: reported outer again, so nothing is lost.
    sh = None if s1_sh is None else par_encode_shareability(memattrs, max(s1_sh, s2_sh, key=_SH_ORDER.index))
    return encode_par_attrs(memattrs), sh


def _combined_par(s1_value, s1_mask, result):
    """PAR_EL1 of a two-stage AT that translates: the final PA, the combined
    attributes and shareability."""
    s1_attr = par.PAR_ATTR.get(s1_value) if s1_mask & par.PAR_ATTR.mask else None
    s1_sh = par.SH_NAMES[par.PAR_SH.get(s1_value)] if s1_mask & par.PAR_SH.mask else None
    outs = []
    for s2_sh in result.shares:
        attr, sh = _combine(s1_attr, s1_sh, result.memattrs, s2_sh)
        value, mask = result.pa & par.PAR_PA.mask, par.PAR_F.mask | par.PAR_PA.mask
        if attr is not None:
            value, mask = value | attr << par.PAR_ATTR.shift, mask | par.PAR_ATTR.mask
        if sh is not None:
            value, mask = value | SH_CODES[sh] << par.PAR_SH.shift, mask | par.PAR_SH.mask
        outs.append(Par(value=value, mask=mask, rule="AArch64.AT: S2CombineS1MemAttrs, PAREncodeShareability"))
    return outs


def _not_modelled(regs):
    if HCR_FWB.get(regs.hcr):
        return "HCR_EL2.FWB = 1"
    if VTCR_HA.get(regs.vtcr) or VTCR_HD.get(regs.vtcr):
        return "VTCR_EL2.HA/HD (stage 2 hardware updates)"
    if TCR_HA.get(regs.tcr):
        return "stage 1 hardware updates (TCR_EL1.HA) under stage 2"
    return None


def full_translate(regs, memory, access, s2=None):
    """AArch64.FullTranslate: the Outcomes of one step in the EL1&0 regime, with stage 2 when HCR_EL2.VM = 1.
    s2(ipa, acc, aligned): the stage 2 results an IPA may have (a TLB's choice of stage 2 translations,
    harness/model/tlb.py); by default the stage 2 walk of regs and memory."""
    params = s2_params(regs)
    if params is None:
        return s1_translate(regs, memory, replace(access, op=_S1_OP.get(access.op, access.op)))
    why = _not_modelled(regs)
    if why:
        return Outcomes({Unknown(f"the model does not cover {why}")})
    translate = s2 or (lambda ipa, acc, aligned: s2_translate(params, memory, ipa, acc, aligned))
    acc = ACCESS_KINDS[access.op]
    two_stage_at = access.op in AT_S12_OPS
    try:
        first = s1_translate(regs, _Stage1WalkMemory(translate, memory),
                             replace(access, op=_S1_OP.get(access.op, access.op)))
    except WalkS2Uncertain as e:
        return Outcomes({Unknown(f"the stage 1 walk reads IPA {e.args[0]:#x}, which the stage 2 translations a "
                                 "TLB may hold translate differently: not modelled")})
    except WalkFaultedAtStage2 as e:
        if two_stage_at:
            return Outcomes({_s2_par(e.fault, s1ptw=True)})
        if acc.at:
            return Outcomes({Unknown("an AT S1E* whose stage 1 walk faults at stage 2 is taken to EL2 as a Data "
                                     "Abort, which the model does not cover")})
        return Outcomes({_s2_abort(acc, access.va, e.fault, s1ptw=True)})
    outcomes, rules = set(), [first.rule] if first.rule else []
    for outcome in first:
        if isinstance(outcome, Par):
            if not two_stage_at or par.PAR_F.get(outcome.value):
                outcomes.add(outcome)       # stage 1's PAR: the IPA (AT S1E*), or a stage 1 fault
                continue
            ipa = outcome.value & par.PAR_PA.mask | access.va & 0xFFF
            for result in translate(ipa, acc, True):
                if result.fault is not None:
                    outcomes.add(_s2_par(result.fault, s1ptw=False))
                else:
                    outcomes.update(_combined_par(outcome.value, outcome.mask, result))
            continue
        if not isinstance(outcome, Completes):
            outcomes.add(outcome)           # a stage 1 abort, taken to EL1
            continue
        outcomes.update(_second_stage(translate, acc, access.va, outcome, rules))
    return Outcomes(outcomes, "; ".join(dict.fromkeys(rules)) or None)


def _second_stage(translate, acc, va, outcome, rules):
    """The stage 2 translation of a completed stage 1 access, span by span
    (an access that crosses pages has one IPA span per page): its aborts, and
    its completions with the final PAs and the combined attributes."""
    partial = [()]          # PA spans so far, with each span's stage 2 result
    done, offset = [], 0
    for ipa, size in outcome.spans:
        pieces = translate(ipa, acc, acc.size == 0 or va % acc.size == 0)
        rules += [p.fault.rule for p in pieces if p.fault is not None and p.fault.rule == S2_FETCH_DEVICE_RULE]
        done += [_s2_abort(acc, va + offset, p.fault, s1ptw=False) for p in pieces if p.fault is not None]
        partial = [spans + ((p, size),) for spans in partial for p in pieces if p.fault is None]
        offset += size
    for spans in partial:
        first = spans[0][0]
        for share in first.shares:
            attr, sh = _combine(outcome.attr, outcome.sh, first.memattrs, share)
            done.append(replace(outcome, pa=first.pa, spans=tuple((p.pa, size) for p, size in spans), attr=attr, sh=sh))
    return done
