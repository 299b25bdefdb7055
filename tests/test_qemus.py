"""tools/qemus.py without the network: the mirror it reads, the root it
resolves, the wrapper it writes, and a fetch that fails among others."""
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("qemus", ROOT / "tools" / "qemus.py")
qemus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qemus)


def test_the_mirror_comes_from_the_system_sources(tmp_path):
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n")
    assert qemus.system_mirror(tmp_path / "none", parts) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert qemus.system_mirror(one_line, tmp_path / "nothing") == "http://other.example/debian"
    assert qemus.system_mirror(tmp_path / "none", tmp_path / "nothing") == qemus.FALLBACK_MIRROR


def test_symlinks_resolve_inside_the_root(tmp_path):
    (tmp_path / "lib/x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2").write_text("")
    (tmp_path / "lib64").mkdir()
    # An absolute target, as libc6 ships it: the root's, not the host's.
    (tmp_path / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    assert qemus.resolve_in_root(tmp_path, "lib64/ld-linux-x86-64.so.2") == \
        tmp_path / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    assert qemus.find_loader(tmp_path) == tmp_path / "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"


def test_a_root_without_a_loader_is_refused(tmp_path):
    with pytest.raises(qemus.FetchError, match="no dynamic loader"):
        qemus.find_loader(tmp_path)


def test_the_wrapper_starts_the_binary_through_the_roots_loader(tmp_path):
    root = tmp_path / "sid" / "root"
    loader = root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    loader.parent.mkdir(parents=True)
    # A stand-in loader that shows how it was called.
    loader.write_text('#!/bin/sh\necho "QEMU_MODULE_DIR=$QEMU_MODULE_DIR"; for a; do echo "$a"; done\n')
    loader.chmod(0o755)
    wrapper = qemus.write_wrapper(tmp_path / "sid", root)
    args = subprocess.run([str(wrapper), "-M", "virt", "it's"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert args[0] == f"QEMU_MODULE_DIR={root}/usr/lib/x86_64-linux-gnu/qemu"
    assert args[1:3] == ["--inhibit-cache", "--library-path"]
    assert args[3].split(":")[:2] == [f"{root}/lib/x86_64-linux-gnu", f"{root}/usr/lib/x86_64-linux-gnu"]
    assert args[4:] == [f"{root}/usr/bin/qemu-system-aarch64", "-L", f"{root}/usr/share/qemu", "-M", "virt", "it's"]


def test_a_failed_fetch_is_reported_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QEMUS_CACHE", str(tmp_path))
    fetched = []

    def fake_fetch(name, cache, mirror):
        if name == "trixie":
            raise qemus.FetchError("`apt-get update` failed (exit 100)")
        fetched.append(name)
        return {"qemu_version": "1.2.3", "debian_version": "1:1.2.3-1", "wrapper": f"{cache}/{name}/w"}

    monkeypatch.setattr(qemus, "fetch", fake_fetch)
    assert qemus.main(["fetch", "--mirror", "http://m", "trixie", "system", "sid"]) == 1
    out = capsys.readouterr().out
    assert fetched == ["sid"]
    assert "trixie: FETCH FAILED: `apt-get update` failed (exit 100)" in out
    assert "system: not a Debian build, used as it is" in out
    assert "fetched 1 of 2 builds" in out and "failed: trixie" in out


def test_an_unknown_build_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QEMUS_CACHE", str(tmp_path))
    # A usage error before anything is fetched (issue 21: bad options never run half-way).
    with pytest.raises(SystemExit) as stop:
        qemus.main(["fetch", "--mirror", "http://m", "potato"])
    assert stop.value.code == 2
    assert "unknown build 'potato': known builds are" in capsys.readouterr().err


def test_a_damaged_manifest_says_so_and_how_to_fetch_again(tmp_path, monkeypatch, capsys):
    """Audit finding 12: a damaged manifest made its build look "not fetched", silently."""
    from harness.errors import HarnessError
    from harness.qemu_builds import resolve_qemu
    monkeypatch.setenv("QEMUS_CACHE", str(tmp_path))
    (tmp_path / "sid").mkdir()
    for text in ("{not json", json.dumps({"qemu_version": "11.1.3"})):
        (tmp_path / "sid" / qemus.MANIFEST).write_text(text)
        with pytest.raises(qemus.BadManifest, match=r"sid/build.json is not a build manifest .*fetch sid"):
            qemus.cached(tmp_path)
        assert qemus.cached(tmp_path, damaged_ok=True) == {}
        for command in (["list"], ["path", "sid"]):
            assert qemus.main(command) == 2
            assert "is not a build manifest" in capsys.readouterr().err
        with pytest.raises(HarnessError, match="tools/qemus.py fetch sid"):
            resolve_qemu("sid")


def test_only_complete_builds_are_listed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QEMUS_CACHE", str(tmp_path))
    (tmp_path / "sid").mkdir()                          # a fetch that never finished
    (tmp_path / "trixie").mkdir()
    (tmp_path / "trixie" / qemus.MANIFEST).write_text(json.dumps(
        {"qemu_version": "10.0.13", "debian_version": "1:10.0.13+ds-0+deb13u1", "wrapper": "/w"}))
    assert list(qemus.cached(tmp_path)) == ["trixie"]
    assert qemus.main(["list"]) == 0
    assert "QEMU 10.0.13" in capsys.readouterr().out
    assert qemus.main(["path", "sid"]) == 2
    assert "fetch it with `tools/qemus.py fetch sid`" in capsys.readouterr().err
