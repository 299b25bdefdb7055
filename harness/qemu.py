"""Run the test kernel under qemu-system-aarch64 and collect what it prints.

The kernel's UART and QEMU's monitor share the pty (`-serial mon:stdio`), so a
run that hangs can still be asked where its CPU is before it is killed.
"""
import bisect
import functools
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pexpect

from harness.errors import HarnessError
from harness.kdefs import kernel_header, read_defines
from harness.versions import parse_version


NM = "aarch64-linux-gnu-nm"

# The oldest QEMU the suite supports: Ubuntu 22.04's.  Older ones are refused
# up front rather than failing cases in ways that look like MMU results.
MIN_VERSION = (6, 2)

# Time allowed, after a run's deadline, to ask the monitor for the PC and let QEMU quit.
DIAGNOSTIC_TIMEOUT = 2.0
# Wide enough that no line QEMU or the kernel prints is ever wrapped.
PTY_SIZE = (24, 1000)


@dataclass(frozen=True)
class RunResult:
    command: list
    output: str             # everything printed on the pty, "\r\n" turned into "\n"
    exit_status: int | None  # QEMU's exit code, which is the kernel's status; None if it hung or was signalled
    signal: int | None      # the signal that killed QEMU, if one did
    timed_out: bool
    pc: int | None          # where the CPU was when the run timed out
    symbol: str | None      # pc as "symbol+0xoff" in the kernel image
    wall: float             # seconds from spawn until QEMU was reaped


@functools.cache
def qemu_version(qemu: str) -> str:
    """'7.2.22' for `qemu`; HarnessError, saying how to fix it, if it cannot be
    run or is older than MIN_VERSION."""
    fix = ("install it with `apt-get install qemu-system-arm`, "
           "or name another binary with --qemu PATH (make QEMU=PATH)")
    try:
        proc = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HarnessError(f"cannot run QEMU binary {qemu!r} ({e}): {fix}") from None
    match = re.search(r"version (\d+\.\d+(?:\.\d+)?)", proc.stdout)
    if proc.returncode != 0 or not match:
        raise HarnessError(f"{qemu!r} --version failed or printed no version "
                           f"(exit {proc.returncode}): {fix}")
    if parse_version(match.group(1)) < MIN_VERSION:
        raise HarnessError(f"{qemu!r} is QEMU {match.group(1)}, older than "
                           f"{'.'.join(map(str, MIN_VERSION))}, the oldest the suite supports: {fix}")
    return match.group(1)


# The kernel's layout.h is the one place the RAM size and the case blob's place are written.
LAYOUT = read_defines(kernel_header("layout.h"))


# The kernel's command-line option for walk records (docs/protocol.md); it takes
# room on the command line too, which batches are sized to.
WALKS_OPTION = "+walks"


def default_blob(kernel) -> Path:
    """The case blob `make` writes next to the kernel."""
    return Path(kernel).with_name("cases.bin")


def qemu_command(qemu: str, cpu: str, kernel, case_ids, el2: bool = False, blob=None,
                 walks: bool = True) -> list[str]:
    """The QEMU command line that boots `kernel` and runs `case_ids` in one go.

    `case_ids` are case IDs or blob index ranges (`#first-last`, `#index`) of
    `blob` (a file harness/blob.py wrote; default: the one next to the kernel),
    which QEMU loads where the kernel reads it (CASE_BLOB_BASE).  `walks`: the
    kernel reports the descriptors each step's walk reads (walk records);
    campaigns that need only the steps' outcomes turn it off for speed."""
    for case_id in case_ids:
        # QEMU's option parser would need commas doubled, and the kernel splits
        # its command line at spaces, so such an ID could not arrive intact.
        if not case_id or "," in case_id or any(c.isspace() for c in case_id):
            raise ValueError(f"case ID {case_id!r} is empty or holds a comma or whitespace")
    # With no arg= at all QEMU passes the kernel's file name as the command
    # line, which the kernel would take for a case ID: an empty arg= runs none.
    tokens = [WALKS_OPTION, *case_ids] if walks else list(case_ids)
    args = "".join(f",arg={token}" for token in tokens) or ",arg="
    blob = default_blob(kernel) if blob is None else blob
    if "," in str(blob):
        raise ValueError(f"case blob path {str(blob)!r} holds a comma, which QEMU's -device option cannot take")
    return [
        qemu,
        "-M", "virt,virtualization=on" if el2 else "virt",
        "-cpu", cpu,
        "-m", f"{LAYOUT['RAM_SIZE'] >> 20}M",
        "-nodefaults", "-display", "none",
        "-serial", "mon:stdio",
        "-no-reboot",
        "-semihosting-config", "enable=on,target=native" + args,
        "-kernel", str(kernel),
        "-device", f"loader,file={blob},addr={LAYOUT['CASE_BLOB_BASE']:#x},force-raw=on",
    ]


