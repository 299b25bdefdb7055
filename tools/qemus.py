#!/usr/bin/python3
"""Debian's QEMU builds, fetched into a private cache, each runnable through one wrapper.

    tools/qemus.py fetch [BUILD...]   fetch the named builds (default: the default set)
    tools/qemus.py list               what is cached, with exact versions
    tools/qemus.py path BUILD         the wrapper that runs BUILD's qemu-system-aarch64

A build is a Debian suite's qemu-system-arm package.  Its whole dependency
closure (glibc included) is downloaded with apt under a private state -- its
own sources list, package lists, archive cache and an empty dpkg status, so
apt resolves as for an empty machine -- and unpacked with dpkg-deb into
<cache>/<build>/root.  Nothing is installed and the system's apt
configuration is only read (for the mirror to name).  The wrapper starts the
binary through the root's own dynamic loader with the root's libraries, and
gives QEMU the root's firmware and module directories, so builds of any
suite run side by side with the system's QEMU.

The cache is $QEMUS_CACHE, default ~/.cache/mmu-suite/qemus.  A build whose
package version is cached already is not downloaded again.  A build that
cannot be fetched is reported and the others go on; the exit status is 1 if
any failed.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Each build: the suites its sources name (the first is the one qemu-system-arm
# comes from; the others supply dependencies), in the order apt should prefer them.
BUILDS = {
    "bookworm": ["bookworm", "bookworm-updates"],
    "bookworm-backports": ["bookworm-backports", "bookworm", "bookworm-updates"],
    "trixie": ["trixie", "trixie-updates"],
    "sid": ["sid"],
}
DEFAULT_SET = ["bookworm", "bookworm-backports", "trixie", "sid"]
PACKAGE = "qemu-system-arm"
BINARY = "usr/bin/qemu-system-aarch64"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
ARCH_TRIPLET = "x86_64-linux-gnu"
LOADER = "ld-linux-x86-64.so.2"
WRAPPER = "qemu-system-aarch64"
# Written last by a fetch: a build without it is incomplete and is fetched again.
MANIFEST = "build.json"


class FetchError(Exception):
    pass


def cache_dir():
    return Path(os.environ.get("QEMUS_CACHE") or Path.home() / ".cache" / "mmu-suite" / "qemus").absolute()


def system_mirror(sources=Path("/etc/apt/sources.list"), parts=Path("/etc/apt/sources.list.d")):
    """The Debian archive URI the machine's apt sources name (read only), so the
    builds come from the mirror the machine is set up for."""
    texts = []
    for path in [sources, *sorted(parts.glob("*.list")), *sorted(parts.glob("*.sources"))]:
        try:
            texts.append(path.read_text())
        except OSError:
            pass
    for text in texts:
        # deb822 stanzas: URIs and Suites lines of one stanza.
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and any(s in ("bookworm", "trixie", "sid", "stable") for s in suites.group(1).split()):
                return uris.group(1).rstrip("/")
        for line in text.splitlines():
            match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(bookworm|trixie|sid|stable)\s", line)
            if match:
                return match.group(1).rstrip("/")
    return FALLBACK_MIRROR


class PrivateApt:
    """apt-get with every directory it reads or writes in `home` except the
    keyring and the apt methods."""

    def __init__(self, home, mirror, suites):
        self.home = home
        for d in ("state/lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d"):
            (home / d).mkdir(parents=True, exist_ok=True)
        (home / "state/status").touch()
        (home / "etc/sources.list").write_text(
            "".join(f"deb [signed-by={KEYRING}] {mirror} {suite} main\n" for suite in suites))
        self.default_release = suites[0]

    def options(self):
        h = self.home
        opts = {
            "Dir::State": h / "state", "Dir::State::status": h / "state/status",
            "Dir::Cache": h / "cache", "Dir::Etc::SourceList": h / "etc/sources.list",
            "Dir::Etc::SourceParts": h / "etc/sources.list.d", "Dir::Etc::Preferences": h / "etc/preferences",
            "Dir::Etc::PreferencesParts": h / "etc/preferences.d", "Dir::Log": h / "log",
            "APT::Architecture": "amd64", "APT::Architectures": "amd64",
            "APT::Install-Recommends": "false", "APT::Default-Release": self.default_release,
            "Acquire::Languages": "none",
            # The private state has its own locks; the system's dpkg lock is not ours to take.
            "Debug::NoLocking": "true",
        }
        if os.geteuid() == 0:
            # The cache may sit where apt's unprivileged download user cannot write.
            opts["APT::Sandbox::User"] = "root"
        return [arg for k, v in opts.items() for arg in ("-o", f"{k}={v}")]

    def run(self, *args, log):
        cmd = ["apt-get", "-q", *self.options(), *args]
        with open(log, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if proc.returncode != 0:
            raise FetchError(f"`apt-get {' '.join(args)}` failed (exit {proc.returncode}); "
                             f"last lines of {log}:\n" + "".join(open(log).readlines()[-8:]))

    def candidate(self, package):
        """The version apt would fetch for `package`, None if no suite has it."""
        proc = subprocess.run(["apt-cache", *self.options(), "policy", package], capture_output=True, text=True)
        match = re.search(r"Candidate:\s*(\S+)", proc.stdout)
        return match.group(1) if match and match.group(1) != "(none)" else None


def resolve_in_root(root, path):
    """`path` (relative to root) with its symlinks followed inside root: an
    absolute link target is the root's, not the host's."""
    parts = list(Path(path).parts)
    current = Path(root)
    for _ in range(64):
        if not parts:
            return current
        part = parts.pop(0)
        candidate = current / part
        if candidate.is_symlink():
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = Path(root)
                target = target.lstrip("/")
            parts = list(Path(target).parts) + parts
        else:
            current = candidate
    raise FetchError(f"too many symbolic links resolving {path} in {root}")


def find_loader(root):
    for rel in (f"usr/lib/{ARCH_TRIPLET}/{LOADER}", f"lib/{ARCH_TRIPLET}/{LOADER}", f"lib64/{LOADER}",
                f"usr/lib64/{LOADER}"):
        real = resolve_in_root(root, rel)
        if real.is_file():
            return real
    raise FetchError(f"no dynamic loader {LOADER} in {root} (libc6 missing from the closure?)")


def write_wrapper(build_dir, root):
    loader = find_loader(root)
    lib_path = ":".join(str(root / d) for d in (f"lib/{ARCH_TRIPLET}", f"usr/lib/{ARCH_TRIPLET}", "lib", "usr/lib"))
    module_dir = root / f"usr/lib/{ARCH_TRIPLET}/qemu"
    wrapper = build_dir / WRAPPER
    # --inhibit-cache: no library may come from the host's ld.so.cache, so a
    # library missing from the closure fails loudly instead of mixing builds.
    # -L: this build's firmware and data; QEMU_MODULE_DIR: its own modules.
    q = lambda path: shlex.quote(str(path))
    wrapper.write_text(
        "#!/bin/sh\n"
        f"# {build_dir.name}'s qemu-system-aarch64, through its own loader and libraries (tools/qemus.py)\n"
        f"QEMU_MODULE_DIR={q(module_dir)} exec {q(loader)} --inhibit-cache --library-path {q(lib_path)} "
        f"{q(root / BINARY)} -L {q(root / 'usr/share/qemu')} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def qemu_version(wrapper):
    """'10.0.2': the build's own answer, which also proves it starts."""
    proc = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"version (\d+\.\d+(?:\.\d+)?)", proc.stdout)
    if proc.returncode != 0 or not match:
        raise FetchError(f"{wrapper} --version failed (exit {proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()[-500:]}")
    return match.group(1)


