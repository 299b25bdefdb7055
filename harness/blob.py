"""Encode cases into the kernel's case blob (kernel/case.h), which QEMU loads at run time.

    python -m harness.blob --cases cases --out build/cases.bin

`encode(cases)` takes harness.cases.Case objects (hand-written or generated)
and returns the blob; `write(cases, path)` writes it.  Field values and
record sizes come from the kernel's headers (harness/kdefs.py), so the two
sides cannot drift apart unnoticed.  Exit status 2 on a bad case or a blob
the kernel could not hold.
"""
import argparse
import struct
import sys
from pathlib import Path

from harness import case_paths, declared
from harness.cases import (
    AP_NAMES, APTABLE_NAMES, DESC_WRITES, NXS_TLBI, S2_TLBI_OPS, S2_DESC_WRITES, S2AP_NAMES, SH_NAMES, TLBI_OPS,
    CaseError, tlbi_plain,
)
from harness.errors import HarnessError
from harness.ops import STORES
from harness.kdefs import kernel_header, read_constants

CASE_H = read_constants(kernel_header("case.h"))
HWDEF = read_constants(kernel_header("pgtable-hwdef.h"))
LAYOUT = read_constants(kernel_header("layout.h"))

# The records of case.h, little-endian; `x` is padding the kernel ignores.
_HEADER = struct.Struct("<IIII")                # magic, version, ncases, size
_REGIME = "BBBBB3xI4xQQQQQQ"                    # tg0, tg1, t0sz, t1sz, ips, flags, ttbr1, mair, tcr2, pir, pire0, mair2
_CASE = struct.Struct("<II" + _REGIME + "IIIIIIIIII")   # id, id_len, regime, (offset, count) x 5
_MAP = struct.Struct("<QQbBBBBB2x")             # va, pa, level, attrindx, ap, sh, flags, space
_TABLE = struct.Struct("<QbBBB4x")              # va, level, aptable, flags, space
_RAW = struct.Struct("<QQbB6x")                 # va, desc, level, space
_STEP = struct.Struct("<QQQIBbBB")              # va, value, mask, op, el, level, space, flags
_STAGE2 = struct.Struct("<BBBBHHIIIIQ")         # tg, t0sz, sl0, ps, flags, vmid, (offset, count) x 2, s2pir
_S2MAP = struct.Struct("<QQbBBBBB2x")           # ipa, pa, level, memattr, s2ap, sh, xn, flags

for _record, _size in ((_HEADER, "BLOB_HEADER_SIZE"), (_CASE, "BLOB_CASE_SIZE"), (_MAP, "BLOB_MAP_SIZE"),
                       (_TABLE, "BLOB_TABLE_SIZE"), (_RAW, "BLOB_RAW_SIZE"), (_STEP, "BLOB_STEP_SIZE"),
                       (_STAGE2, "BLOB_STAGE2_SIZE"), (_S2MAP, "BLOB_S2MAP_SIZE")):
    assert _record.size == CASE_H[_size], f"harness/blob.py's record for {_size} is not kernel/case.h's"

ALIGN = CASE_H["BLOB_ALIGN"]


class BlobError(ValueError):
    """Cases the blob format or the kernel's blob area cannot hold."""


def _flags(names, prefix):
    return sum(CASE_H[f"{prefix}_{name.upper()}"] for name, on in names.items() if on)


def _regime(c):
    r = c.regime
    flags = _flags({"epd0": r.epd0, "epd1": r.epd1, "tbi0": r.tbi0, "tbi1": r.tbi1, "ds": r.ds,
                    "ha": r.ha, "hd": r.hd, "sctlr_a": r.sctlr_a, "kernel_high": r.kernel_high,
                    "raw_ttbr1": r.ttbr1 is not None, "wxn": r.wxn, "span0": not r.span, "epan": r.epan,
                    "pan": r.pan, "hpd0": r.hpd0, "hpd1": r.hpd1, "e0pd0": r.e0pd0, "e0pd1": r.e0pd1,
                    "as": r.asid16, "a1": r.a1, "el2": c.el2 == "nvhe", "el20": c.el2 == "vhe", "nv": r.nv,
                    "nv1": r.nv1, "fnxs": r.fnxs, "dze": r.dze, "cmow": r.cmow}, "REGIME")
    return (r.tg0, r.tg1, r.t0sz, r.t1sz, r.ips, flags, r.ttbr1 or 0, r.mair, r.tcr2, r.pir, r.pire0, r.mair2)


def _map(m):
    flags = _flags({"af": m.af, "ng": m.ng, "pxn": m.pxn, "uxn": m.uxn, "contig": m.contig,
                    "dbm": m.dbm}, "MAP")
    return _MAP.pack(m.va, m.pa, m.level, m.attrindx, HWDEF[AP_NAMES[m.ap]], HWDEF[SH_NAMES[m.sh]], flags, m.space)


def _table(t):
    return _TABLE.pack(t.va, t.level, HWDEF[APTABLE_NAMES[t.aptable]],
                       _flags({"pxn": t.pxntable, "uxn": t.uxntable}, "TABLE_ATTR"), t.space)


def _raw(w):
    return _RAW.pack(w.va, w.desc, w.level, w.space)


def _s2map(m):
    flags = _flags({"af": m.af, "contig": m.contig, "dbm": m.dbm}, "S2MAP")
    return _S2MAP.pack(m.ipa, m.pa, m.level, m.memattr, HWDEF[S2AP_NAMES[m.s2ap]], HWDEF[SH_NAMES[m.sh]], m.xn, flags)


