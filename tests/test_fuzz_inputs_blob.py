"""The kernel's blob checker (kernel/blob.c) against random and mutated blobs, built for the host
with -fsanitize=address,undefined (tests/host/blob_reader.c): every blob is either refused,
naming the field the kernel's error record names, or accepted and then read whole (every
case's ID, arrays and stage 2) without a read out of bounds or undefined behaviour.  The kernel
prints an error record for a refused blob (tests/test_blob.py runs that under QEMU)."""
import shutil
import struct
import subprocess
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bad_inputs import BAD, ROOT, budget
from harness import blob
from harness.cases import load_dir

FIELDS = {"magic", "version", "size", "id", "regime", "maps", "tables", "raws", "steps", "stage2"}
HEADER, RECORD = blob._HEADER.size, blob._CASE.size
CORPUS = sorted((BAD / "blobs").glob("*.bin"))


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """check(data) -> the reader's line for data; the reader is restarted after a sanitizer stop."""
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    exe = tmp_path_factory.mktemp("blob") / "blob_reader"
    cmd = ["gcc", "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", "-Ikernel", "kernel/blob.c", "tests/host/blob_reader.c", "-o", str(exe)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    state = {}

    def start():
        state["p"] = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env={"ASAN_OPTIONS": "detect_leaks=0"})

    def check(data):
        if "p" not in state or state["p"].poll() is not None:
            start()
        p = state["p"]
        try:
            p.stdin.write(struct.pack("<I", len(data)) + data)
            p.stdin.flush()
        except BrokenPipeError:
            pass
        line = p.stdout.readline().decode().strip()
        if not line:
            p.stdin.close()
            report = p.stderr.read().decode(errors="replace")
            p.wait()
            raise AssertionError(f"the blob checker stopped (exit {p.returncode}) on a blob of {len(data)} bytes:\n"
                                 + "\n".join(report.splitlines()[:25]))
        return line

    yield check
    if "p" in state and state["p"].poll() is None:
        state["p"].stdin.close()
        state["p"].wait(timeout=30)


CASES = load_dir(ROOT / "cases")
# A few blobs of real cases: plain, with stage 2, at EL2, many steps.
SEEDS = [blob.encode(CASES[:3]),
         blob.encode([c for c in CASES if c.stage2 is not None][:3]),
         blob.encode([c for c in CASES if c.el2 is not None][:2]),
         blob.encode(sorted(CASES, key=lambda c: -len(c.steps))[:2])]
EDGES = st.sampled_from([0, 1, 7, 8, 12, 16, 48, 63, 64, 65, 255, 256, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF8,
                         0xFFFFFFFF])


def mutate(data, blob_bytes):
    out = bytearray(blob_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["u32 of a record", "u8 of a record", "array record", "array record", "byte",
                                          "cut", "grow", "header"]))
        if kind == "cut":
            del out[data.draw(st.integers(0, len(out))):]
        elif kind == "grow":
            out += bytes(data.draw(st.integers(1, 64)))
        elif kind == "header" and len(out) >= HEADER:
            at = data.draw(st.sampled_from([0, 4, 8, 12]))
            out[at:at + 4] = struct.pack("<I", data.draw(EDGES))
        elif kind in ("u32 of a record", "u8 of a record") and len(out) >= HEADER + RECORD:
            ncases = (len(out) - HEADER) // RECORD
            record = HEADER + data.draw(st.integers(0, max(0, min(ncases, 8) - 1))) * RECORD
            if kind == "u32 of a record":
                at = record + 4 * data.draw(st.integers(0, RECORD // 4 - 1))
                out[at:at + 4] = struct.pack("<I", data.draw(EDGES))
            else:
                out[record + data.draw(st.integers(0, RECORD - 1))] = data.draw(st.integers(0, 255))
        elif kind == "array record" and len(out) >= HEADER + RECORD:
            # A field of a case's map, table, raw, step or stage 2 record: ops, levels, sizes, spaces, flags.
            ncases = (len(out) - HEADER) // RECORD
            record = HEADER + data.draw(st.integers(0, max(0, min(ncases, 8) - 1))) * RECORD
            array = data.draw(st.integers(0, 4))
            offset, count = struct.unpack_from("<II", out, record + RECORD - 40 + 8 * array)    # the 5 (offset, count) pairs end it
            at = offset + data.draw(st.integers(0, 31))
            if count and at < len(out):
                out[at] = data.draw(st.sampled_from([0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 47, 48, 49, 63, 64, 65, 127,
                                                     128, 200, 255]))
        elif out:
            # Anywhere, e.g. in a step or map record: ops, levels, spaces, flags.
            out[data.draw(st.integers(0, len(out) - 1))] = data.draw(st.integers(0, 255))
    return bytes(out)


def test_valid_blobs_are_accepted_and_read(reader):
    for data in SEEDS:
        assert reader(data).startswith("ok ")


def test_mutated_and_random_blobs_are_refused_or_read_in_bounds(reader):
    tally = Counter()

    @budget(300)
    @given(st.data())
    def one(data):
        if data.draw(st.integers(0, 9)) == 0:
            raw = data.draw(st.binary(max_size=512))
        else:
            raw = mutate(data, data.draw(st.sampled_from(SEEDS)))
        line = reader(raw)
        verdict, *rest = line.split()
        assert verdict in ("ok", "refused"), line
        if verdict == "refused":
            assert rest[0] in FIELDS, line
        tally[verdict] += 1

    one()
    print(f"\n{sum(tally.values())} mutated or random blobs: {tally['refused']} refused naming a field, "
          f"{tally['ok']} accepted and read in bounds")


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_blobs_that_once_escaped_are_refused(reader, path):
    assert reader(path.read_bytes()).startswith("refused ")
