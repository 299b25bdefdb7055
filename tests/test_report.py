"""results/report.html in a real headless Chromium: the matrix, the filters, a
cell that opens its steps, and a screenshot.

Chromium is driven over the DevTools protocol on a local websocket, with the
standard library only.  The test skips, saying why, where no Chromium is
installed (`make test` installs Debian's `chromium` as root).  The screenshot
is kept as results/report-test.png (REPORT_SCREENSHOT= names another file).
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from harness.bugs import KnownBug
from harness.matrix import Run
from harness.report import write_report
from harness.summary import KINDS, kind

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--window-size=1280,900"]
START_TIMEOUT = 30.0


class WebSocket:
    """The client side of RFC 6455, enough for DevTools: text frames, masked."""

    def __init__(self, url, timeout=30.0):
        assert url.startswith("ws://")
        host_port, path = url[5:].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the websocket handshake")
            response += chunk
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"DevTools refused the websocket: {head[:200]!r}")

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 1 << 16 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the websocket")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            message += self._read(n)
            if b0 & 0x80:       # FIN: the last fragment
                return message.decode()

    def close(self):
        self.sock.close()


class Browser:
    """One headless Chromium with one page, spoken to through DevTools."""

    def __init__(self, chromium, profile):
        self.proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.quit()
                raise RuntimeError(f"Chromium gave no DevTools port within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, url):
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + START_TIMEOUT
        while self.js("document.readyState") != "complete":
            assert time.monotonic() < deadline, f"{url} did not load"
            time.sleep(0.05)

    def click(self, selector):
        """A real mouse click at the middle of the element."""
        box = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                      f" const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def quit(self):
        if getattr(self, "ws", None):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def step(n, observed, ok, expected="completes", **extra):
    return {"n": n, "op": "load64", "va": "0x80000000", "expected": expected, "observed": observed, "ok": ok,
            "problems": [] if ok else [f"expected {expected}; got {observed}"], **extra}


def entry(case_id, outcome, steps):
    return {"id": case_id, "summary": f"summary of {case_id}", "outcome": outcome, "reason": None,
            "problems": [], "steps": steps}


def fixture_runs():
    """Two runs of three instances in two families; one differs, and its newer
    run carries the model's outcome and the walk (Interface C)."""
    fault = "data abort (same EL): translation fault, level 0 (DFSC 0x04), WnR=0, FAR 0x80000000"
    walk = ["level 0 table 0x40080000 index 1: 0x0000000040000001 (block)"]
    older = {"qemu_version": "7.2.22", "cpu": "max", "qemu": "qemu-system-aarch64",
             "counts": {"passed": 2, "xfailed": 1}, "cases": [
                 entry("translation.block_at_level0", "xfailed",
                       [step(0, "completes, value 0x0", False, fault, known_bugs=["l0_block"])]),
                 entry("translation.invalid[l3]", "passed", [step(0, fault, True, fault)]),
                 entry("blocks.l2", "passed", [step(0, "completes", True)])]}
    newer = {"qemu_version": "11.1.3", "cpu": "max", "qemu": "/cache/sid/qemu-system-aarch64",
             "counts": {"passed": 3}, "cases": [
                 entry("translation.block_at_level0", "passed",
                       [step(0, fault, True, fault, model="translation fault, level 0", walk=walk)]),
                 entry("translation.invalid[l3]", "passed", [step(0, fault, True, fault)]),
                 entry("blocks.l2", "passed", [step(0, "completes", True)])]}
    return [Run(Path("results/7.2.22-max.json"), older), Run(Path("results/11.1.3-max.json"), newer)]


