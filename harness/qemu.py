"""Run the test kernel under qemu-system-aarch64 and collect what it prints.

The kernel's UART is QEMU's stdio (a pty), and carries every record
(CONSOLES: semihosting's SYS_WRITE0 carries them only when asked, and its
output is otherwise thrown away, so nothing can arrive by the other channel
unnoticed); QEMU's monitor is on a socket pair
of its own (no port, no file), so the harness can ask a silent kernel where
its CPU is without a byte of the monitor's text mixing into the records.
"""
import bisect
import functools
import os
import re
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pexpect
import ptyprocess

from harness.errors import HarnessError
from harness.kdefs import kernel_header, read_defines
from harness.versions import parse_version


NM = "aarch64-linux-gnu-nm"

# The oldest QEMU the suite supports: Ubuntu 22.04's.  Older ones are refused
# up front rather than failing cases in ways that look like MMU results.
MIN_VERSION = (6, 2)

# Time allowed, after a run's deadline, to ask the monitor for the PC and let QEMU quit.
DIAGNOSTIC_TIMEOUT = 2.0
# Seconds a QEMU run of a case may take before it is stopped (conftest.py --case-timeout).
CASE_TIMEOUT = 10.0
# The progress check: after HANG_CHECK seconds without output the CPU's registers are read
# twice, PROGRESS_GAP seconds apart.  A kernel at work changes some register in that time (TCG
# writes them back at every translation block); one that loops on the spot, or waits for an
# interrupt that never comes, does not.
HANG_CHECK = 0.25
PROGRESS_GAP = 0.1
# Before the first output the silence may be QEMU still starting, its CPU at the entry point:
# the first check waits this much longer.
STARTUP_GRACE = 0.75
# How often a run that may be stopped from another thread (run_kernel's `stop`) looks.
STOP_POLL = 0.05
# Seconds _drain waits for each piece of what a pty still holds after QEMU exited.
DRAIN_WAIT = 0.2
# The exception vector table is 16 entries of 0x80 bytes (VBAR_EL1); the kernel's is `vectors`.
VECTORS_SIZE = 0x800
# Wide enough that no line QEMU or the kernel prints is ever wrapped.
PTY_SIZE = (24, 1000)


@dataclass(frozen=True)
class RunResult:
    command: list
    output: str             # everything printed on the pty, "\r\n" turned into "\n"
    exit_status: int | None  # QEMU's exit code, which is the kernel's status; None if it hung or was signalled
    signal: int | None      # the signal that killed QEMU, if one did
    timed_out: bool         # stopped at the run's timeout
    pc: int | None          # where the CPU was when the run was stopped
    symbol: str | None      # pc as "symbol+0xoff" in the kernel image
    wall: float             # seconds from spawn until QEMU was reaped
    timeout: float = None   # the run's time limit
    stalled: str | None = None  # stopped by the progress check: why it judged the kernel stuck
    cut: str | None = None      # stopped because run_kernel's `watch` said so: its reason

    @property
    def stopped(self):
        """Stopped by the harness (a hang), rather than ended by QEMU."""
        return self.timed_out or self.stalled is not None


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

# Where the kernel writes its records (docs/protocol.md): the PL011 UART, or semihosting's
# SYS_WRITE0 (the kernel's +semihosting option); both reach the harness on QEMU's stdio.
CONSOLES = ("uart", "semihosting")
CONSOLE_OPTIONS = {"semihosting": "+semihosting"}

# Boot modes (docs/protocol.md): where a boot's cases run.  "el1": at EL1, QEMU without
# EL2; "stage2": from EL1 under the kernel's EL2 half (virtualization=on; EL2's own regime's
# cases move the kernel to EL2 and back); "vhe": at EL2 in
# the EL2&0 regime (virtualization=on and the kernel's +vhe option).  Every case of a boot
# has its mode (harness.cases.Case.boot).
BOOT_MODES = ("el1", "stage2", "vhe")
# The kernel's command-line option of a mode, read at its EL2 entry (kernel/start.S).
BOOT_OPTIONS = {"vhe": "+vhe"}


def boot_tokens(boot, console="uart"):
    """The command-line tokens a boot of mode `boot` on console `console` begins with."""
    if boot not in BOOT_MODES:
        raise ValueError(f"unknown boot mode {boot!r}; known: {', '.join(BOOT_MODES)}")
    if console not in CONSOLES:
        raise ValueError(f"unknown console {console!r}; known: {', '.join(CONSOLES)}")
    return [option for option in (BOOT_OPTIONS.get(boot), CONSOLE_OPTIONS.get(console)) if option]