def run_kernel(qemu: str, cpu: str, kernel, case_ids, timeout: float = 10.0,
               el2: bool = False, blob=None, walks: bool = True) -> RunResult:
    """Boot `kernel` with `case_ids` of `blob` (default: the one next to the kernel)
    and wait up to `timeout` seconds, in all, for it to exit.

    A run still going at the deadline is a hang: its PC is read from the
    monitor and QEMU is killed.  No QEMU process outlives this call, whatever
    is raised.
    """
    qemu_version(qemu)      # a clear HarnessError now, rather than pexpect's
    if not Path(kernel).is_file():
        raise HarnessError(f"no kernel at {kernel}: build it with `make kernel`")
    blob = default_blob(kernel) if blob is None else Path(blob)
    if not blob.is_file():
        raise HarnessError(f"no case blob at {blob}: `make kernel` writes one from the case files, "
                           "harness.blob.write() from Case objects")
    if blob.stat().st_size > LAYOUT["CASE_BLOB_SIZE"]:
        raise HarnessError(f"case blob {blob} is larger than the kernel's CASE_BLOB_SIZE "
                           f"({LAYOUT['CASE_BLOB_SIZE']} bytes, kernel/layout.h)")
    command = qemu_command(qemu, cpu, kernel, case_ids, el2, blob, walks)
    start = time.monotonic()
    deadline = start + timeout
    child = pexpect.spawn(command[0], command[1:], encoding="utf-8", codec_errors="replace",
                          timeout=timeout, echo=False, dimensions=PTY_SIZE)
    try:
        # pexpect sleeps before every send(), and ptyprocess in close() to let
        # the child exit; QEMU needs no pause to take input, and by close() it
        # has been reaped or is to be killed.  Runs are many, so it adds up.
        child.delaybeforesend = None
        child.ptyproc.delayafterclose = 0
        output, timed_out = _read_until_exit(child, deadline)
        pc = None
        if timed_out:
            pc = _monitor_pc(child)
            child.terminate(force=True)
    finally:
        child.close(force=True)
    wall = time.monotonic() - start
    return RunResult(
        command=command,
        output=output.replace("\r\n", "\n"),
        # After a timeout QEMU exits 0 on the monitor's "quit": not the kernel's status.
        exit_status=None if timed_out else child.exitstatus,
        signal=None if timed_out else child.signalstatus,
        timed_out=timed_out,
        pc=pc,
        symbol=None if pc is None else symbol_for(kernel, pc),
        wall=wall,
    )


def _read_until_exit(child, deadline):
    """All output until QEMU exits and is reaped, or the deadline passes: (output, timed_out)."""
    chunks = []
    # Reading straight from the pty, rather than expect()ing a pattern, keeps
    # every byte however long the output and costs no repeated searching.
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "".join(chunks), True
        try:
            chunks.append(child.read_nonblocking(65536, timeout=remaining))
        except pexpect.TIMEOUT:
            return "".join(chunks), True
        except pexpect.EOF:
            break
    # The pty closes as QEMU exits; wait (boundedly) for its exit status.
    while child.isalive():
        if time.monotonic() >= deadline:
            return "".join(chunks), True
        time.sleep(0.002)
    return "".join(chunks), False


def _monitor_pc(child):
    """Ask QEMU's monitor for the CPU's PC, then tell QEMU to quit; None if it does not answer in time."""
    deadline = time.monotonic() + DIAGNOSTIC_TIMEOUT
    pc = None
    try:
        child.send("\x01c")     # Ctrl-A c: the stdio mux switches from the UART to the monitor
        child.send("info registers\r")
        # The monitor prints a "(qemu)" prompt before the dump as well as after
        # it, so wait for the register itself.  The first dump line is
        # " PC=<16 hex digits> X00=...".
        child.expect(r"PC=([0-9a-fA-F]+)", timeout=DIAGNOSTIC_TIMEOUT)
        pc = int(child.match.group(1), 16)
        child.send("quit\r")
        child.expect(pexpect.EOF, timeout=max(0.0, deadline - time.monotonic()))
    except (pexpect.TIMEOUT, pexpect.EOF, OSError):
        pass                    # a QEMU too wedged to answer is killed all the same
    return pc


def symbol_for(kernel, pc: int) -> str | None:
    """`pc` as "symbol+0xoff" in `kernel`; None outside the image's symbols or without nm.
    A PC in the EL0 code page (layout.h) is named by the image's code it maps."""
    path = Path(kernel)
    try:
        addresses, names = _symbols(str(path.resolve()), path.stat().st_mtime_ns)
    except (OSError, subprocess.CalledProcessError):
        return None
    for page in (LAYOUT["EL0_CODE_VA"], LAYOUT["EL0_CODE_ALIAS_VA"]):
        if page <= pc < page + LAYOUT["EL0_CODE_SIZE"]:
            pc += LAYOUT["EL0_CODE_PA"] - page
    i = bisect.bisect_right(addresses, pc) - 1
    # At or past the last symbol (the image's end marker) the PC is outside the
    # image, in a case frame say, and an offset from that symbol would mislead.
    if i < 0 or i == len(addresses) - 1:
        return None
    return f"{names[i]}+{pc - addresses[i]:#x}"


@functools.cache
def _symbols(path, mtime_ns):
    """(sorted addresses, names) of the defined symbols of the ELF at `path`; the mtime keys the cache."""
    out = subprocess.run([NM, "-n", path], capture_output=True, text=True, check=True).stdout
    addresses, names = [], []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue            # undefined symbols have no address
        address = int(fields[0], 16)
        # Several names can share an address; nm -n lists them in a stable order, keep the first.
        if addresses and addresses[-1] == address:
            continue
        addresses.append(address)
        names.append(fields[2])
    return addresses, names