def _stage2(s2, place):
    flags = _flags({"fwb": s2.fwb, "ha": s2.ha, "hd": s2.hd, "vs": s2.vs, "ds": s2.ds, "sl2": s2.sl2,
                    "s2pie": s2.s2pie, "tdz": s2.tdz, "tpcp": s2.tpcp, "tpu": s2.tpu}, "STAGE2")
    maps = place(b"".join(_s2map(m) for m in s2.maps))
    raws = place(b"".join(_raw(w) for w in s2.raws))
    return _STAGE2.pack(s2.tg, s2.t0sz, s2.sl0, s2.ps, flags, s2.vmid, maps, len(s2.maps), raws, len(s2.raws),
                        s2.s2pir)


# Steps kernel/maint.c runs as one operation: a descriptor write of (value, mask).
_OP_NAMES = {"map": "WRITE_DESC", "unmap": "WRITE_DESC", "protect": "WRITE_DESC", "link": "WRITE_DESC",
             "dsb": "DSB_ISH", **{op: "S2_WRITE_DESC" for op in S2_DESC_WRITES}}


# Fix-ups by kind (cases.FIXUP_KINDS).
_FIXUP_OPS = {"map": "OP_FIXUP_MAP", "copy": "OP_FIXUP_COPY", "set_af": "OP_FIXUP_AF"}


def step_op(s):
    """The kernel's op and STEP_* flags for step s: a fix-up's, or its own, an nXS TLBI being its
    plain form's op with STEP_NXS (kernel/maint.c runs the nXS encoding)."""
    if s.fixup:
        return CASE_H[_FIXUP_OPS[s.fixup]], 0
    return CASE_H[f"OP_{_OP_NAMES.get(s.op, tlbi_plain(s.op)).upper()}"], CASE_H["STEP_NXS"] if s.op in NXS_TLBI else 0


def _step(c, n, s):
    op, flags = step_op(s)
    value, mask = s.value, s.mask
    if s.op in STORES and STORES[s.op] == 16:
        # the second register, or a Q register's high half (kernel/case.h OP_STP64, OP_VSTORE128)
        value, mask = s.value & (2**64 - 1), s.value >> 64
    if s.fixup:
        # The retry's access is the step before it; this record carries the descriptor write.
        value, mask = declared.descriptor_write(c, s)
    elif s.op in DESC_WRITES or s.op in S2_DESC_WRITES:
        value, mask = declared.descriptor_write(c, s, n)
    elif s.op in TLBI_OPS or s.op in S2_TLBI_OPS:
        value = declared.tlbi_operand(c, s)
    elif s.op in ("set_ttbr0", "set_ttbr1"):
        value = s.asid
    elif s.s2_under is not None:
        # An AT S12 under its own stage 2 (kernel/case.h): VTCR_EL2, and VTTBR_EL2's bits to flip.
        value, mask = declared.under_vtcr(c, s), s.s2_under.vttbr_flip
    # A fix-up is the kernel's own work, at EL1; its retry runs where the access before it ran.
    return _STEP.pack(s.va, value, mask, op, 1 if s.fixup else s.el, s.level or 0, s.space, flags)


def encode(cases):
    """The blob holding `cases`, in order (blob index i is cases[i]); BlobError
    if a case ID is too long or the blob would not fit the kernel's CASE_BLOB_SIZE."""
    cases = list(cases)
    body = bytearray()
    start = _HEADER.size + _CASE.size * len(cases)

    def place(data):
        """Offset of `data` appended to the body, aligned."""
        body.extend(b"\0" * (-len(body) % ALIGN))
        offset = start + len(body)
        body.extend(data)
        return offset

    records = []
    for c in cases:
        ident = c.id.encode("ascii")
        if len(ident) > CASE_H["BLOB_ID_MAX"]:
            raise BlobError(f"case ID {c.id!r} is longer than the kernel's {CASE_H['BLOB_ID_MAX']} characters")
        arrays = []
        for items, pack in ((c.maps, _map), (c.tables, _table), (c.raws, _raw),
                            (tuple(enumerate(c.steps)), lambda step, c=c: _step(c, *step))):
            arrays += [place(b"".join(pack(item) for item in items)), len(items)]
        if c.stage2 is None:
            arrays += [place(b""), 0]
        else:
            arrays += [place(_stage2(c.stage2, place)), 1]
        records.append(_CASE.pack(place(ident + b"\0"), len(ident), *_regime(c), *arrays))
    size = start + len(body)
    if size > LAYOUT["CASE_BLOB_SIZE"]:
        raise BlobError(f"{len(cases)} cases encode to {size} bytes, more than the kernel's "
                        f"CASE_BLOB_SIZE ({LAYOUT['CASE_BLOB_SIZE']} bytes, kernel/layout.h): split them")
    header = _HEADER.pack(CASE_H["BLOB_MAGIC"], CASE_H["BLOB_VERSION"], len(cases), size)
    return header + b"".join(records) + bytes(body)


def write(cases, path):
    """Encode `cases` into the file `path` (replaced whole, never left half-written)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode(cases))
    tmp.replace(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", required=True, nargs="+",
                        help="case directories and files (CASES=: harness/case_paths.py)")
    parser.add_argument("--out", required=True, type=Path, help="blob file to write")
    args = parser.parse_args(argv)
    try:
        paths = case_paths.split(args.cases)
        cases = case_paths.load(paths)
        if not cases:
            raise CaseError(" ".join(args.cases), "no cases in its *.toml files")
        write(cases, args.out)
    except (CaseError, BlobError, HarnessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