@pytest.fixture
def browser(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium: install Debian's package (`apt-get install chromium`; `make test` does, as root)")
    b = Browser(chromium, tmp_path / "profile")
    yield b
    b.quit()


def test_report_in_chromium(browser, tmp_path):
    page = tmp_path / "report.html"
    runs = fixture_runs()
    l0_block = KnownBug("l0_block", "J1.1.4.65 AArch64.BlockDescSupported", {"translation.toml": "<10.0.2"},
                        {"translation.toml": "a level-0 block"}, ["translation.block_at_level0"], "takes a level-0 block")
    write_report(page, runs, bugs=[l0_block])
    browser.load(page.as_uri())

    # The summary first: a row per family and one for all, each cell pass/known bug/fail/skip.
    grid = browser.js("[...document.querySelectorAll('#summary tbody tr')].map(r => "
                      "[...r.cells].map(c => c.textContent))")
    assert grid == [["blocks", "1000", "1000"], ["translation", "1100", "2000"], ["all families", "2100", "3000"]]
    totals = browser.js("[...document.querySelectorAll('#summary tr.all td:not(.family)')].map(c => "
                        "[...c.children].map(n => +n.textContent))")
    for run, counts in zip(runs, totals):      # the summary's counts are the results'
        by_kind = dict.fromkeys(KINDS, 0)
        for outcome, n in run.doc["counts"].items():
            by_kind[kind(outcome)] += n
        assert counts == [by_kind[k] for k in KINDS]
    assert browser.js("[...document.querySelectorAll('#summary td')].map(c => c.className)") == \
        ["family", "k-pass", "k-pass", "family", "k-known-bug", "k-pass", "family", "k-known-bug", "k-pass"]
    # A count lists its instances: translation's known bug on 7.2.22 is the one xfail.
    browser.click("#summary a[data-family='translation'][data-run='0'][data-kind='known bug']")
    assert browser.js("[...document.querySelectorAll('#matrix tbody td.id')].map(c => c.textContent)") == \
        ["translation.block_at_level0"]
    browser.click("#summary tr.all a[data-run='1'][data-kind='pass']")
    assert browser.js("document.querySelectorAll('#matrix tbody tr').length") == 3
    # The known-bug catalogue: whether each run shows the bug, from the steps' explanations.
    assert browser.js("[...document.querySelectorAll('#bugs tbody td.seen')].map(c => (c.querySelector('summary')"
                      " || c).textContent)") == \
        ["shows it (1)", "no"]     # 7.2.22's step is explained by the bug; 11.1.3 matches the architecture
    # The count opens to the steps the bug excuses, instance by instance.
    assert browser.js("[...document.querySelectorAll('#bugs tbody td.seen details li')].map(c => c.textContent)") == \
        ["translation.block_at_level0: step 0"]
    assert "J1.1.4.65 AArch64.BlockDescSupported" in browser.js("document.getElementById('bugs').innerText")
    browser.js("(() => { for (const id of ['run', 'kind']) { const s = document.getElementById(id); s.value = '';"
               " s.dispatchEvent(new Event('change')); } })()")

    assert browser.js("[...document.querySelectorAll('#matrix thead th')].map(t => t.textContent)") == \
        ["instance", "7.2.22 -cpu max", "11.1.3 -cpu max"]
    rows = browser.js("[...document.querySelectorAll('#matrix tbody tr')].map(r => "
                      "[...r.cells].map(c => c.textContent))")
    assert rows == [["blocks.l2", "pass ✓", "pass ✓"],
                    ["translation.block_at_level0", "xfail ✗", "pass ✓"],
                    ["translation.invalid[l3]", "pass ✓", "pass ✓"]]

    browser.click("#differs")
    assert browser.js("document.querySelectorAll('#matrix tbody tr').length") == 1
    browser.click("#differs")
    browser.js("(() => { const s = document.getElementById('family'); s.value = 'blocks';"
               " s.dispatchEvent(new Event('change')); })()")
    assert browser.js("[...document.querySelectorAll('#matrix tbody td.id')].map(c => c.textContent)") == ["blocks.l2"]
    browser.js("(() => { const s = document.getElementById('family'); s.value = '';"
               " s.dispatchEvent(new Event('change')); })()")

    assert browser.js("document.getElementById('detail').hidden") is True
    browser.click("#matrix tbody tr:nth-child(2) td.cell:nth-child(2)")
    assert browser.js("document.getElementById('detail').hidden") is False
    detail = browser.js("document.getElementById('detail').innerText")
    assert "on QEMU 7.2.22 -cpu max" in detail and "completes, value 0x0" in detail
    assert "walk" not in detail     # that run's results carry no walk: no empty column

    browser.click("#matrix tbody tr:nth-child(2) td.cell:nth-child(3)")
    detail = browser.js("document.getElementById('detail').innerText")
    assert "translation.block_at_level0 on QEMU 11.1.3 -cpu max" in detail
    assert "translation fault, level 0 (DFSC 0x04)" in detail            # expected and observed
    assert "model" in detail and "translation fault, level 0" in detail  # the model's outcome
    assert "level 0 table 0x40080000 index 1" in detail                  # the walk

    shot = Path(os.environ.get("REPORT_SCREENSHOT") or ROOT / "results" / "report-test.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
