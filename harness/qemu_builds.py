"""One naming of QEMU builds for every tool (QEMU= of make run, compare, fuzz, bench,
debug; QEMUS= of make compare; pytest's --qemu): a build tools/qemus.py fetched
(`bookworm`, `bookworm-backports`, `trixie`, `sid`: its wrapper), `system` (the
qemu-system-aarch64 on PATH), a path (anything with a `/`: a QEMU built from
source), or a command on PATH (the default, qemu-system-aarch64).
"""
import importlib.util
import os
import shutil
from pathlib import Path

from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "qemu-system-aarch64"


def qemus_tool():
    """tools/qemus.py as a module (a script, not in a package)."""
    spec = importlib.util.spec_from_file_location("qemus", ROOT / "tools" / "qemus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolve_qemu(name):
    """The qemu-system-aarch64 binary `name` stands for (see the module's doc); a
    HarnessError saying how to get it otherwise."""
    if name == "system":
        name = SYSTEM
    if "/" in name:
        if not (os.path.isfile(name) and os.access(name, os.X_OK)):
            raise HarnessError(f"QEMU {name!r} is not an executable file: give the path of a built "
                               f"qemu-system-aarch64, a build `make qemus` fetched, or `system` "
                               f"(apt-get install qemu-system-arm)")
        return os.path.abspath(name)
    qemus = qemus_tool()
    try:
        builds = qemus.cached(qemus.cache_dir())
    except qemus.BadManifest as e:
        raise HarnessError(str(e)) from None
    if name in builds:
        return builds[name]["wrapper"]
    found = shutil.which(name)
    if found:
        return found
    if name in qemus.BUILDS:
        raise HarnessError(f"QEMU build {name!r} is not fetched in {qemus.cache_dir()}: fetch it with "
                           f"`make qemus QEMUS={name}`")
    if name == SYSTEM:
        raise HarnessError(f"there is no {SYSTEM} on PATH: apt-get install qemu-system-arm, or name another "
                           f"QEMU (QEMU=<build>|<path>)")
    fetched = ", ".join(builds) or "none yet"
    raise HarnessError(f"QEMU {name!r} is neither a build (fetched: {fetched}; `make qemus` fetches "
                       f"{', '.join(qemus.BUILDS)}), nor `system`, nor a path, nor a command on PATH")
