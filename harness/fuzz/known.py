"""Known QEMU bugs, as the suite marks them, and which mismatch each explains.

A known bug is a `[bug.<name>]` table of a case file (its QEMU version range
and reason are read from there, so the marks stay in one place) together
with the model changed to do what that QEMU does: one ASL function replaced
(AArch64.BlockDescSupported accepting a block where the architecture does
not, PAREncodeShareability passing the descriptor's SH through).  A mismatch
is explained by a bug when its QEMU is in the bug's range, the changed model
allows what was observed and the model itself does not: a check, not a
pattern match on fault codes.  tests/test_fuzz_known.py checks that each
change does turn the model's answer into QEMU's on the case the suite marks.
"""
import contextlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest import mock

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

import harness.model.descriptors as descriptors
import harness.model.translate as translate
from harness.kdefs import REPO
from harness.model import predict_case
from harness.model.oracle import observation_allowed
from harness.versions import in_range


def _blocks_also_at(granule, levels):
    """AArch64.BlockDescSupported, but also true for `levels` of `granule` whatever DS and the PA size say."""
    original = descriptors.block_desc_supported

    def block_desc_supported(params, level):
        return original(params, level) or params.granule == granule and level in levels
    return descriptors, "block_desc_supported", block_desc_supported


def _descriptor_shareability():
    """PAREncodeShareability, but reporting the descriptor's shareability for every memory type."""
    return translate, "par_encode_shareability", lambda memattrs, shareability: shareability


@dataclass(frozen=True)
class KnownBug:
    name: str               # the [bug.<name>] table
    case_file: str          # the case file that holds it, relative to the repository
    does: str               # what the QEMU does instead, as the changed model does it
    change: object          # () -> (module, attribute, replacement)

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
    def model(self):
        """The model as this QEMU behaves, while the context lasts."""
        module, attribute, replacement = self.change()
        with mock.patch.object(module, attribute, replacement):
            yield


@cache
def _bug_tables(case_file):
    return tomllib.loads((REPO / case_file).read_text())["bug"]


KNOWN_BUGS = (
    KnownBug("l0_block", "cases/translation.toml",
             "takes bits[1:0] = 0b01 at level 0 of the 4K granule as a 512 GiB block without DS",
             lambda: _blocks_also_at(12, (0,))),
    KnownBug("block_level_16k", "cases/granule16k.toml",
             "takes bits[1:0] = 0b01 at levels 0 and 1 of the 16K granule as a block without DS",
             lambda: _blocks_also_at(14, (0, 1))),
    KnownBug("l1_block_64k", "cases/granule64k.toml",
             "takes bits[1:0] = 0b01 at level 1 of the 64K granule as a 4 TiB block without 52-bit PAs",
             lambda: _blocks_also_at(16, (1,))),
    KnownBug("par_sh", "cases/at_par.toml",
             "reports the descriptor's SH in PAR_EL1.SH for Device and Normal Non-cacheable memory",
             _descriptor_shareability),
)


def explain(version, case, ids, pool_base, n, record, bugs=KNOWN_BUGS):
    """The known bug of QEMU `version` that explains step n's observation `record`, or None."""
    for bug in bugs:
        if not bug.affects(version):
            continue
        with bug.model():
            predictions = predict_case(case, ids, pool_base)
        if not observation_allowed(case.steps[n], predictions[n], record):
            return bug
    return None


def by_name(name):
    return next(b for b in KNOWN_BUGS if b.name == name)


def case_file_path(bug):
    return Path(REPO, bug.case_file)
