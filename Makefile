# AArch64 MMU conformance suite.  `make help` lists the targets.

PYTHON  ?= /usr/bin/python3
# QEMU: a build fetched by `make qemus` (bookworm, sid ...), `system`, a path, or a command on PATH.
QEMU    ?= qemu-system-aarch64
CPU     ?= max
CROSS   ?= aarch64-linux-gnu-
# CASES: case directories and single case files, anywhere, separated by spaces.
CASES   ?= cases
# K: a case selection, pytest's -k expression (make run, test, compare, fuzz).
K       ?=
BUILD   ?= build
# pytest-xdist workers.  None for `make run`: one pytest process, which boots a QEMU per CPU at a
# time, runs the cases fastest; `make test` runs the project's tests too, one worker per CPU.
JOBS    ?=
PYTEST_ARGS ?=
# QEMUs and CPUs of `make compare`: builds fetched by `make qemus`, `system`, or binary
# paths; empty: the default set of tools/qemus.py.
QEMUS   ?=
CPUS    ?= max

CC      := $(CROSS)gcc
KERNEL  := $(BUILD)/kernel.elf
CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-stack-protector \
           -mgeneral-regs-only -mstrict-align -Ikernel $(KCFLAGS)
LDFLAGS := -nostdlib -static -Wl,--build-id=none -Wl,-z,norelro -Wl,--no-warn-rwx-segments

