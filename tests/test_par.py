"""harness/par.py: PAR_EL1 success and fault formats, MAIR attribute bytes."""
import pytest

from harness.par import decode_par, describe, describe_attr


def test_success():
    par = decode_par(0xFF00000041000B80)
    assert (par.f, par.pa, par.attr, par.sh, par.ns, par.res1) == (0, 0x41000000, 0xFF, "inner", 1, 1)
    assert par.fault is None
    assert describe(par) == ("PA 0x41000000, ATTR 0xff (Normal, Inner/Outer Write-Back), SH inner "
                             "(PAR 0xff00000041000b80)")


def test_success_52_bit_pa():
    # PA[51:48] sit in PAR bits [51:48]; the low 12 bits are not part of PA.
    par = decode_par(0x000F_1234_5678_9000 | 0b10 << 7)
    assert (par.pa, par.attr, par.sh) == (0xF_1234_5678_9000, 0x00, "outer")


def test_fault_translation_level_0():
    par = decode_par(0x809)
    assert (par.f, par.fst, par.fault, par.level, par.ptw, par.stage) == (1, 0x04, "translation", 0, 0, 1)
    assert par.pa is None
    assert describe(par) == "fault: translation fault, level 0 (FST 0x04), stage 1, PTW 0 (PAR 0x809)"


def test_fault_level_1_describe():
    assert describe(decode_par(0b000101 << 1 | 1)) == \
        "fault: translation fault, level 1 (FST 0x05), stage 1, PTW 0 (PAR 0xb)"


def test_fault_stage_2_on_walk():
    par = decode_par(1 << 9 | 1 << 8 | 0b001001 << 1 | 1)
    assert (par.fault, par.level, par.ptw, par.stage) == ("access_flag", 1, 1, 2)


@pytest.mark.parametrize("byte, text", [
    (0x00, "Device-nGnRnE"),
    (0x04, "Device-nGnRE"),
    (0x08, "Device-nGRE"),
    (0x0C, "Device-GRE"),
    (0x01, "reserved"),
    (0xFF, "Normal, Inner/Outer Write-Back"),
    (0x44, "Normal, Inner/Outer Non-cacheable"),
    (0xBB, "Normal, Inner/Outer Write-Through"),
    (0xEE, "Normal, Inner/Outer Write-Back read-allocate"),
    (0xCC, "Normal, Inner/Outer Write-Back no-allocate"),
    (0x4F, "Normal, Inner Write-Back, Outer Non-cacheable"),
    (0x77, "Normal, Inner/Outer Write-Back transient"),
    (0x31, "Normal, Inner Write-Through transient write-allocate, Outer Write-Through transient"),
    (0xF0, "Tagged Normal, Inner/Outer Write-Back"),
])
def test_describe_attr(byte, text):
    assert describe_attr(byte) == text
