"""A bad case file is rejected before anything runs, naming the file, the case
and the field: every kind of mistake through harness.cases.load_file, and a few
through the suite's own entry (pytest --cases=DIR), which must stop with exit
status 2 before QEMU boots anything.
"""
import re

import pytest

from harness.cases import OPS, CaseError, load_file
from suite_run import real_qemu, shell_script, suite, suite_options  # noqa: F401  (fixtures)

FEATURE = 'feature = "bad input"'
SUMMARY = 'summary = "a case with one mistake"'
MAP = 'map = [ { va = 0x8000_0000, to = "frame0", level = 3 } ]'
STEPS = 'steps = [ { do = "load64", va = 0x8000_0000, expect = "ok" } ]'


def case_file(directory, body):
    """bad.toml with one case, `bad`: `body`, plus a valid summary, map and steps where body has none.
    A body starting with "!" is the whole file."""
    if body.startswith("!"):
        text = body[1:]
    else:
        lines = [line for key, line in (("summary", SUMMARY), ("map", MAP), ("steps", STEPS))
                 if not re.search(rf"^{key}\s*=", body, re.M)]
        text = FEATURE + "\n[case.bad]\n" + "\n".join([*lines, body]) + "\n"
    path = directory / "bad.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))     # a lone surrogate: a byte that is not UTF-8
    return path