KSRC    := $(wildcard kernel/*.c) $(wildcard kernel/*.S)
KOBJ    := $(patsubst kernel/%,$(BUILD)/obj/%.o,$(KSRC))
BLOB    := $(BUILD)/cases.bin
KHDR    := $(wildcard kernel/*.h)
CASES_OPTS := $(foreach c,$(CASES),--cases=$(c))
SELECT  := $(if $(K),-k '$(K)')
# IMPL=NAME/VERSION: what QEMU= runs when it is not QEMU itself; BUGS=: bugs files (harness/implementation.py).
SUITE   := $(PYTHON) -m pytest --qemu=$(QEMU) --cpu=$(CPU) $(CASES_OPTS) --build=$(BUILD) \
           $(if $(IMPL),--implementation=$(IMPL)) $(foreach b,$(BUGS),--bugs=$(b))
CASE_FILES := $(foreach c,$(CASES),$(if $(filter %.toml,$(c)),$(c),$(wildcard $(c)/*.toml)))

# Targets that pass no PYTEST_ARGS to a pytest refuse it rather than drop it.
no_pytest_args = @test -z '$(PYTEST_ARGS)' || { echo "error: make $(1) takes no PYTEST_ARGS: PYTEST_ARGS='$(PYTEST_ARGS)'" \
	"would be ignored; a selection of cases is CASES= and K=" >&2; exit 2; }

.PHONY: all help deps browser kernel run test bench fuzz fuzz-inputs debug coverage qemus compare bugs bisect clean FORCE
all: kernel

help:
	@echo "make run      build the kernel and run the conformance suite (QEMU=, CPU=, CASES=, K=, JOBS=, PYTEST_ARGS=-v)"
	@echo "make test     the project's own tests, then the conformance suite (what CI runs)"
	@echo "make bench    boot floor, default run against one boot per case, peak memory, time at scale"
	@echo "make fuzz     a campaign of generated cases judged by the model (SEED=, COUNT=, QEMU=, CPU=; QEMUS=\"bookworm sid\": on each build, where they differ)"
	@echo "make fuzz-inputs  every parser against COUNT= mutated inputs each (default 10000; SEED=): 0 escapes"
	@echo "make debug CASE=<id>   run one case under QEMU's gdbstub with gdb-multiarch (GDB_ARGS='-batch -x FILE')"
	@echo "make deps     check (and, as root, install) the Debian packages needed"
	@echo "make coverage rewrite the README's coverage table from the case files"
	@echo "make qemus    fetch Debian's QEMU builds (QEMUS=) into a private cache and list them"
	@echo "make compare  the suite on every QEMUS x CPUS pair: the matrix and results/report.html (CASES=, K=, PYTEST_ARGS=)"
	@echo "make bugs     the known QEMU bugs and which runs in results/ show them (QEMU=: run that build first)"
	@echo "make bisect QEMU_SRC=<qemu checkout> GOOD=<rev> BAD=<rev> CASE='<id> ...'   the commit that changed them"
	@echo "QEMU=, QEMUS= name a build of make qemus (bookworm, sid ...), system, or a path"

deps:
	@tools/deps.sh "$(PYTHON)" "$(QEMU)" "$(CC)"

# The case blob and the kernel that runs it (QEMU loads the blob next to it at run
# time: a case file that changes remakes only the blob).  The blob first: a bad
# case stops the build before anything is compiled.
kernel: $(BLOB) $(KERNEL)

# The blob is encoded from the case files; a bad case stops here (exit 2).
# Which case files it was made from: a new CASES=, or a file added or removed,
# remakes it even when no file is newer than it.
$(BUILD)/cases.list: FORCE | $(BUILD)/obj
	@echo '$(abspath $(CASE_FILES))' | cmp -s - $@ || echo '$(abspath $(CASE_FILES))' > $@

$(BLOB): $(BUILD)/cases.list $(CASE_FILES) $(wildcard harness/*.py harness/cases/*.py) $(KHDR) | $(BUILD)/obj
	$(PYTHON) -m harness.blob --cases $(CASES) --out $@

$(BUILD)/obj/%.c.o: kernel/%.c $(KHDR) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.S.o: kernel/%.S $(KHDR) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/kernel.ld: linker/kernel.ld kernel/layout.h | $(BUILD)/obj
	$(CC) -E -P -x c -Ikernel $< -o $@

$(KERNEL): $(KOBJ) $(BUILD)/kernel.ld
	$(CC) $(CFLAGS) $(LDFLAGS) -T $(BUILD)/kernel.ld $(KOBJ) -o $@

$(BUILD)/obj:
	mkdir -p $@

# No test paths: the session runs the CASES (--cases), wherever they are.
run: deps kernel
	$(SUITE) $(if $(JOBS),-n $(JOBS)) $(SELECT) $(PYTEST_ARGS)

# Headless Chromium for the report's browser test (tests/test_report.py skips without it).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" -ne 0 ] || { echo "installing: chromium (for the report's browser test)"; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
		>/tmp/mmu-suite-apt.log 2>&1 || echo "chromium could not be installed (log: /tmp/mmu-suite-apt.log): its test skips"; }

test: deps browser kernel
	$(SUITE) tests $(CASES) --strict-model -n $(or $(JOBS),auto) $(SELECT) $(PYTEST_ARGS)

bench: deps kernel
	$(call no_pytest_args,bench)
	$(PYTHON) -m harness.bench --qemu=$(QEMU) --cpu=$(CPU) --build=$(BUILD) --cases=$(CASES) --jobs=$(or $(JOBS),auto)

# Generated cases: new mismatches are shrunk into results/fuzz/ (exit 1), known QEMU bugs listed.
# With a case selection (CASES= given, or K=) it runs those cases alone instead, each judged by the model
# as a campaign judges its cases; SHOW=N prints generated case N of SEED= as a case file.
FUZZ_SELECTS := $(or $(K),$(filter command line environment,$(origin CASES)))
fuzz: deps kernel
	$(call no_pytest_args,fuzz)
	$(PYTHON) -m harness.fuzz --qemu=$(QEMU) --cpu=$(CPU) --build=$(BUILD) $(if $(SEED),--seed=$(SEED)) \
		$(if $(COUNT),--count=$(COUNT)) $(if $(SHOW),--show=$(SHOW)) $(if $(QEMUS),--qemus $(QEMUS)) \
		$(if $(FUZZ_SELECTS),--rerun $(CASES) $(SELECT))

# Bad input: the property tests of every parser (tests/test_fuzz_inputs_*.py, which `make test`
# runs with a small budget), each with COUNT mutated inputs; a tally per parser, and every
# distinct escape with its input kept.
FUZZ_INPUTS := $(wildcard tests/test_fuzz_inputs_*.py)
fuzz-inputs: deps kernel
	FUZZ_INPUTS_EXAMPLES=$(or $(COUNT),10000) $(if $(SEED),FUZZ_INPUTS_SEED=$(SEED)) \
		$(SUITE) $(FUZZ_INPUTS) -q -rP -n $(or $(JOBS),auto) $(PYTEST_ARGS)

# The case is encoded into a blob of its own: only the kernel is needed.
debug: deps $(KERNEL)
	$(call no_pytest_args,debug)
	@test -n "$(CASE)" || { echo "usage: make debug CASE=<case id> [GDB_ARGS='-batch -x FILE']" >&2; exit 2; }
	$(PYTHON) -m harness.debug --qemu=$(QEMU) --cpu=$(CPU) --kernel=$(KERNEL) $(CASES_OPTS) \
		--gdb-args='$(GDB_ARGS)' '$(CASE)'


qemus:
	$(PYTHON) tools/qemus.py fetch $(QEMUS)
	@$(PYTHON) tools/qemus.py list

compare: deps kernel
	$(PYTHON) -m harness.matrix $(if $(QEMUS),--qemus $(QEMUS)) --cpus $(CPUS) $(CASES_OPTS) --build=$(BUILD) \
		--pytest-args="$(SELECT) $(PYTEST_ARGS)"

# The known-bug catalogue over results/*.json; with QEMU= given, the suite runs on that QEMU first and
# the catalogue says which known bugs it has and which cases newly differ from the architecture.
bugs: $(if $(filter command line environment,$(origin QEMU)),deps kernel)
	$(call no_pytest_args,bugs)
	$(PYTHON) -m harness.bugs $(if $(filter command line environment,$(origin QEMU)),--qemu=$(QEMU) --cpu=$(CPU)) \
		$(CASES_OPTS) --build=$(BUILD)

# git bisect run over a QEMU checkout: configured once (aarch64-softmmu), built incrementally, the cases
# run on each build; QEMU_CONFIGURE= and QEMU_MAKE= replace QEMU's configure and build commands.
bisect: deps kernel
	$(call no_pytest_args,bisect)
	@test -n "$(QEMU_SRC)" -a -n "$(GOOD)" -a -n "$(BAD)" -a -n "$(CASE)" || { echo "usage: make bisect QEMU_SRC=<qemu checkout>" \
		"GOOD=<revision> BAD=<revision> CASE='<case id> ...' [QEMU_CONFIGURE=...] [QEMU_MAKE=...]" >&2; exit 2; }
	$(PYTHON) -m harness.bisect --src='$(QEMU_SRC)' --good='$(GOOD)' --bad='$(BAD)' --cpu=$(CPU) $(CASES_OPTS) \
		--build=$(BUILD) $(if $(QEMU_CONFIGURE),--configure='$(QEMU_CONFIGURE)') $(if $(QEMU_MAKE),--make='$(QEMU_MAKE)') \
		$(foreach c,$(CASE),'$(c)')

coverage:
	$(PYTHON) -m harness.coverage --update

clean:
	rm -rf $(BUILD)