def default_blob(kernel) -> Path:
    """The case blob `make` writes next to the kernel."""
    return Path(kernel).with_name("cases.bin")


_COMMA_OR_SPACE = re.compile(r"[,\s]")


def qemu_command(qemu: str, cpu: str, kernel, case_ids, boot: str = "el1", blob=None,
                 walks: bool = True, monitor_fd: int = None, console: str = "uart") -> list[str]:
    """The QEMU command line that boots `kernel` and runs `case_ids` in one go.

    `case_ids` are case IDs or blob index ranges (`#first-last`, `#index`) of
    `blob` (a file harness/blob.py wrote; default: the one next to the kernel),
    which QEMU loads where the kernel reads it (CASE_BLOB_BASE), in boot mode
    `boot` (BOOT_MODES).  `walks`: the
    kernel reports the descriptors each step's walk reads (walk records);
    campaigns that need only the steps' outcomes turn it off for speed.  With
    `monitor_fd` (an inherited socket), QEMU's monitor is on that socket.
    `console` (CONSOLES): the channel of the kernel's records."""
    for case_id in case_ids:
        # QEMU's option parser would need commas doubled, and the kernel splits
        # its command line at spaces, so such an ID could not arrive intact.
        if not case_id or _COMMA_OR_SPACE.search(case_id):
            raise ValueError(f"case ID {case_id!r} is empty or holds a comma or whitespace")
    # With no arg= at all QEMU passes the kernel's file name as the command
    # line, which the kernel would take for a case ID: an empty arg= runs none.
    tokens = [*boot_tokens(boot, console), *([WALKS_OPTION] if walks else []), *case_ids]
    args = "".join(f",arg={token}" for token in tokens) or ",arg="
    blob = default_blob(kernel) if blob is None else blob
    if "," in str(blob):
        raise ValueError(f"case blob path {str(blob)!r} holds a comma, which QEMU's -device option cannot take")
    return [
        qemu,
        "-M", "virt" if boot == "el1" else "virt,virtualization=on",
        "-cpu", cpu,
        "-m", f"{LAYOUT['RAM_SIZE'] >> 20}M",
        "-nodefaults", "-display", "none",
        # The UART on stdio, and semihosting's console there too when it carries the records
        # (kernel/console.c); otherwise what semihosting writes is lost, never mistaken for a record.
        "-chardev", "stdio,id=console,mux=on", "-serial", "chardev:console",
        *(() if console == "semihosting" else ("-chardev", "null,id=semihosting")),
        *(() if monitor_fd is None else
          # The human monitor on the socket pair (-monitor, not -mon, which QEMU 11 deprecates).
          ("-chardev", f"socket,id=monitor,fd={monitor_fd}", "-monitor", "chardev:monitor")),
        "-no-reboot",
        "-semihosting-config", f"enable=on,target=native,chardev={'console' if console == 'semihosting' else 'semihosting'}"
        + args,
        "-kernel", str(kernel),
        "-device", f"loader,file={blob},addr={LAYOUT['CASE_BLOB_BASE']:#x},force-raw=on",
    ]


