"""make debug CASE=<id>: run one case with QEMU's gdbstub and gdb-multiarch attached.

The case is looked up first (its ID, or pytest's node ID `cases/<file>.toml::<name>`;
an unknown one is refused with the closest IDs) and QEMU boots in the mode the
case needs (virtualization=on for stage 2, EL2 and EL2&0 cases, as the suite
runs it).  QEMU starts stopped at the kernel's first instruction; gdb has the
kernel's symbols, a breakpoint where the case's steps start (run_steps, MMU on,
the case's tables in TTBR0/TTBR1) and one on the exception handler.  The case's
records go to the terminal as it runs.  Useful in gdb: `info registers`,
`p/x $TTBR0_EL1`, `x/4gx <table>`, `monitor info registers`, `continue`.

Batch use: GDB_ARGS= (--gdb-args) goes to gdb after that set-up and before its
first `continue`, e.g. `make debug CASE=... GDB_ARGS='-batch -x steps.gdb'`.
"""
import argparse
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import blob, case_paths
from harness.cases import CaseError
from harness.errors import HarnessError
from harness.qemu import qemu_command
from harness.qemu_builds import resolve_qemu

GDB = "gdb-multiarch"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gdb_command(kernel, port, gdb_args=()):
    """gdb attached to QEMU's gdbstub, stopped where the case's steps start and on exceptions."""
    return [GDB, "-q", str(kernel),
            "-ex", f"target remote 127.0.0.1:{port}",
            "-ex", "break run_steps",
            "-ex", "break handle_exception",
            *gdb_args,
            "-ex", "continue"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.debug", description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", default="qemu-system-aarch64",
                        help="QEMU (QEMU=): a fetched build's name (make qemus), `system`, or a path")
    parser.add_argument("--cpu", default="max", help="QEMU -cpu model (CPU=)")
    parser.add_argument("--kernel", default="build/kernel.elf")
    parser.add_argument("--cases", action="append",
                        help="case directories or files (CASES=; default: cases/): where the case is looked up")
    parser.add_argument("--gdb-args", default="", help="more gdb arguments (GDB_ARGS=), e.g. '-batch -x FILE'")
    parser.add_argument("case", help="case ID, e.g. 'translation.invalid_descriptor[l2]', or pytest's node ID")
    args = parser.parse_args(argv)
    try:
        case = case_paths.find(case_paths.load(case_paths.split(args.cases)), args.case)
        qemu = resolve_qemu(args.qemu)
    except (HarnessError, CaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mmu-debug-") as workdir:
        # A blob of this case alone, encoded from its file now: whatever blob the build holds.
        case_blob = Path(workdir) / "case.bin"
        blob.write([case], case_blob)
        try:
            command = qemu_command(qemu, args.cpu, args.kernel, [case.id], boot=case.boot, blob=case_blob)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return _debug(command, case, qemu, args)


def _debug(command, case, qemu, args):
    port = _free_port()
    # The terminal belongs to gdb: QEMU's console (records) goes to stdout, with no stdin and no monitor.
    command += ["-S", "-gdb", f"tcp:127.0.0.1:{port}"]
    print(f"debug: {case.id} ({case.boot} boot) on {qemu} -cpu {args.cpu}", flush=True)
    qemu_process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        return subprocess.call(gdb_command(args.kernel, port, shlex.split(args.gdb_args)))
    except FileNotFoundError:
        print(f"error: {GDB} is not installed: apt-get install gdb-multiarch", file=sys.stderr)
        return 2
    finally:
        qemu_process.kill()
        qemu_process.wait()


if __name__ == "__main__":
    sys.exit(main())
