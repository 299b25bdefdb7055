"""The case blob: harness/blob.py's encoding read back by the kernel's own
kernel/blob.c (built for the host), every malformation blob.c must refuse,
and the kernel under QEMU refusing a bad blob and running cases by index."""
import ctypes
import dataclasses
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness import blob, declared
from harness.cases import DESC_WRITES, MAINT_OPS, load_dir
from harness.kdefs import kernel_header, read_constants
from harness.protocol import parse_output
from harness.qemu import run_kernel
from host.blob_host import blob_check as check, blob_library
from suite_run import cpu, qemu  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
CASES = load_dir(ROOT / "cases")
KERNEL = ROOT / "build" / "kernel.elf"
CASE_H = read_constants(kernel_header("case.h"))
LAYOUT = read_constants(kernel_header("layout.h"))


# The SCTLR_EL1, PSTATE, TCR_EL1 and HCR_EL2 controls of EL0, execute, PAN and nested cases, as struct
# regime names them.
REGIME_CONTROLS = ("wxn", "span", "epan", "pan", "hpd0", "hpd1", "e0pd0", "e0pd1", "nv", "nv1", "fnxs", "dze", "cmow")


class Regime(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint8) for n in ("tg0", "tg1", "t0sz", "t1sz", "ips")] + \
               [(n, ctypes.c_bool) for n in ("epd0", "epd1", "tbi0", "tbi1", "ds", "ha", "hd", "sctlr_a",
                                             "kernel_high", "raw_ttbr1", "as_", "a1", "el20")] + \
               [(n, ctypes.c_bool) for n in (*REGIME_CONTROLS, "el2")] + \
               [(n, ctypes.c_uint64) for n in ("ttbr1", "mair", "tcr2", "pir", "pire0", "mair2")]


class Map(ctypes.Structure):
    _fields_ = [("va", ctypes.c_uint64), ("pa", ctypes.c_uint64), ("level", ctypes.c_int8),
                ("attrindx", ctypes.c_uint8), ("ap", ctypes.c_uint8), ("sh", ctypes.c_uint8),
                ("flags", ctypes.c_uint8), ("space", ctypes.c_uint8)]


class Step(ctypes.Structure):
    _fields_ = [("va", ctypes.c_uint64), ("value", ctypes.c_uint64), ("mask", ctypes.c_uint64),
                ("op", ctypes.c_uint32), ("el", ctypes.c_uint8), ("level", ctypes.c_int8), ("space", ctypes.c_uint8),
                ("flags", ctypes.c_uint8)]


class TableAttrs(ctypes.Structure):
    _fields_ = [("va", ctypes.c_uint64), ("level", ctypes.c_int8), ("aptable", ctypes.c_uint8),
                ("flags", ctypes.c_uint8)]


class MmutCase(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char_p), ("regime", Regime), ("maps", ctypes.POINTER(Map)),
                ("tables", ctypes.POINTER(TableAttrs)), ("raws", ctypes.c_void_p), ("steps", ctypes.POINTER(Step)),
                ("nmaps", ctypes.c_uint32), ("ntables", ctypes.c_uint32), ("nraws", ctypes.c_uint32),
                ("nsteps", ctypes.c_uint32), ("nspaces", ctypes.c_uint32), ("stage2", ctypes.c_void_p), ("s2maps", ctypes.c_void_p),
                ("s2raws", ctypes.c_void_p)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    lib = blob_library(tmp_path_factory.mktemp("blob"))
    lib.blob_case.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(MmutCase)]
    return lib


