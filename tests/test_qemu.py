"""harness.qemu against the real QEMU: exit status, output capture, and hangs."""
import os
import subprocess
from pathlib import Path

import pexpect
import pytest

from harness import blob, features
from harness.cases import LAYOUT, load_file
from harness.errors import HarnessError
from harness.protocol import parse_output
from harness.qemu import HANG_CHECK, qemu_command, qemu_version, run_kernel
from suite_run import cpu, qemu  # noqa: F401  (fixtures)

KERNEL = Path(__file__).resolve().parent.parent / "build" / "kernel.elf"
# A case of the blob `make kernel` writes (build/cases.bin).
DEMO_CASE = "demo.seed_demo"   # cases/demo.toml


@pytest.fixture
def kernel():
    if not KERNEL.is_file():
        pytest.skip(f"no {KERNEL}: run `make kernel`")
    return KERNEL


@pytest.fixture(scope="module")
def hang_elf(tmp_path_factory):
    """An image that sleeps forever at its link address, where QEMU's virt board enters it
    (with an empty case blob next to it, which it never reads)."""
    tmp = tmp_path_factory.mktemp("hang")
    blob.write([], tmp / "cases.bin")
    (tmp / "hang.S").write_text(".global _start\n_start:\n\twfi\n\tb _start\n")
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-Wl,--build-id=none",
                    "-Ttext=0x40080000", str(tmp / "hang.S"), "-o", str(tmp / "hang.elf")], check=True)
    return tmp / "hang.elf"


