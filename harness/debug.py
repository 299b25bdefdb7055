"""make debug CASE=<id>: run one case with QEMU's gdbstub and gdb-multiarch attached.

QEMU starts stopped at the kernel's first instruction; gdb has the kernel's
symbols, a breakpoint where the case's steps start (run_steps, MMU on, the
case's tables in TTBR0/TTBR1) and one on the exception handler.  The case's
records go to the terminal as it runs.  Useful in gdb: `info registers`,
`p/x $TTBR0_EL1`, `x/4gx <table>`, `monitor info registers`, `continue`.
"""
import argparse
import socket
import subprocess
import sys

from harness.errors import HarnessError
from harness.qemu import qemu_command

GDB = "gdb-multiarch"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", default="qemu-system-aarch64")
    parser.add_argument("--cpu", default="max")
    parser.add_argument("--kernel", default="build/kernel.elf")
    parser.add_argument("case", help="case ID, e.g. 'translation.invalid_descriptor[l2]'")
    args = parser.parse_args(argv)
    port = _free_port()
    try:
        command = qemu_command(args.qemu, args.cpu, args.kernel, [args.case])
    except (HarnessError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # The terminal belongs to gdb: QEMU's console (records) goes to stdout, with no stdin and no monitor.
    command += ["-S", "-gdb", f"tcp:127.0.0.1:{port}"]
    qemu = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        return subprocess.call([
            GDB, "-q", args.kernel,
            "-ex", f"target remote 127.0.0.1:{port}",
            "-ex", "break run_steps",
            "-ex", "break handle_exception",
            "-ex", "continue",
        ])
    except FileNotFoundError:
        print(f"error: {GDB} is not installed: apt-get install gdb-multiarch", file=sys.stderr)
        return 2
    finally:
        qemu.kill()
        qemu.wait()


if __name__ == "__main__":
    sys.exit(main())