def test_every_case_reads_back_as_encoded(lib):
    data = blob.encode(CASES)
    assert check(lib, data) == (True, None, None)
    assert len(data) <= LAYOUT["CASE_BLOB_SIZE"]
    buffer = ctypes.create_string_buffer(data, len(data))     # the blob stays put while the case points into it
    for i, case in enumerate(CASES):
        c = MmutCase()
        lib.blob_case(buffer, i, ctypes.byref(c))
        r = case.regime
        assert c.id.decode() == case.id
        assert (c.regime.tg0, c.regime.tg1, c.regime.t0sz, c.regime.t1sz, c.regime.ips) == \
            (r.tg0, r.tg1, r.t0sz, r.t1sz, r.ips)
        assert [getattr(c.regime, f) for f in ("epd0", "epd1", "tbi0", "tbi1", "ds", "ha", "hd", "sctlr_a",
                                               "kernel_high")] == \
            [r.epd0, r.epd1, r.tbi0, r.tbi1, r.ds, r.ha, r.hd, r.sctlr_a, r.kernel_high]
        assert (c.regime.raw_ttbr1, c.regime.ttbr1, c.regime.mair) == (r.ttbr1 is not None, r.ttbr1 or 0, r.mair)
        assert (c.regime.tcr2, c.regime.pir, c.regime.pire0, c.regime.mair2) == (r.tcr2, r.pir, r.pire0, r.mair2)
        assert (c.regime.as_, c.regime.a1) == (r.asid16, r.a1)
        assert (c.regime.el2, c.regime.el20) == (case.el2 == "nvhe", case.el2 == "vhe")
        assert [getattr(c.regime, f) for f in REGIME_CONTROLS] == [getattr(r, f) for f in REGIME_CONTROLS]
        assert (c.nmaps, c.ntables, c.nraws, c.nsteps, c.nspaces) == (len(case.maps), len(case.tables),
                                                                    len(case.raws), len(case.steps), case.spaces)
        for k, m in enumerate(case.maps):
            assert (c.maps[k].va, c.maps[k].pa, c.maps[k].level, c.maps[k].attrindx, c.maps[k].space) == (
                m.va, m.pa, m.level, m.attrindx, m.space)
            assert bool(c.maps[k].flags & CASE_H["MAP_AF"]) == m.af
        for k, t in enumerate(case.tables):
            assert (c.tables[k].va, c.tables[k].level) == (t.va, t.level)
            assert (bool(c.tables[k].flags & CASE_H["TABLE_ATTR_PXN"]), bool(c.tables[k].flags & CASE_H["TABLE_ATTR_UXN"])) \
                == (t.pxntable, t.uxntable)
        for k, s in enumerate(case.steps):
            op, flags = blob.step_op(s)
            assert (c.steps[k].va, c.steps[k].op, c.steps[k].level, c.steps[k].space, c.steps[k].flags) == \
                (s.va, op, s.level or 0, s.space, flags)
            assert c.steps[k].el == (1 if s.fixup else s.el)
            if s.op in DESC_WRITES or s.fixup:
                assert (c.steps[k].value, c.steps[k].mask) == declared.descriptor_write(case, s, k)
            elif s.op in ("stp64", "vstore128", "stxp64", "stlxp64"):   # the high 64 bits in the mask field (case.h)
                assert c.steps[k].value | c.steps[k].mask << 64 == s.value
            elif s.s2_under is not None:
                assert (c.steps[k].value, c.steps[k].mask) == (declared.under_vtcr(case, s), s.s2_under.vttbr_flip)
            elif s.op not in MAINT_OPS:
                assert c.steps[k].value == s.value


def test_empty_blob_is_valid(lib):
    assert check(lib, blob.encode([])) == (True, None, None)


def _case_record(data, index):
    """Offset of case record `index`, and its fields."""
    offset = CASE_H["BLOB_HEADER_SIZE"] + index * CASE_H["BLOB_CASE_SIZE"]
    return offset, list(blob._CASE.unpack_from(data, offset))


# Fields of the case record struct as blob._CASE unpacks them.
ID, ID_LEN, TG0, T0SZ, FLAGS, MAPS, NMAPS, STEPS, NSTEPS = 0, 1, 2, 4, 7, 14, 15, 20, 21


def _with_case_field(data, index, field, value):
    offset, fields = _case_record(data, index)
    fields[field] = value
    out = bytearray(data)
    blob._CASE.pack_into(out, offset, *fields)
    return bytes(out)


def _with_header(data, **changes):
    magic, version, ncases, size = struct.unpack_from("<IIII", data)
    values = {"magic": magic, "version": version, "ncases": ncases, "size": size, **changes}
    return struct.pack("<IIII", *values.values()) + data[16:]


DEMO = blob.encode(CASES[:3])


def _step_op(data, index, op, el=1, flags=0):
    """The first step of case `index` made `op`, run at `el`, with STEP_* `flags`."""
    _, fields = _case_record(data, index)
    out = bytearray(data)
    struct.pack_into("<IB", out, fields[STEPS] + Step.op.offset, op, el)
    struct.pack_into("<B", out, fields[STEPS] + Step.flags.offset, flags)
    return bytes(out)


def _id_byte(data, index, k, byte):
    _, fields = _case_record(data, index)
    out = bytearray(data)
    out[fields[ID] + k] = byte
    return bytes(out)