def qemu_children():
    """PIDs of QEMU processes, live or zombie, whose parent is this test process."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue            # exited while we looked
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        if ppid == os.getpid() and comm.startswith("qemu-system"):
            pids.append(int(stat.parent.name))
    return pids


def test_version(qemu):
    assert qemu_version(qemu).count(".") >= 1


def test_missing_binary(kernel):
    with pytest.raises(HarnessError, match="apt-get install qemu-system-arm"):
        qemu_version("/nonexistent/qemu-system-aarch64")
    with pytest.raises(HarnessError, match="--qemu PATH"):
        run_kernel("/nonexistent/qemu-system-aarch64", "max", kernel, [DEMO_CASE])


def test_command():
    cmd = qemu_command("q", "max", "k.elf", ["a", "b"], boot="stage2")
    assert cmd[cmd.index("-M") + 1] == "virt,virtualization=on"
    assert cmd[cmd.index("-m") + 1] == "1024M"
    # The records come over the UART on stdio; what semihosting would write is thrown away (a null chardev).
    assert cmd[cmd.index("-semihosting-config") + 1] == \
        "enable=on,target=native,chardev=semihosting,arg=+walks,arg=a,arg=b"
    assert "stdio,id=console,mux=on" in cmd and cmd[cmd.index("-serial") + 1] == "chardev:console"
    assert "null,id=semihosting" in cmd
    quiet = qemu_command("q", "max", "k.elf", ["#0-4999"], walks=False)
    assert quiet[quiet.index("-semihosting-config") + 1] == "enable=on,target=native,chardev=semihosting,arg=#0-4999"
    # Opted into, semihosting's console shares stdio with the UART, and the kernel is told to use it.
    semi = qemu_command("q", "max", "k.elf", ["a"], boot="vhe", console="semihosting")
    assert semi[semi.index("-semihosting-config") + 1] == \
        "enable=on,target=native,chardev=console,arg=+vhe,arg=+semihosting,arg=+walks,arg=a"
    assert "null,id=semihosting" not in semi
    with pytest.raises(ValueError, match="unknown console"):
        qemu_command("q", "max", "k.elf", ["a"], console="jtag")
    assert cmd[cmd.index("-kernel") + 1] == "k.elf"
    assert cmd[cmd.index("-device") + 1] == f"loader,file=cases.bin,addr={LAYOUT['CASE_BLOB_BASE']:#x},force-raw=on"
    assert qemu_command("q", "max", "k.elf", ["a"])[cmd.index("-M") + 1] == "virt"
    vhe = qemu_command("q", "max", "k.elf", ["a"], boot="vhe")
    assert vhe[vhe.index("-M") + 1] == "virt,virtualization=on"
    assert vhe[vhe.index("-semihosting-config") + 1].endswith(",arg=+vhe,arg=+walks,arg=a")
    with pytest.raises(ValueError, match="unknown boot mode"):
        qemu_command("q", "max", "k.elf", ["a"], boot="el3")
    other = qemu_command("q", "max", "build/k.elf", [], blob="fuzz/b.bin")
    assert other[other.index("-device") + 1].startswith("loader,file=fuzz/b.bin,")
    with pytest.raises(ValueError):
        qemu_command("q", "max", "k.elf", ["a,b"])


def test_demo_case(qemu, cpu, kernel):
    r = run_kernel(qemu, cpu, kernel, [DEMO_CASE])
    assert r.exit_status == 0 and r.signal is None and not r.timed_out, r.output
    assert "MMUT 6 exit status=0\n" in r.output
    assert "\r" not in r.output


def test_both_consoles_carry_the_same_records(qemu, cpu, kernel):
    """The UART (the default) and semihosting (opted into) carry the same records, all of them."""
    runs = {console: run_kernel(qemu, cpu, kernel, [DEMO_CASE], console=console) for console in ("uart", "semihosting")}
    for console, r in runs.items():
        out = parse_output(r.output)
        assert r.exit_status == 0 and not out.garbage and out.cases()[DEMO_CASE].end, (console, r.output)
    assert runs["uart"].output == runs["semihosting"].output


def test_uart_runs_carry_nothing_by_semihosting(qemu, cpu, kernel):
    """On the UART channel semihosting's output is thrown away: a kernel told to write its records
    there (+semihosting) is heard from no more, so whatever a UART run shows came over the UART."""
    r = run_kernel(qemu, cpu, kernel, ["+semihosting", DEMO_CASE])
    assert r.exit_status == 0 and "MMUT" not in r.output, r.output


def test_floor_boot_runs_no_case(qemu, cpu, kernel):
    r = run_kernel(qemu, cpu, kernel, [])
    assert r.exit_status == 0, r.output
    assert [line.split()[2] for line in r.output.splitlines()] == ["boot", "exit"]


def test_el2_boot(qemu, cpu, kernel):
    r = run_kernel(qemu, cpu, kernel, [], boot="stage2")
    assert r.exit_status == 0 and " boot el=2 " in r.output and "kernel_el" not in r.output, r.output


def test_vhe_boot(qemu, cpu, kernel):
    """A +vhe boot stays at EL2 with HCR_EL2.E2H and TGE where the CPU has FEAT_VHE, and says so;
    without FEAT_VHE it runs the kernel at EL1 as a stage2 boot does."""
    r = run_kernel(qemu, cpu, kernel, [], boot="vhe")
    boot = parse_output(r.output).boot
    assert r.exit_status == 0 and boot.num("el") == 2, r.output
    if not features.missing(["FEAT_VHE"], *(boot.num(r) for r in features.ID_REGISTERS)):
        assert boot.num("kernel_el") == 2 and boot.num("hcr") & (1 << 34 | 1 << 27) == 1 << 34 | 1 << 27, r.output
    else:
        assert "kernel_el" not in boot.fields, r.output


@pytest.mark.parametrize("case", ["stage2.translates", "el2.wxn"])     # cases/stage2.toml, cases/el2.toml
def test_a_case_that_needs_el2(qemu, cpu, kernel, case):
    """Without EL2 the kernel refuses a stage 2 case, or one whose steps run at EL2, rather than run it at EL1
    alone; with it, it runs."""
    r = run_kernel(qemu, cpu, kernel, [case])
    assert r.exit_status == 1 and f"MMUT 6 error case={case} what=no_el2\n" in r.output, r.output
    r = run_kernel(qemu, cpu, kernel, [case], boot="stage2")
    assert r.exit_status == 0 and " result=ok " in r.output, r.output


def test_unknown_case(qemu, cpu, kernel):
    r = run_kernel(qemu, cpu, kernel, ["nope"])
    assert r.exit_status == 1, r.output   # EXIT_CASE_ERROR
    assert "MMUT 6 error what=unknown_case case=nope\n" in r.output


def test_long_output_is_all_captured(qemu, cpu, kernel):
    # Unknown IDs print one line each, whatever the case blob holds.
    ids = [f"x{i}" for i in range(2000)]
    r = run_kernel(qemu, cpu, kernel, ids)
    lines = r.output.splitlines()
    assert lines[1:-1] == [f"MMUT 6 error what=unknown_case case={i}" for i in ids]
    assert lines[-1] == "MMUT 6 exit status=1"


@pytest.fixture(scope="module")
def busy_elf(tmp_path_factory):
    """An image that counts down for a second or more, printing nothing, then exits through semihosting
    (with an empty case blob next to it, which it never reads)."""
    tmp = tmp_path_factory.mktemp("busy")
    blob.write([], tmp / "cases.bin")
    (tmp / "busy.S").write_text(".global _start\n_start:\n\tldr x2, =1500000000\n1:\tsubs x2, x2, #1\n\tb.ne 1b\n"
                                "\tmov x0, #0x18\n\tldr x1, =0x20026\n\thlt #0xf000\n")
    subprocess.run(["aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-Wl,--build-id=none",
                    "-Ttext=0x40080000", str(tmp / "busy.S"), "-o", str(tmp / "busy.elf")], check=True)
    return tmp / "busy.elf"


def test_stuck_kernel_is_stopped_by_the_progress_check(qemu, cpu, hang_elf):
    r = run_kernel(qemu, cpu, hang_elf, [], timeout=10)
    assert r.stalled and not r.timed_out and r.exit_status is None
    assert 0x40080000 <= r.pc < 0x40080008      # _start: wfi; b _start
    assert r.symbol.startswith("_start+")
    assert r.wall < 2
    assert qemu_children() == []


def test_silent_kernel_at_work_is_not_stopped(qemu, cpu, busy_elf):
    r = run_kernel(qemu, cpu, busy_elf, [], timeout=30)
    assert r.wall > 4 * HANG_CHECK, "the image ran too briefly to show anything"
    assert not r.stopped and r.exit_status is not None, r


def test_hang_times_out_with_pc(qemu, cpu, hang_elf):
    timeout = 0.5
    r = run_kernel(qemu, cpu, hang_elf, [], timeout=timeout, hang_check=None)
    assert r.timed_out and r.exit_status is None
    assert 0x40080000 <= r.pc < 0x40080008      # _start: wfi; b _start
    assert r.symbol.startswith("_start+")
    assert timeout <= r.wall < timeout + 3
    assert qemu_children() == []


def test_interrupted_run_leaves_no_qemu(qemu, cpu, hang_elf, monkeypatch):
    spawned = []
    read = pexpect.spawn.read_nonblocking

    def interrupt(self, size=1, timeout=-1):
        spawned.append(self.pid)
        with pytest.raises(pexpect.TIMEOUT):
            read(self, size, timeout=0.3)   # QEMU is up and running the image by now
        raise KeyboardInterrupt

    monkeypatch.setattr(pexpect.spawn, "read_nonblocking", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_kernel(qemu, cpu, hang_elf, [], timeout=5)
    assert spawned and not Path(f"/proc/{spawned[0]}").exists()
    assert qemu_children() == []


@pytest.mark.parametrize("el2, boot", [("nvhe", "stage2"), ("vhe", "vhe")])
@pytest.mark.parametrize("op, kind, status", [("selftest_brk", "unexpected", 3), ("selftest_nested", "nested", 4)])
def test_exceptions_at_el2_are_reported(qemu, cpu, kernel, tmp_path, op, kind, status, el2, boot):
    """The kernel's own exceptions while it runs an EL2-regime case's steps at EL2 (el2.c passes them to
    exception.c; in the EL2&0 regime of a +vhe boot VBAR_EL2 is the kernel's own vectors): reported with
    EL2's syndrome, the run ended with the status that says so."""
    path = tmp_path / "st.toml"
    path.write_text(f'feature = "x"\n[case.c]\nsummary = "s"\nel2 = "{el2}"\n'
                    + ('requires = ["FEAT_VHE"]\n' if el2 == "vhe" else "")
                    + f'steps = [ {{ do = "{op}", va = 0, expect = "{kind}_exception" }} ]\n')
    blob.write(load_file(path), tmp_path / "cases.bin")
    r = run_kernel(qemu, cpu, kernel, ["st.c"], boot=boot, blob=tmp_path / "cases.bin")
    if el2 == "vhe" and "kernel_el" not in parse_output(r.output).boot.fields:
        pytest.skip(f"-cpu {cpu} has no FEAT_VHE: the kernel runs at EL1 and refuses the case")
    assert r.exit_status == status and f" exception kind={kind} " in r.output, r.output