def run_kernel(qemu: str, cpu: str, kernel, case_ids, timeout: float = 10.0,
               boot: str = "el1", blob=None, walks: bool = True, hang_check: float | None = HANG_CHECK,
               watch=None, stop=None, console: str = "uart") -> RunResult:
    """Boot `kernel` with `case_ids` of `blob` (default: the one next to the kernel)
    and wait up to `timeout` seconds, in all, for it to exit, its records on `console` (CONSOLES).

    A run that prints nothing for `hang_check` seconds (None: never checked) and whose CPU
    makes no progress (see HANG_CHECK) is a hang, and so is a run still going at the
    deadline: its PC is read from the monitor and QEMU is killed.  `watch`, if given, is
    called with each piece of output as it arrives; when it returns a reason, QEMU is
    killed there (RunResult.cut), and so it is once `stop` (a threading.Event) is set.
    No QEMU process outlives this call, whatever is raised.
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
    ours, theirs = socket.socketpair()
    monitor = _Monitor(ours)
    try:
        command = qemu_command(qemu, cpu, kernel, case_ids, boot, blob, walks, monitor_fd=theirs.fileno(),
                               console=console)
        theirs.set_inheritable(True)
        start = time.monotonic()
        child = _Spawn(command[0], command[1:], pass_fds=(theirs.fileno(),), encoding="utf-8",
                       codec_errors="replace", timeout=timeout, echo=False, dimensions=PTY_SIZE)
    except BaseException:
        monitor.close()
        raise
    finally:
        theirs.close()          # QEMU holds its own copy
    try:
        # pexpect sleeps before every send(), and ptyprocess in close() to let
        # the child exit; QEMU needs no pause to take input, and by close() it
        # has been reaped or is to be killed.  Runs are many, so it adds up.
        child.delaybeforesend = None
        child.ptyproc.delayafterclose = 0
        progress = None if hang_check is None else _Progress(monitor, child.pid, kernel, hang_check)
        output, timed_out, stalled, cut = _read_until_exit(child, start + timeout, progress, watch, stop)
        pc = None
        if timed_out:
            pc = monitor.pc()
        elif stalled:
            pc = progress.pc
        if timed_out or stalled:
            monitor.quit()
        if timed_out or stalled or cut:
            # Killed outright: pexpect's terminate() would pause a tenth of a second between signals.
            if child.isalive():
                child.kill(signal.SIGKILL)
            child.wait()
    finally:
        monitor.close()
        child.close(force=True)
    wall = time.monotonic() - start
    stopped = timed_out or stalled is not None or cut is not None
    return RunResult(
        command=command,
        output=output.replace("\r\n", "\n"),
        # A stopped QEMU exits 0 on the monitor's "quit", or is killed: not the kernel's status.
        exit_status=None if stopped else child.exitstatus,
        signal=None if stopped else child.signalstatus,
        timed_out=timed_out,
        pc=pc,
        symbol=None if pc is None else symbol_for(kernel, pc),
        wall=wall,
        timeout=timeout,
        stalled=stalled,
        cut=cut,
    )


class _Spawn(pexpect.spawn):
    """pexpect.spawn whose child inherits `pass_fds` (QEMU's end of the monitor socket)."""

    def __init__(self, *args, pass_fds=(), **kwargs):
        self._pass_fds = pass_fds
        super().__init__(*args, **kwargs)

    def _spawnpty(self, args, **kwargs):
        return ptyprocess.PtyProcess.spawn(args, pass_fds=self._pass_fds, **kwargs)


def _read_until_exit(child, deadline, progress, watch, stop):
    """All output until QEMU exits and is reaped, the deadline passes, the progress check
    finds the kernel stuck, or `watch` or `stop` asks to stop: (output, timed_out, why stuck, why cut)."""
    chunks = []
    quiet_since = time.monotonic()
    # Reading straight from the pty, rather than expect()ing a pattern, keeps
    # every byte however long the output and costs no repeated searching.
    while True:
        now = time.monotonic()
        if now >= deadline:
            return "".join(chunks), True, None, None
        if stop is not None and stop.is_set():
            return "".join(chunks), False, None, "stopped by the harness"
        wait = deadline - now
        if progress is not None:
            wait = min(wait, max(0.0, progress.due(quiet_since, bool(chunks)) - now))
        if stop is not None:
            wait = min(wait, STOP_POLL)
        try:
            chunks.append(child.read_nonblocking(65536, timeout=wait))
            quiet_since = time.monotonic()
            cut = watch(chunks[-1]) if watch else None
            if cut:
                return "".join(chunks), False, None, cut
            continue
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            chunks.append(_drain(child))
            break
        if progress is not None and time.monotonic() >= progress.due(quiet_since, bool(chunks)):
            arrived = []
            stuck = progress.check(lambda gap: _output_within(child, arrived, min(gap, deadline - time.monotonic())))
            chunks += arrived
            if stuck:
                return "".join(chunks), False, stuck, None
            if stuck is None:       # output arrived while it looked: the loop goes on reading
                quiet_since = time.monotonic()
                cut = watch("".join(arrived)) if watch and arrived else None
                if cut:
                    return "".join(chunks), False, None, cut
    # The pty closes as QEMU exits; wait (boundedly) for its exit status.
    while child.isalive():
        if time.monotonic() >= deadline:
            return "".join(chunks), True, None, None
        time.sleep(0.002)
    return "".join(chunks), False, None, None


def _drain(child):
    """What the pty still holds when pexpect says EOF.  pexpect calls it EOF once QEMU has exited and
    select() shows nothing to read; under load the kernel may not yet have moved QEMU's last output
    into the pty's read buffer (the tty layer does that in a worker), and that output was lost: a case
    whose records stop short, or a run with no output at all.  A read of the master waits for that
    work and fails (EIO) only once nothing is left."""
    data = []
    while select.select([child.child_fd], [], [], DRAIN_WAIT)[0]:
        try:
            piece = os.read(child.child_fd, 65536)
        except OSError:
            break
        if not piece:
            break
        data.append(piece)
    return child._decoder.decode(b"".join(data), final=True) if data else ""


def _output_within(child, chunks, seconds):
    """Whether QEMU printed something (appended to `chunks`) within `seconds`, or exited."""
    try:
        chunks.append(child.read_nonblocking(65536, timeout=max(0.0, seconds)))
        return True
    except pexpect.TIMEOUT:
        return False
    except pexpect.EOF:
        return True


class _Progress:
    """The progress check of one run (HANG_CHECK): is a silent kernel stuck?"""

    def __init__(self, monitor, pid, kernel, hang_check):
        self.monitor, self.pid, self.hang_check = monitor, pid, hang_check
        self.vectors = _symbol_address(kernel, "vectors")
        self.checked = 0.0      # when the last check ended
        self.pc = None          # the PC the last check saw

    def due(self, quiet_since, printed):
        """When the next check is due: hang_check seconds into the silence, and as long after the last
        check; before the kernel's first output, STARTUP_GRACE later (QEMU may still be starting, and
        its CPU then sits at the entry point: slow under load, not stuck)."""
        return max(quiet_since, self.checked) + self.hang_check + (0 if printed else STARTUP_GRACE)

    def check(self, output_within):
        """Why the kernel is stuck (text); "" if it makes progress or cannot be told; None if
        it printed meanwhile.  output_within(seconds) waits that long for output."""
        try:
            first = self.monitor.registers()
            waited = _runqueue_wait(self.pid)
            if output_within(PROGRESS_GAP):
                return None
            second = self.monitor.registers()
            # A QEMU kept off the CPU for most of the gap had no chance to make progress.
            starved = _runqueue_wait(self.pid) - waited > PROGRESS_GAP / 2
        except MonitorError:
            return ""           # no answer: the timeout decides
        finally:
            self.checked = time.monotonic()
        self.pc = _pc(second)
        if first == second and not starved:
            return f"no output for {self.hang_check:g} s and its registers unchanged over {PROGRESS_GAP:g} s"
        if self.vectors is not None and all(self.vectors <= _pc(r) < self.vectors + VECTORS_SIZE
                                            for r in (first, second)):
            return f"no output for {self.hang_check:g} s and its PC in the exception vectors"
        return ""


def _pc(registers):
    return int(re.search(r"PC=([0-9a-fA-F]+)", registers).group(1), 16)


def _runqueue_wait(pid):
    """Seconds QEMU's threads have waited, runnable, for a CPU (/proc/PID/task/*/schedstat); 0 if unknown."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


class MonitorError(Exception):
    """QEMU's monitor did not answer in time."""


class _Monitor:
    """QEMU's human monitor on our end of its socket pair."""

    PROMPT = "(qemu) "

    def __init__(self, sock):
        self.sock = sock
        self.text = ""          # what the monitor printed and has not been consumed

    def _until(self, pattern, deadline):
        while True:
            match = re.search(pattern, self.text)
            if match:
                self.text = self.text[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                raise MonitorError(f"no {pattern!r} from the monitor")
            data = self.sock.recv(65536)
            if not data:
                raise MonitorError("the monitor closed")
            self.text += data.decode(errors="replace")

    def registers(self):
        """The register dump of `info registers`, from PC= up to the prompt after it."""
        deadline = time.monotonic() + DIAGNOSTIC_TIMEOUT
        try:
            self.sock.sendall(b"info registers\n")
            # The monitor echoes the command line before the dump, and prompts after it.
            match = self._until(r"(?s)( PC=[0-9a-fA-F]+.*?)\r?\n\(qemu\) ", deadline)
        except OSError as e:
            raise MonitorError(str(e)) from None
        return match.group(1)

    def pc(self):
        """The CPU's PC, or None if the monitor does not answer in time."""
        try:
            return _pc(self.registers())
        except MonitorError:
            return None

    def quit(self):
        """Tell QEMU to quit and wait for it to close the monitor; it is killed all the same if it does not."""
        deadline = time.monotonic() + DIAGNOSTIC_TIMEOUT
        try:
            self.sock.sendall(b"quit\n")
            while select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
                if not self.sock.recv(65536):
                    break       # closed: QEMU has exited
        except OSError:
            pass

    def close(self):
        self.sock.close()


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


def _symbol_address(kernel, name):
    """The address of symbol `name` in `kernel`, or None."""
    path = Path(kernel)
    try:
        addresses, names = _symbols(str(path.resolve()), path.stat().st_mtime_ns)
    except (OSError, subprocess.CalledProcessError):
        return None
    return next((a for a, n in zip(addresses, names) if n == name), None)


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