# (kind, case body, field the error must name (None: the file as a whole), words of the message)
BAD = [
    ("malformed_toml", "![case.bad\nsummary = 1", None, "not valid TOML"),
    ("no_case", '!summary = "a file without cases"', "summary", "unknown key"),
    ("unknown_case_key", 'colour = "red"', "colour", "unknown key"),
    ("unknown_map_key", 'map = [ { va = 0x8000_0000, to = "frame0", level = 3, flavour = 1 } ]',
     "map[0].flavour", "unknown key"),
    ("unknown_regime_key", 'regime = { granule = "4K", size = 48 }', "regime.size", "unknown key"),
    ("unknown_expect_key", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "translation", '
     'level = 3, why = "" } } ]', "steps[0].expect.why", "unknown key"),
    ("missing_summary", '!' + FEATURE + "\n[case.bad]\n" + MAP + "\n" + STEPS, "summary", "needs a summary"),
    ("missing_feature", '!' + "[case.bad]\n" + SUMMARY + "\n" + MAP + "\n" + STEPS, "feature", "names the feature"),
    ("wrong_type_va", 'map = [ { va = true, to = "frame0", level = 3 } ]', "map[0].va", "must be an integer"),
    ("wrong_type_level", 'map = [ { va = 0x8000_0000, to = "frame0", level = 2.5 } ]', "map[0].level",
     "must be an integer"),
    ("wrong_type_flag", 'map = [ { va = 0x8000_0000, to = "frame0", level = 3, af = 1 } ]', "map[0].af",
     "must be true or false"),
    ("wrong_type_steps", 'steps = "load64"', "steps", "must be an array of tables, not the string 'load64'"),
    ("bad_expression", 'map = [ { va = "base + 0x1000", to = "frame0", level = 3 } ]', "map[0].va", "base"),
    ("bad_granule", 'regime = { granule = "8K" }', "regime.granule", "not one of"),
    ("misaligned_block_output", 'map = [ { va = 0x8020_0000, to = 0x8010_0000, level = 2 } ]', "map[0].to",
     "must be aligned"),
    ("misaligned_page_va", 'map = [ { va = 0x8000_0800, to = "frame0", level = 3 } ]', "map[0].va",
     "must be aligned"),
    ("va_outside_range", 'regime = { t0sz = 25 }\nmap = [ { va = 0x80_0000_0000, to = "frame0", level = 3 } ]',
     "map[0].va", "outside the 39-bit range"),
    ("kernel_window_overlap", 'map = [ { va = 0x4100_0000, to = "frame0", level = 3 } ]', "map[0].va",
     "collides with the kernel's own mapping 0x40000000-0x41ffffff"),
    ("uart_page_overlap", 'raw = [ { va = 0x0900_0000, level = 3, desc = 0 } ]', "raw[0].va",
     "collides with the kernel's own mapping 0x9000000-"),
    ("block_covering_uart", 'map = [ { va = 0, to = 0, level = 1 } ]', "map[0].va", "collides with the kernel's own"),
    ("unknown_fault", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "translaton", level = 3 } } ]',
     "steps[0].expect.fault", "'translaton' is not one of"),
    ("fault_level_impossible", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "translation", '
     'level = 4 } } ]', "steps[0].expect.level", "has no level 4"),
    ("unknown_op", 'steps = [ { do = "load128", va = 0x8000_0000, expect = "ok" } ]', "steps[0].do",
     "'load128' is not one of"),
    ("store_value_on_load", 'steps = [ { do = "load64", va = 0x8000_0000, value = 1, expect = "ok" } ]',
     "steps[0].value", "only stores and atomics take a value"),
    ("value_too_wide_for_load", 'steps = [ { do = "load32", va = 0x8000_0000, expect = { value = 0x1_0000_0000 } } ]',
     "steps[0].expect.value", "does not fit in a 32-bit load"),
    ("level_outside_regime", 'regime = { granule = "64K" }\nmap = [ { va = 0x8000_0000, to = "frame0", level = 0 } ]',
     "map[0].level", "outside this regime's levels 1..3"),
    ("selftest_wrong_outcome", 'steps = [ { do = "selftest_hang", expect = { value = 1 } } ]', "steps[0].expect",
     "can only expect 'hang'"),
    ("bad_timeout", 'timeout = 0', "timeout", "above 0"),
    ("el_unknown", 'steps = [ { do = "load64", el = 2, va = 0x8000_0000, expect = "ok" } ]', "steps[0].el",
     "EL0 or EL1"),
    ("dc_with_a_value", 'steps = [ { do = "dc_civac", va = 0x8000_0000, value = 1, expect = "ok" } ]', "steps[0].value",
     "dc_civac writes nothing: it takes no value"),
    ("dc_at_el0", 'steps = [ { do = "dc_ivac", el = 0, va = 0x8000_0000, expect = "ok" } ]', "steps[0].el",
     "dc_ivac cannot run at EL0"),
    ("el0_at", 'steps = [ { do = "at_s1e1r", el = 0, va = 0x8000_0000, expect = { pa = 0 } } ]', "steps[0].el",
     "at_s1e1r cannot run at EL0"),
    ("control_without_feature", 'regime = { pan = true }', "regime.pan", 'needs FEAT_PAN: add requires'),
    ("op_without_feature", 'steps = [ { do = "at_s1e1rp", va = 0x8000_0000, expect = { pa = 0 } } ]',
     "steps[0].do", "needs FEAT_PAN2"),
    ("pc_alignment_of_a_load", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "pc_alignment" } } ]',
     "steps[0].expect.fault", "comes from a fetch"),
    ("el0_page_overlap", 'map = [ { va = 0x0901_0000, to = "frame0", level = 3 } ]', "map[0].va",
     "collides with the kernel's own mapping 0x9010000-"),
    ("el0_code_barred_by_e0pd1", 'requires = ["FEAT_E0PD"]\nregime = { t0sz = 36, e0pd1 = true }\n'
     'map = [ { va = 0x20_0000, to = "frame0", level = 3 } ]\n'
     'steps = [ { do = "load64", el = 0, va = 0x20_0000, expect = "ok" } ]', "regime.e0pd1", "forbids EL0"),
    ("s2_sl2_without_ds", 'requires = ["FEAT_LPA2"]\nstage2 = { t0sz = 24, sl0 = 0, sl2 = true }', "stage2.sl2",
     "level -1 with the 4K granule, ds and sl0 = 0 only"),
    ("s2_start_level_needs_pa_size", 'stage2 = { t0sz = 24, sl0 = 2 }', "stage2.sl0",
     "valid only with an implemented PA size of 44 bits or more"),
    ("s2_t0sz_12_without_ds", 'stage2 = { t0sz = 12 }', "stage2.t0sz", "12 needs ds"),
    ("s1_ha_under_stage2", 'requires = ["FEAT_HAFDBS"]\nregime = { ha = true }\nstage2 = { t0sz = 24 }', "regime.ha",
     "stage 1 hardware updates (TCR_EL1.HA/HD) under stage 2 are not supported"),
    ("s2_fwb_without_feature", 'stage2 = { t0sz = 24, fwb = true }', "stage2.fwb", "needs FEAT_S2FWB"),
    ("at_s1_stage2_not_on_walk", 'stage2 = { t0sz = 24 }\nsteps = [ { do = "at_s1e1r", va = 0x8000_0000, '
     'expect = { fault = "translation", level = 3, stage = 2 } } ]', "steps[0].expect.s1ptw",
     "its only stage 2 fault is on its stage 1 walk"),
    ("at_s1_abort_wnr", 'stage2 = { t0sz = 24 }\nsteps = [ { do = "at_s1e1r", va = 0x8000_0000, '
     'expect = { fault = "translation", level = 3, stage = 2, s1ptw = true, wnr = false } } ]',
     "steps[0].expect.wnr", "always has WnR = 1"),
    ("space_out_of_range", 'map = [ { va = 0x8000_0000, to = "frame0", level = 3, space = 4 } ]', "map[0].space",
     "not a table set 0..3"),
    ("space_in_ttbr1", 'map = [ { va = 0xffff_0000_8000_0000, to = "frame0", level = 3, space = 1 } ]',
     "map[0].space", "TTBR1's half, which has one table set"),
    ("space_without_home", 'regime = { t0sz = 36 }\nmap = [ { va = 0x20_0000, to = "frame0", level = 3, space = 1 } ]',
     "map[0].space", "needs the kernel's identity home"),
    ("space_with_fixup", 'map = [ { va = 0x8000_0000, to = "frame0", level = 3, space = 1 } ]\n'
     'steps = [ { do = "load64", va = 0x8000_1000, expect = { fault = "translation", level = 3 }, '
     'fixup = { kind = "map", level = 3, to = "frame0" }, retry = "ok" } ]', "steps[0].fixup",
     "fix-ups act on the first table set"),
    ("link_at_level_3", 'steps = [ { do = "link", va = 0x8000_0000, level = 3, table_of = 0x8020_0000 } ]',
     "steps[0].level", "level 0, 1 or 2"),
    ("range_tlbi_misaligned", 'requires = ["FEAT_TLBIRANGE"]\n'
     'steps = [ { do = "tlbi_rvaae1", va = 0x8000_0800 } ]', "steps[0].va", "not a multiple of 0x1000"),
    ("vhe_without_feature", 'el2 = "vhe"', "requires", "needs FEAT_VHE"),
    ("pie_without_feature", 'regime = { pie = true }', "regime.pie", "needs FEAT_S1PIE"),
    # HCR_EL2.NV/NV1 (FEAT_NV) cases: EL1's accesses, fetches and AT alone, NV1 with NV (validation._check_nested).
    ("nv_with_a_tlbi", 'requires = ["FEAT_NV"]\nregime = { nv = true }\n'
     'steps = [ { do = "tlbi_vmalle1" } ]', "steps[0].do", "runs EL1's accesses, fetches and AT steps alone"),
    ("fnxs_with_el2", 'requires = ["FEAT_XS", "FEAT_HCX"]\nel2 = "nvhe"\nregime = { fnxs = true }', "regime.fnxs",
     "the steps run at EL1"),
    ("cmow_without_feature", 'regime = { cmow = true }', "regime.cmow", "needs FEAT_CMOW"),
    ("fnxs_without_hcx", 'requires = ["FEAT_XS"]\nregime = { fnxs = true }', "requires", "needs FEAT_HCX too"),
    # GCSPUSHM and GCSPOPM (FEAT_GCS): GCSPR_ELx's VA, a multiple of 8; EL1 and EL0 of EL1&0, no stage 2, no NV.
    # A case-file mark's CPU features (bug.<name>.features): harness.features names, as requires takes them.
    ("bug_feature_unknown", '!' + FEATURE + '\n[bug.b]\nqemu = "<8"\nreason = "r"\nfeatures = ["FEAT_LSE3"]\n'
     '[case.bad]\n' + SUMMARY + '\n' + MAP + '\n' + STEPS + '\nxfail = "b"', "bug.b.features[0]", "unknown feature 'FEAT_LSE3'"),
    ("bug_features_not_a_list", '!' + FEATURE + '\n[bug.b]\nqemu = "<8"\nreason = "r"\nfeatures = "FEAT_LSE2"\n'
     '[case.bad]\n' + SUMMARY + '\n' + MAP + '\n' + STEPS + '\nxfail = "b"', "bug.b.features", "an array of feature names"),
    ("gcspushm_without_feature", 'steps = [ { do = "gcspushm", va = 0x8000_0000, value = 0, expect = "ok" } ]',
     "steps[0].do", "needs FEAT_GCS"),
    ("gcs_data_check_of_a_load", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "gcs_data_check" } } ]', "steps[0].expect.fault",
     "comes from the check of what GCSPOPM pops"),
    ("system_trap_of_a_store", 'steps = [ { do = "store64", va = 0x8000_0000, value = 0, expect = { fault = '
     '"system_trap" } } ]', "steps[0].expect.fault", "comes from DC ZVA (SCTLR_EL1.DZE"),
    ("system_trap_to_el3", 'steps = [ { do = "dc_zva", va = 0x8000_0000, expect = { fault = "system_trap", stage = 3 } } ]',
     "steps[0].expect.stage", "taken to EL1 (stage = 1) or to EL2"),
    ("gcsss1_gcspr_unaligned", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "gcsss1", va = 0x8000_0000, value = 0x8000_0404, expect = "ok" } ]', "steps[0].value",
     "a multiple of 8"),
    ("gcspopm_unaligned", 'requires = ["FEAT_GCS"]\nsteps = [ { do = "gcspopm", va = 0x8000_0004, expect = "ok" } ]',
     "steps[0].va", "a multiple of 8"),
    # GCSSS2 and the exception return records: GCSPR_ELx's VA; a record in one 4KB page; the records EL1's alone.
    ("gcsss2_unaligned", 'requires = ["FEAT_GCS"]\nsteps = [ { do = "gcsss2", va = 0x8000_0004, expect = "ok" } ]',
     "steps[0].va", "a multiple of 8"),
    ("gcspushx_record_across_pages", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "gcspushx", va = 0x8000_1010, value = 1, expect = "ok" } ]', "steps[0].va",
     "crosses a 4KB page"),
    ("gcspopcx_record_across_pages", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "gcspopcx", va = 0x8000_0fe8, value = 1, expect = "ok" } ]', "steps[0].va",
     "crosses a 4KB page"),
    ("gcspopx_at_el0", 'requires = ["FEAT_GCS"]\nsteps = [ { do = "gcspopx", va = 0x8000_0000, el = 0, expect = "ok" } ]',
     "steps[0].el", "cannot run at EL0"),
    ("gcspopx_with_a_value", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "gcspopx", va = 0x8000_0000, value = 1, expect = "ok" } ]', "steps[0].value", "takes no value"),
    ("gcs_data_check_of_gcspushx", 'requires = ["FEAT_GCS"]\n'
     'steps = [ { do = "gcspushx", va = 0x8000_0018, value = 1, expect = { fault = "gcs_data_check" } } ]',
     "steps[0].expect.fault", "comes from the check"),
    ("gcspushm_at_el2", 'requires = ["FEAT_GCS"]\nel2 = "nvhe"\n'
     'steps = [ { do = "gcspushm", va = 0x8000_0000, value = 0, expect = "ok" } ]', "steps[0].do",
     "not in a case with el2 or [stage2]"),
    ("gcspopm_under_stage2", 'requires = ["FEAT_GCS"]\nstage2 = { t0sz = 24 }\n'
     'steps = [ { do = "gcspopm", va = 0x8000_0000, expect = "ok" } ]', "steps[0].do",
     "not in a case with el2 or [stage2]"),
    ("gcspopm_under_nv", 'requires = ["FEAT_NV", "FEAT_GCS"]\nregime = { nv = true }\n'
     'steps = [ { do = "gcspopm", va = 0x8000_0000, expect = "ok" } ]', "steps[0].do",
     "runs EL1's accesses, fetches and AT steps alone"),
    ("nv1_without_nv", 'requires = ["FEAT_NV", "FEAT_E2H0"]\nregime = { nv1 = true }\n'
     'steps = [ { do = "at_s1e1r", va = 0x8000_0000, expect = { pa = "frame0" } } ]', "regime.nv1", "NV1 without NV"),
    ("nv1_without_e2h0", 'requires = ["FEAT_NV"]\nregime = { nv = true, nv1 = true }\n'
     'steps = [ { do = "at_s1e1r", va = 0x8000_0000, expect = { pa = "frame0" } } ]', "requires", "needs FEAT_E2H0"),
    ("pir_kernel_index", 'requires = ["FEAT_S1PIE"]\nregime = { pie = true, pir = { 8 = 1 } }', "regime.pir.8",
     "the kernel's own mappings'"),
    ("pir_not_4_bits", 'requires = ["FEAT_S1PIE"]\nregime = { pie = true, pir = { 2 = 16 } }', "regime.pir.2",
     "not a 4-bit encoding"),
    ("pir_bad_index", 'requires = ["FEAT_S1PIE"]\nregime = { pie = true, pir = { 16 = 1 } }', "regime.pir.16",
     "unknown key"),
    ("s2pir_kernel_index", 'requires = ["FEAT_S2PIE"]\nstage2 = { t0sz = 24, s2pie = true, s2pir = { 1 = 0 } }',
     "stage2.s2pir.1", "the kernel's own mappings'"),
    ("s2pie_without_feature", 'stage2 = { t0sz = 24, s2pie = true }', "stage2.s2pie", "needs FEAT_S2PIE"),
    ("vhe_with_stage2", 'el2 = "vhe"\nrequires = ["FEAT_VHE"]\nstage2 = { t0sz = 24 }\n'
     's2map = [ { ipa = 0x8000_0000, to = "frame0", level = 3 } ]', "stage2", "not the EL2&0 regime"),
    ("el2_asid_without_e2h", 'el2 = "nvhe"\nsteps = [ { do = "tlbi_vae2", va = 0x8000_0000, asid = 3 } ]',
     "steps[0].asid", "no ASID with HCR_EL2.E2H = 0"),
    ("isv_of_a_fetch", 'steps = [ { do = "fetch", va = 0x8000_0000, expect = { fault = "translation", level = 3, '
     'isv = false } } ]', "steps[0].expect.isv", "a load's or store's Data Abort"),
    # Errors that point at the fix (issue 23): the type expected and the type found, the closest names.
    ("bool_level", 'map = [ { va = 0x8000_0000, to = "frame0", level = true } ]', "map[0].level",
     "must be an integer, not the boolean true"),
    ("summary_not_text", "summary = 5", "summary", "must be a sentence saying which rule the case checks, not the integer 5"),
    ("word_level", 'map = [ { va = 0x8000_0000, to = "frame0", level = "two" } ]', "map[0].level",
     "must be an integer, not the string 'two' (a string here is an expression over the case's matrix parameters"),
    ("op_misspelt", 'steps = [ { do = "stor64", va = 0x8000_0000, expect = "ok" } ]', "steps[0].do",
     f"'stor64' is not one of the {len(OPS)} known (did you mean 'store64'"),
    ("fault_misspelt", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "permision", level = 3 } } ]',
     "steps[0].expect.fault", "(did you mean 'permission'?)"),
    ("fault_capitalised", 'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "Permission", level = 3 } } ]',
     "steps[0].expect.fault", "(did you mean 'permission'?)"),
    ("key_misspelt", 'steps = [ { do = "load64", va = 0x8000_0000, expct = "ok" } ]', "steps[0].expct",
     "unknown key (did you mean 'expect'?)"),
    ("frame_misspelt", 'steps = [ { do = "map", va = 0x8000_1000, level = 3, to = "fram0" } ]', "steps[0].to",
     "frame 'fram0' is not one of the case's frames (did you mean 'frame0'?)"),
    ("feature_misspelt", 'requires = ["FEAT_PAM"]', "requires[0]", "unknown feature 'FEAT_PAM' (did you mean 'FEAT_PAN'"),
    ("inline_table_split", 'steps = [ { do = "load64", va = 0x8000_0000,\n  expect = "ok" } ]', None,
     "line 5, column 45: not valid TOML: Invalid initial character for a key part (an inline table { ... } must fit "
     "on one line"),
    ("choice_not_text", 'map = [ { va = 0x8000_0000, to = "frame0", level = 3, ap = ["rw_el1"] } ]', "map[0].ap",
     "must be a string (one of: rw_el1, rw_all, ro_el1, ro_all), not an array"),
    ("not_utf8", "!" + FEATURE + '\n# caf\udce9\n[case.bad]\n' + SUMMARY, None, "line 2, column 6: not UTF-8 text (byte 0xe9)"),
    ("value_beyond_64_bits", 'steps = [ { do = "store64", va = 0x8000_0000, value = 0x1_0000_0000_0000_0000, expect = "ok" } ]',
     "steps[0].value", "0x10000000000000000 does not fit in 64 bits"),
    ("expression_divides_by_zero", 'map = [ { va = "0x8000_0000 // 0", to = "frame0", level = 3 } ]', "map[0].va",
     "is an expression that does not evaluate: '0x8000_0000 // 0': integer division or modulo by zero"),
    ("expression_too_wide", 'map = [ { va = "2 ** 1000000", to = "frame0", level = 3 } ]', "map[0].va",
     "makes a number wider than 256 bits"),
    ("tables_without_table", 'map = []\ntables = [ { va = 0x8000_0000, level = 2, pxntable = true } ]\n'
     'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "translation", level = 1 } } ]', "tables",
     "the kernel cannot build this case's tables: tables: no table descriptor for 0x80000000 at level 2"),
]


