"""The translation a case sets up: its stage 1 regime (TCR_EL1, SCTLR_EL1, MAIR_EL1), its
mappings, table attributes and raw descriptors, and its stage 2 (VTCR_EL2, VTTBR_EL2, HCR_EL2)."""
from dataclasses import replace

from harness import geometry
from harness.cases.fields import Fields, table_list
from harness.cases.layout import check_stage2_layout
from harness.cases.names import APTABLE_NAMES, AP_NAMES, LAYOUT, MEMORY_TYPES, S2AP_NAMES, SH_NAMES
from harness.cases.schema import (
    MAP_KEYS, MAX_SPACES, Mapping, REGIME_KEYS, Raw, Regime, S2MAP_KEYS, S2Mapping, STAGE2_KEYS,
    Stage2, TableAttrs, TCR2_FIELDS,
)
# Permission indirection (FEAT_S1PIE, FEAT_S2PIE): the PI indices of the kernel's own mappings (their
# descriptors' bits 54, 53, 51 and 6: kernel/tables.c kernel_el1 and kernel_el2, kernel/stage2.c) and
# the 4-bit encodings (Arm ARM J1.1.4.30, J1.1.4.39) that let the kernel run, by the regime its steps
# run in (Case.el2).  A case's pir/pire0/s2pir name the other indices only.
KERNEL_PI = {
    # EL1&0 and EL2&0: code and RAM (UXN) 8, priv RWX; device and data (PXN, UXN) 12, priv RW; the EL0
    # code page (AP[1], PXN) 5, priv read (PIR) and unpriv read and execute (PIRE0).
    None: {"pir": {8: 0b0111, 12: 0b0101, 5: 0b0001}, "pire0": {8: 0, 12: 0, 5: 0b0011}},
    # EL2 (no EL0; AP[1] RES1): code and RAM 1, RWX; device and data (XN) 9, RW.
    "nvhe": {"pir": {1: 0b0111, 9: 0b0101}, "pire0": {}},
}
KERNEL_PI["vhe"] = KERNEL_PI[None]
# Stage 2: the kernel's RAM (S2AP RW) 1, RW and execute at EL1 and EL0; device (S2AP RW, XN) 9, RW.
KERNEL_S2PI = {1: 0b1111, 9: 0b1100}


def _pi_register(f, key, table, params, kernel):
    """A PIR/PIRE0/S2PIR value from its table of index (0-15) = 4-bit encoding, the kernel's
    indices (kernel: index -> encoding) added; naming one of them is an error."""
    if key not in table:
        entries = {}
    elif not isinstance(table[key], dict):
        raise f.error(key, "must be a table of PI index (0-15) = 4-bit encoding")
    else:
        g = Fields(f.path, f.case, f"{f.where}.{key}", table[key], {str(i) for i in range(16)}, params)
        entries = {int(idx): g.int(idx) for idx in table[key]}
        for idx, encoding in entries.items():
            if encoding > 0xF:
                raise g.error(str(idx), f"{encoding:#x} is not a 4-bit encoding")
            if idx in kernel:
                raise g.error(str(idx), f"PI index {idx} is the kernel's own mappings' here (harness/cases/"
                              f"translation.py KERNEL_PI): use another index")
    return sum(encoding << (4 * idx) for idx, encoding in {**entries, **kernel}.items())


def regime_pi(path, name, table, params, regime, el2):
    """regime with PIR and PIRE0 read from its table for the regime the steps run in (el2: Case.el2):
    the kernel's indices added where TCR2.PIE is set or the case names any."""
    if not regime.pie and "pir" not in table and "pire0" not in table:
        return regime
    f = Fields(path, name, "regime", table, REGIME_KEYS, params)
    return replace(regime, pir=_pi_register(f, "pir", table, params, KERNEL_PI[el2]["pir"]),
                   pire0=_pi_register(f, "pire0", table, params, KERNEL_PI[el2]["pire0"]))