MALFORMED = {
    "short": (DEMO[:8], "magic", None),
    "magic": (_with_header(DEMO, magic=0x12345678), "magic", None),
    "version": (_with_header(DEMO, version=CASE_H["BLOB_VERSION"] + 1), "version", None),
    "size_beyond_data": (_with_header(DEMO, size=len(DEMO) + 8), "size", None),
    "cases_beyond_size": (_with_header(DEMO, ncases=1000), "size", None),
    "truncated": (DEMO[:-8], "size", None),
    "maps_out_of_bounds": (_with_case_field(DEMO, 1, MAPS, len(DEMO)), "maps", 1),
    "maps_count_huge": (_with_case_field(DEMO, 1, NMAPS, 0xFFFFFFFF), "maps", 1),
    "maps_misaligned": (_with_case_field(DEMO, 1, MAPS, _case_record(DEMO, 1)[1][MAPS] + 4), "maps", 1),
    "steps_out_of_bounds": (_with_case_field(DEMO, 2, STEPS, 0xFFFFFFF8), "steps", 2),
    "op_unknown": (_step_op(DEMO, 2, CASE_H["OP_COUNT"]), "steps", 2),
    # A fix-up retries the access before it: never the first step.
    "fixup_first": (_step_op(DEMO, 2, CASE_H["OP_FIXUP_MAP"]), "steps", 2),
    "id_out_of_bounds": (_with_case_field(DEMO, 0, ID, len(DEMO)), "id", 0),
    "id_not_terminated": (_with_case_field(DEMO, 0, ID_LEN, 3), "id", 0),
    "id_empty": (_with_case_field(DEMO, 0, ID_LEN, 0), "id", 0),
    "id_with_space": (_id_byte(DEMO, 0, 1, ord(" ")), "id", 0),
    "id_with_equals": (_id_byte(DEMO, 0, 1, ord("=")), "id", 0),
    "granule": (_with_case_field(DEMO, 1, TG0, 13), "regime", 1),
    "t0sz": (_with_case_field(DEMO, 1, T0SZ, 60), "regime", 1),
    "flags_unknown": (_with_case_field(DEMO, 1, FLAGS, 1 << 31), "regime", 1),
    "el_unknown": (_step_op(DEMO, 2, CASE_H["OP_LOAD64"], el=2), "steps", 2),
    "el0_op_not_run_at_el0": (_step_op(DEMO, 2, CASE_H["OP_AT_S1E1R"], el=0), "steps", 2),
    # STEP_NXS names a TLBI's nXS form: no other op has one, and no other flag is defined.
    "nxs_not_a_tlbi": (_step_op(DEMO, 2, CASE_H["OP_LOAD64"], flags=CASE_H["STEP_NXS"]), "steps", 2),
    "step_flags_unknown": (_step_op(DEMO, 2, CASE_H["OP_TLBI_VAE1"], flags=0x80), "steps", 2),
    # The kernel must keep a home: TTBR0 walks off and no alias in TTBR1 is refused.
    "no_kernel_home": (_with_case_field(DEMO, 1, FLAGS, CASE_H["REGIME_EPD0"]), "regime", 1),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_blob_is_refused(lib, name):
    data, field, index = MALFORMED[name]
    assert check(lib, data) == (False, field, index)


def test_blob_larger_than_the_kernel_area_is_refused(lib):
    assert check(lib, DEMO, capacity=len(DEMO) - 8) == (False, "size", None)


def test_encoder_refuses_what_the_kernel_cannot_hold():
    long_id = dataclasses.replace(CASES[0], name="x" * CASE_H["BLOB_ID_MAX"])
    with pytest.raises(blob.BlobError, match="longer than the kernel's"):
        blob.encode([long_id])
    many = CASES * (LAYOUT["CASE_BLOB_SIZE"] // len(blob.encode(CASES)) + 1)
    with pytest.raises(blob.BlobError, match="CASE_BLOB_SIZE"):
        blob.encode(many)


def test_cli_refuses_a_directory_without_cases(tmp_path):
    run = subprocess.run([sys.executable, "-m", "harness.blob", "--cases", str(tmp_path), "--out",
                          str(tmp_path / "b.bin")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and f"error: {tmp_path}: no cases" in run.stderr
    assert not (tmp_path / "b.bin").exists()


# ---------------------------------------------------------------- under QEMU

@pytest.fixture
def kernel():
    if not KERNEL.is_file():
        pytest.skip(f"no {KERNEL}: run `make kernel`")
    return KERNEL


@pytest.mark.parametrize("name", ["version", "steps_out_of_bounds"])
def test_kernel_refuses_a_bad_blob(qemu, cpu, kernel, tmp_path, name):
    data, field, index = MALFORMED[name]
    (tmp_path / "bad.bin").write_bytes(data)
    run = run_kernel(qemu, cpu, kernel, [CASES[0].id], blob=tmp_path / "bad.bin")
    out = parse_output(run.output)
    assert out.garbage == [] and run.exit_status == 1, run.output
    error = [r for r in out.records if r.event == "error"]
    assert [(r.word("what"), r.word("field"), r.fields.get("index")) for r in error] == [("bad_blob", field, index)]
    assert out.cases() == {}         # nothing ran


def test_cases_by_index_range(qemu, cpu, kernel, tmp_path):
    """`#first-last` runs blob indices, `#i` one; the records name the cases by ID, a bad range is an error."""
    chosen = CASES[:4]
    blob.write(chosen, tmp_path / "four.bin")
    run = run_kernel(qemu, cpu, kernel, ["#1-2", "#0", "#3-2", "#4", "#1-x"], blob=tmp_path / "four.bin")
    out = parse_output(run.output)
    assert out.garbage == [] and out.boot.num("cases") == 4, run.output
    assert list(out.cases()) == [chosen[1].id, chosen[2].id, chosen[0].id]
    by_id = {case.id: case for case in chosen}
    assert all(c.end and len(c.steps) == len(by_id[i].steps) for i, c in out.cases().items())
    bad = [r.word("range") for r in out.records if r.event == "error"]
    assert bad == ["#3-2", "#4", "#1-x"] and run.exit_status == 1
