"""harness/esr.py: fault status codes both ways, real ESR_EL1 values, describe()."""
import re

import pytest

from harness.esr import FAULT_CLASSES, decode_esr, decode_fsc, describe, fault_status

# Every (class, level) a case may name, with its code (Arm ARM D19.2, DFSC).
CODES = {
    **{("address_size", lv): 0b000000 + lv for lv in range(4)},
    ("address_size", -1): 0b101001,
    **{("translation", lv): 0b000100 + lv for lv in range(4)},
    ("translation", -1): 0b101011,
    **{("access_flag", lv): 0b001000 + lv for lv in range(4)},
    **{("permission", lv): 0b001100 + lv for lv in range(4)},
    **{("external_walk", lv): 0b010100 + lv for lv in range(4)},
    ("external_walk", -1): 0b010011,
    ("external", None): 0b010000,
    ("alignment", None): 0b100001,
    ("tlb_conflict", None): 0b110000,
    ("atomic_hw_update", None): 0b110001,
    ("unsupported_atomic", None): 0b110101,     # Fault_Exclusive
}


def test_every_class_is_covered():
    assert {cls for cls, _ in CODES} == set(FAULT_CLASSES)


@pytest.mark.parametrize("cls, level", CODES)
def test_fault_status_round_trip(cls, level):
    code = CODES[cls, level]
    assert fault_status(cls, level) == code
    assert decode_fsc(code) == (cls, level)


@pytest.mark.parametrize("code, decoded", [
    (0b110100, ("impdef", None)),       # lockdown
    (0b111101, ("unknown", None)),      # AArch32 section domain fault
    (0b111110, ("unknown", None)),      # AArch32 page domain fault
    (0b011000, ("unknown", None)),
])
def test_decode_fsc_other_codes(code, decoded):
    assert decode_fsc(code) == decoded


@pytest.mark.parametrize("cls, level, message", [
    ("permission", -1, "fault 'permission' has no level -1 (levels: 0, 1, 2, 3)"),
    ("access_flag", -1, "fault 'access_flag' has no level -1 (levels: 0, 1, 2, 3)"),
    ("translation", 4, "fault 'translation' has no level 4 (levels: -1, 0, 1, 2, 3)"),
    ("translation", None, "fault 'translation' needs a level (-1, 0, 1, 2, 3)"),
    ("alignment", 3, "fault 'alignment' has no level (got level 3)"),
    ("impdef", None, "unknown fault class 'impdef'"),
    ("unknown", None, "unknown fault class 'unknown'"),
])
def test_fault_status_rejects_impossible(cls, level, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fault_status(cls, level)


def test_data_abort_translation_level_3():
    esr = decode_esr(0x96000007)
    assert (esr.ec, esr.ec_name, esr.il) == (0x25, "dabt_cur", 1)
    assert (esr.fault, esr.level, esr.fsc) == ("translation", 3, 0x07)
    assert (esr.wnr, esr.isv, esr.s1ptw, esr.cm, esr.ea, esr.fnv) == (0, 0, 0, 0, 0, 0)
    assert describe(esr) == "data abort (same EL): translation fault, level 3 (DFSC 0x07), WnR=0"


def test_data_abort_permission_write():
    esr = decode_esr(0x9600004F)
    assert (esr.fault, esr.level, esr.wnr) == ("permission", 3, 1)
    assert describe(esr) == "data abort (same EL): permission fault, level 3 (DFSC 0x0f), WnR=1"


def test_instruction_abort_permission():
    esr = decode_esr(0x8600000F)
    assert (esr.ec, esr.ec_name) == (0x21, "iabt_cur")
    assert (esr.fault, esr.level) == ("permission", 3)
    assert esr.wnr is None and esr.isv is None and esr.cm is None     # RES0 for instruction aborts
    assert describe(esr) == "instruction abort (same EL): permission fault, level 3 (IFSC 0x0f)"


def test_alignment_fault():
    esr = decode_esr(0x96000021)
    assert (esr.fault, esr.level) == ("alignment", None)
    assert describe(esr) == "data abort (same EL): alignment fault (DFSC 0x21), WnR=0"


def test_brk():
    esr = decode_esr(0xF2000000)
    assert (esr.ec, esr.ec_name, esr.il, esr.iss) == (0x3C, "brk64", 1, 0)
    assert esr.fault is None and not esr.is_abort
    assert describe(esr) == "BRK instruction (EC 0x3c), ISS 0x0"


def test_abort_flags_shown_when_set():
    # Data abort from a lower EL: synchronous external abort with ISV, EA, FnV and S1PTW set.
    esr = decode_esr(0x92000000 | 1 << 24 | 1 << 10 | 1 << 9 | 1 << 7 | 0b010000)
    assert (esr.ec_name, esr.isv, esr.fnv, esr.ea, esr.s1ptw) == ("dabt_low", 1, 1, 1, 1)
    assert describe(esr) == ("data abort (lower EL): synchronous external abort (DFSC 0x10), WnR=0, "
                             "S1PTW=1, EA=1, FnV=1, ISV=1, SAS=0 SSE=0 SRT=0 SF=0 AR=0")


def test_instruction_syndrome_decoded_when_valid():
    # A stage 2 data abort of STR W1, [X0] (ISV=1, SAS=2, SRT=1, SF=0), WnR=1, translation fault level 3.
    esr = decode_esr(0x92000000 | 1 << 24 | 2 << 22 | 1 << 16 | 1 << 6 | 0b000111)
    assert (esr.isv, esr.sas, esr.sse, esr.srt, esr.sf, esr.ar) == (1, 2, 0, 1, 0, 0)
    assert decode_esr(0x92000007).sas is None      # ISV=0: no syndrome
    assert describe(esr).endswith("WnR=1, ISV=1, SAS=2 SSE=0 SRT=1 SF=0 AR=0")


def test_unlisted_exception_class():
    esr = decode_esr(0x3F << 26 | 0x123)
    assert esr.ec_name == "unlisted"
    assert describe(esr) == "unlisted exception class (EC 0x3f), ISS 0x123"