def read_regime(path, name, table, params):
    f = Fields(path, name, "regime", table, REGIME_KEYS, params)
    granule = f.choice("granule", geometry.GRANULES, "4K")
    granule1 = f.choice("granule1", geometry.GRANULES, granule)
    ips_bits = f.int("ips", 48)
    if ips_bits not in geometry.IPS_ENCODING:
        raise f.error("ips", f"PA size {ips_bits} is not one of {sorted(geometry.IPS_ENCODING)}")
    mair = {idx: attr for idx, attr in MEMORY_TYPES.values()}
    overrides = table.get("mair", {})
    if not isinstance(overrides, dict):
        raise f.error("mair", "must be a table of index = attribute byte")
    for idx, attr in overrides.items():
        if not idx.isdigit() or int(idx) > 7 or not isinstance(attr, int) or not 0 <= attr <= 0xFF:
            raise f.error(f"mair.{idx}", "entries are index (0-7) = attribute byte (0x00-0xff)")
        if int(idx) in (LAYOUT["KERNEL_ATTRIDX_DEVICE"], LAYOUT["KERNEL_ATTRIDX_NORMAL"]):
            raise f.error(f"mair.{idx}", "indices 0 and 1 are the kernel's own mappings' (kernel/layout.h)")
        mair[int(idx)] = attr
    regime = Regime(
        tg0=geometry.GRANULES[granule], tg1=geometry.GRANULES[granule1],
        t0sz=f.int("t0sz", 16), t1sz=f.int("t1sz", 16), ips_bits=ips_bits,
        epd0=f.bool("epd0"), epd1=f.bool("epd1"), tbi0=f.bool("tbi0"), tbi1=f.bool("tbi1"),
        ds=f.bool("ds"), ha=f.bool("ha"), hd=f.bool("hd"), sctlr_a=f.bool("sctlr_a"),
        asid16=f.bool("asid16"), a1=f.bool("a1"), ttbr1=f.int("ttbr1"),
        mair=sum(attr << (8 * idx) for idx, attr in mair.items()),
        wxn=f.bool("wxn"), span=f.bool("span", True), epan=f.bool("epan"), pan=f.bool("pan"),
        hpd0=f.bool("hpd0"), hpd1=f.bool("hpd1"), e0pd0=f.bool("e0pd0"), e0pd1=f.bool("e0pd1"),
        mair2=f.int("mair2", 0), **{key: f.bool(key) for key in TCR2_FIELDS}, nv=f.bool("nv"), nv1=f.bool("nv1"),
        fnxs=f.bool("fnxs"), dze=f.bool("dze"), cmow=f.bool("cmow"),
    )
    for key in ("t0sz", "t1sz"):
        tsz = getattr(regime, key)
        # Below 16 (VAs above 48 bits) only FEAT_LPA2 (DS) or FEAT_LVA (64K) go.
        if not 12 <= tsz <= 48:
            raise f.error(key, f"{tsz} is outside 12..48")
    return regime



def read_stage2_geometry(path, name, table, params):
    """(granule shift, T0SZ, SL0, start level) of a [stage2] table, checked: the kernel
    runs under this stage 2, so its window must be in the IPA range (identity-mapped,
    kernel/stage2.c) and the start level one whose tables the walk can use."""
    f = Fields(path, name, "stage2", table, STAGE2_KEYS, params)
    tg = geometry.GRANULES[f.choice("granule", geometry.GRANULES, "4K")]
    ds, sl2 = f.bool("ds"), f.bool("sl2")
    if ds and tg == 16:
        raise f.error("ds", "VTCR_EL2.DS is for the 4K and 16K granules; 64K has 52 bits with ps = 52 (FEAT_LPA)")
    # AArch64.S2MinTxSZ: a 52-bit IPA with DS, or with the 64K granule and a 52-bit PS.
    min_t0sz = 12 if ds or tg == 16 and f.int("ps", 48) == 52 else 16
    t0sz = f.int("t0sz", 24)
    window_end = LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]
    if not min_t0sz <= t0sz <= 64 or window_end > 1 << (64 - t0sz):
        raise f.error("t0sz", f"{t0sz} is outside {min_t0sz}..{64 - window_end.bit_length()}: the IPA range must "
                      f"hold the kernel's window (up to {window_end - 1:#x}), mapped at IPA = PA (12 needs ds, or "
                      "the 64K granule with ps = 52)")
    ipa_bits = 64 - t0sz
    sl0 = f.int("sl0", geometry.s2_sl0(tg, geometry.s2_default_start_level(tg, ipa_bits)))
    if not (0 <= sl0 <= 2 or sl0 == 3 and tg == 14 and ds):
        raise f.error("sl0", f"{sl0} is not 0, 1 or 2 (3 is level 0 with 16K and ds; FEAT_TTST's level 3 with "
                      "4K is not supported here)")
    if sl2 and not (tg == 12 and ds and sl0 == 0):
        raise f.error("sl2", "VTCR_EL2.SL2 starts the walk at level -1 with the 4K granule, ds and sl0 = 0 only")
    level = geometry.s2_start_level(tg, sl0, sl2)
    bits = ipa_bits - geometry.level_shift(tg, level)
    if not 1 <= bits <= tg - 3 + 4:
        raise f.error("sl0", f"start level {level} with a {ipa_bits}-bit IPA resolves {bits} bits, not 1..{tg + 1}"
                      " (at most 16 concatenated tables): every access, the kernel's own, would fault")
    return tg, t0sz, sl0, level


