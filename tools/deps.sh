#!/bin/sh
# Check what the suite needs; as root, install what is missing from Debian's
# packages, otherwise print the exact command and fail.
#   tools/deps.sh PYTHON QEMU CROSS_CC
set -u
PYTHON=${1:-/usr/bin/python3}
QEMU=${2:-qemu-system-aarch64}
CROSS_CC=${3:-aarch64-linux-gnu-gcc}
missing=""

need_cmd() {   # command, Debian package
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

need_cmd gcc gcc
need_cmd "$CROSS_CC" gcc-aarch64-linux-gnu
need_cmd aarch64-linux-gnu-nm binutils-aarch64-linux-gnu
need_cmd gdb-multiarch gdb-multiarch
# QEMU= may also name a fetched build (make qemus), which the harness resolves (harness/qemu_builds.py).
if [ "$QEMU" = qemu-system-aarch64 ] || [ "$QEMU" = system ]; then
	need_cmd qemu-system-aarch64 qemu-system-arm
elif [ "${QEMU#*/}" != "$QEMU" ] && [ ! -x "$QEMU" ]; then
	echo "error: QEMU=$QEMU is not an executable; pass the path of a qemu-system-aarch64 or a build's name (make qemus)" >&2
	exit 1
fi
if [ "$PYTHON" = /usr/bin/python3 ] && [ ! -x /usr/bin/python3 ]; then
	missing="$missing python3"
elif ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "error: PYTHON=$PYTHON is not an executable" >&2
	exit 1
fi
if command -v "$PYTHON" >/dev/null 2>&1; then
	for mod in pytest:python3-pytest pexpect:python3-pexpect xdist:python3-pytest-xdist; do
		"$PYTHON" -c "import ${mod%%:*}" 2>/dev/null || missing="$missing ${mod#*:}"
	done
	# tomllib is in Python 3.11; older Pythons read TOML with tomli.
	"$PYTHON" -c "import tomllib" 2>/dev/null || "$PYTHON" -c "import tomli" 2>/dev/null ||
		missing="$missing python3-tomli"
fi

[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "${MMU_DEPS_INSTALLED:-}" ]; then
	echo "error: still missing after installing them:$missing" >&2
	echo "(PYTHON=$PYTHON must be a Python that sees Debian's packages, such as /usr/bin/python3)" >&2
	exit 1
fi
# MMU_DEPS_NO_INSTALL=1 only reports (the project's tests use it).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${MMU_DEPS_NO_INSTALL:-}" ]; then
	echo "installing:$missing"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive $cmd; } >/tmp/mmu-suite-apt.log 2>&1 || {
		tail -20 /tmp/mmu-suite-apt.log >&2
		echo "error: '$cmd' failed (log: /tmp/mmu-suite-apt.log)" >&2
		exit 1
	}
	MMU_DEPS_INSTALLED=1 exec "$0" "$PYTHON" "$QEMU" "$CROSS_CC"
fi
echo "missing:$missing" >&2
echo "install them with:  sudo apt-get update && sudo $cmd" >&2
if [ "$PYTHON" != /usr/bin/python3 ]; then
	echo "(or make sure PYTHON=$PYTHON can import pytest, pexpect and xdist)" >&2
fi
exit 1