def fetch(name, cache, mirror, log_to=sys.stdout):
    """Fetch build `name` into cache/name; returns its manifest."""
    if name not in BUILDS:
        raise FetchError(f"unknown build {name!r}: known builds are {', '.join(BUILDS)}")
    build_dir = cache / name
    log = build_dir / "fetch.log"
    build_dir.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    apt = PrivateApt(build_dir / "apt", mirror, BUILDS[name])
    print(f"{name}: apt-get update ({', '.join(BUILDS[name])} from {mirror})", file=log_to, flush=True)
    apt.run("update", log=log)
    version = apt.candidate(PACKAGE)
    if version is None:
        raise FetchError(f"no {PACKAGE} package in {', '.join(BUILDS[name])} at {mirror}")
    old = cached(cache, damaged_ok=True).get(name)
    if old is not None and old["debian_version"] == version:
        # The wrapper is rewritten (it is this tool's, not the package's) and must still start.
        qemu_version(write_wrapper(build_dir, build_dir / "root"))
        print(f"{name}: {PACKAGE} {version} is cached already", file=log_to, flush=True)
        return old
    (build_dir / MANIFEST).unlink(missing_ok=True)
    print(f"{name}: downloading {PACKAGE} and its dependency closure", file=log_to, flush=True)
    apt.run("install", "--download-only", "-y", PACKAGE, log=log)
    debs = sorted((build_dir / "apt/cache/archives").glob("*.deb"))
    main = [d for d in debs if d.name.startswith(PACKAGE + "_")]
    if not main:
        raise FetchError(f"apt downloaded no {PACKAGE} package (see {log})")
    # Unpack into a fresh directory, then swap it in: an interrupted fetch
    # leaves the previous root or none, never a half-unpacked one in use.
    new_root = Path(tempfile.mkdtemp(prefix="root.", dir=build_dir))
    print(f"{name}: unpacking {len(debs)} packages", file=log_to, flush=True)
    for deb in debs:
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(new_root)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(new_root)
            raise FetchError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")
    root = build_dir / "root"
    if root.exists():
        shutil.rmtree(root)
    new_root.chmod(0o755)
    new_root.rename(root)
    wrapper = write_wrapper(build_dir, root)
    deb_version = subprocess.run(["dpkg-deb", "-f", str(main[0]), "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    manifest = {"build": name, "suites": BUILDS[name], "mirror": mirror, "package": PACKAGE,
                "debian_version": deb_version, "qemu_version": qemu_version(wrapper), "wrapper": str(wrapper),
                "packages": len(debs)}
    (build_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    # The downloaded archives are no longer needed once unpacked.
    for deb in debs:
        deb.unlink()
    return manifest


class BadManifest(Exception):
    """A build's manifest that is not one (damaged, or written by hand): the build must be fetched again."""


MANIFEST_KEYS = ("qemu_version", "debian_version", "wrapper")


def cached(cache, damaged_ok=False):
    """{build: manifest} for every complete build in the cache.  A damaged manifest is BadManifest,
    naming the file and how to fetch the build again; never a build silently "not fetched"
    (damaged_ok: left out, for the fetch that rewrites it)."""
    out = {}
    for manifest in sorted(cache.glob(f"*/{MANIFEST}")):
        name = manifest.parent.name
        try:
            doc = json.loads(manifest.read_text())
            if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in MANIFEST_KEYS):
                raise ValueError(f"it lacks one of {', '.join(MANIFEST_KEYS)}")
        except (ValueError, OSError) as e:
            if damaged_ok:
                continue
            raise BadManifest(f"{manifest} is not a build manifest ({e}): fetch the build again with "
                              f"`tools/qemus.py fetch {name}` (make qemus QEMUS={name})") from None
        out[name] = doc
    return out


def cmd_fetch(args):
    cache = cache_dir()
    mirror = args.mirror or system_mirror()
    names, failed = [], []
    for name in args.builds or DEFAULT_SET:
        # make compare's QEMUS may also name the system QEMU or a binary: nothing to fetch.
        if name == "system" or "/" in name:
            print(f"{name}: not a Debian build, used as it is")
        else:
            names.append(name)
    for name in names:
        try:
            manifest = fetch(name, cache, mirror)
            print(f"{name}: ok, QEMU {manifest['qemu_version']} (Debian {manifest['debian_version']}) -> {manifest['wrapper']}",
                  flush=True)
        except (FetchError, OSError, subprocess.SubprocessError) as e:
            failed.append(name)
            print(f"{name}: FETCH FAILED: {e}", flush=True)
    print(f"fetched {len(names) - len(failed)} of {len(names)} builds into {cache}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_list(args):
    cache = cache_dir()
    try:
        builds = cached(cache)
    except BadManifest as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not builds:
        print(f"no QEMU builds in {cache}: fetch them with `make qemus` (tools/qemus.py fetch)")
        return 1
    width = max(map(len, builds))
    for name, m in builds.items():
        print(f"{name:<{width}}  QEMU {m['qemu_version']:<8}  Debian {m['debian_version']:<30}  {m['wrapper']}")
    return 0


def cmd_path(args):
    try:
        builds = cached(cache_dir())
    except BadManifest as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.build not in builds:
        print(f"error: build {args.build!r} is not in {cache_dir()}: fetch it with "
              f"`tools/qemus.py fetch {args.build}`", file=sys.stderr)
        return 2
    print(builds[args.build]["wrapper"])
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="fetch builds into the cache")
    p.add_argument("builds", nargs="*", help=f"of {', '.join(BUILDS)} (default: {' '.join(DEFAULT_SET)})")
    p.add_argument("--mirror", help="Debian archive URI (default: the one the system's apt sources name)")
    p.set_defaults(func=cmd_fetch)
    sub.add_parser("list", help="list cached builds").set_defaults(func=cmd_list)
    p = sub.add_parser("path", help="the wrapper of a cached build")
    p.add_argument("build")
    p.set_defaults(func=cmd_path)
    args = parser.parse_args(argv)
    # `system` (the QEMU on PATH) is no Debian build: cmd_fetch says so and uses it as it is.
    unknown = [b for b in getattr(args, "builds", ()) if b not in BUILDS and b != "system"]
    if unknown:     # a usage error before anything is fetched
        parser.error(f"unknown build {unknown[0]!r}: known builds are {', '.join(BUILDS)}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