def read_stage2(path, name, table, s2_geometry, body, names, steps):
    tg, t0sz, sl0, level = s2_geometry
    f = Fields(path, name, "stage2", table, STAGE2_KEYS, names)
    ps_bits = f.int("ps", 48)
    if ps_bits not in geometry.IPS_ENCODING:
        raise f.error("ps", f"PA size {ps_bits} is not one of {sorted(geometry.IPS_ENCODING)}")
    vs = f.bool("vs")
    vmid = f.int("vmid", 0)
    if not 0 <= vmid < 1 << (16 if vs else 8):
        raise f.error("vmid", f"{vmid:#x} does not fit in a {16 if vs else 8}-bit VMID")
    maps = tuple(read_s2_mapping(path, name, f"s2map[{i}]", m, names)
                 for i, m in enumerate(table_list(path, name, body, "s2map")))
    raws = []
    for i, r in enumerate(table_list(path, name, body, "s2raw")):
        g = Fields(path, name, f"s2raw[{i}]", r, {"ipa", "level", "desc"}, names)
        raws.append(Raw(va=g.int("ipa", required=True), level=g.int("level", required=True, signed=True),
                        desc=g.int("desc", required=True)))
    stage2 = Stage2(tg=tg, t0sz=t0sz, sl0=sl0, ps_bits=ps_bits, fwb=f.bool("fwb"), ha=f.bool("ha"), hd=f.bool("hd"),
                    vs=vs, vmid=vmid, maps=maps, raws=tuple(raws), ds=f.bool("ds"), sl2=f.bool("sl2"),
                    s2pie=f.bool("s2pie"), tdz=f.bool("tdz"), tpcp=f.bool("tpcp"), tpu=f.bool("tpu"),
                    s2pir=_pi_register(f, "s2pir", table, names, KERNEL_S2PI)
                    if f.bool("s2pie") or "s2pir" in table else 0)
    check_stage2_layout(path, name, stage2, steps)
    return stage2


def read_s2_mapping(path, name, where, table, names):
    f = Fields(path, name, where, table, S2MAP_KEYS, names)
    ipa, level = f.int("ipa", required=True), f.int("level", required=True, signed=True)
    pa = f.int("to", required=True)      # a PA, or a frame name (an expression over the case's names)
    memattr, xn = f.int("memattr", 0xF), f.int("xn", 0)
    if not 0 <= memattr <= 0xF:
        raise f.error("memattr", "MemAttr[3:0] is 0..15")
    if not 0 <= xn <= 3:
        raise f.error("xn", "XN[1:0] is 0..3")
    return S2Mapping(ipa=ipa, pa=pa, level=level, memattr=memattr, s2ap=f.choice("s2ap", S2AP_NAMES, "rw"),
                     sh=f.choice("sh", SH_NAMES, "inner"), xn=xn, af=f.bool("af", True),
                     contig=f.bool("contig"), dbm=f.bool("dbm"))



def read_mapping(path, name, i, table, names, where=None):
    f = Fields(path, name, where or f"map[{i}]", table, MAP_KEYS | ({"do", "expect"} if where else set()), names)
    if "mem" in table and "attrindx" in table:
        raise f.error("attrindx", "give either mem (a memory type name) or attrindx, not both")
    attrindx = f.int("attrindx") if "attrindx" in table else \
        MEMORY_TYPES[f.choice("mem", MEMORY_TYPES, "normal")][0]
    if not 0 <= attrindx <= 15:
        raise f.error("attrindx", "must be 0..7, or 8..15 with FEAT_AIE (regime aie: MAIR2's indices, AttrIndx[3])")
    # va and level first: a frame is placed only for a valid level, so a bad level is the error to report.
    va, level = f.int("va", required=True), f.int("level", required=True, signed=True)
    pa = f.int("to", required=True)      # a PA, or a frame name (an expression over the case's names)
    return Mapping(
        va=va, pa=pa, level=level,
        attrindx=attrindx, ap=f.choice("ap", AP_NAMES, "rw_el1"), sh=f.choice("sh", SH_NAMES, "inner"),
        af=f.bool("af", True), ng=f.bool("ng"), pxn=f.bool("pxn"), uxn=f.bool("uxn"), contig=f.bool("contig"),
        dbm=f.bool("dbm"), space=read_space(f),
    )


def read_space(f):
    """The `space` of a map, raw, tables entry or step: which TTBR0 table set (address space) it is in."""
    space = f.int("space", 0)
    if not 0 <= space < MAX_SPACES:
        raise f.error("space", f"{space} is not a table set 0..{MAX_SPACES - 1} (kernel/case.h MAX_SPACES)")
    return space


def read_table_attrs(path, name, i, table, names):
    f = Fields(path, name, f"tables[{i}]", table, {"va", "level", "aptable", "pxntable", "uxntable", "space"}, names)
    t = TableAttrs(va=f.int("va", required=True), level=f.int("level", required=True, signed=True),
                   aptable=f.choice("aptable", APTABLE_NAMES, "none"), pxntable=f.bool("pxntable"),
                   uxntable=f.bool("uxntable"), space=read_space(f))
    if t.level == 3:
        raise f.error("level", "level 3 holds pages, not table descriptors")
    return t


def read_raw(path, name, i, table, names):
    f = Fields(path, name, f"raw[{i}]", table, {"va", "level", "desc", "space"}, names)
    return Raw(va=f.int("va", required=True), level=f.int("level", required=True, signed=True),
               desc=f.int("desc", required=True), space=read_space(f))