@pytest.mark.parametrize("body, field, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_case_is_rejected_naming_file_case_and_field(tmp_path, body, field, message):
    path = case_file(tmp_path, body)
    with pytest.raises(CaseError) as e:
        load_file(path)
    assert e.value.path == path
    assert e.value.where == field
    if field is not None and not body.startswith("!"):
        assert e.value.case == "bad"
    assert message in str(e.value)
    # The message a user reads holds all three.
    assert str(e.value).startswith(f"{path}: " + (f"case 'bad': field {field!r}: " if e.value.case else ""))


def test_the_template_itself_is_valid(tmp_path):
    # Otherwise every rejection above could be the template's fault, not the mistake's.
    assert [c.name for c in load_file(case_file(tmp_path, ""))] == ["bad"]


# Through the suite's entry: one of each family of mistake.
@pytest.mark.parametrize("kind", ["malformed_toml", "unknown_op", "kernel_window_overlap", "wrong_type_va"])
def test_suite_stops_before_running_anything(suite, tmp_path, real_qemu, kind):
    _, body, field, message = next(b for b in BAD if b[0] == kind)
    cases = tmp_path / "cases"
    cases.mkdir()
    path = case_file(cases, body)
    # A QEMU that notes every boot: there must be none.
    boots = tmp_path / "boots"
    qemu = shell_script(tmp_path / "qemu-system-aarch64", f"""
[ "$1" = --version ] || echo "$*" >> {boots}
exec {real_qemu} "$@"
""")
    run = suite("-n", "2", cases=cases, qemu=qemu)
    assert run.returncode == 2, run.output
    assert str(path) in run.output and message in run.output, run.output
    if field:
        assert f"case 'bad': field {field!r}" in run.output, run.output
    # Refused before anything ran: no QEMU booted, no results written (how fast is the bench's business).
    assert not boots.exists() and run.results is None
