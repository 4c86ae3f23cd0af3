# Thin wrapper over CMake. `make run` and `make test` take a fresh machine all the way.
BUILD      ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure run test test-load bench asan clang format clean deb install-check deb-check

all: configure
	cmake --build $(BUILD) -j $(JOBS)

# A configure that failed (e.g. run before `make deps`) leaves a cache but no Makefile: redo it.
configure:
	@test -f $(BUILD)/Makefile || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

deps:
	bash scripts/deps.sh

run: deps all
	$(BUILD)/bin/zepto report

test: deps all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The timing tests (ctest label `timing`) while stress-ng keeps every CPU busy: each passes, or
# skips saying how busy the machine was; none may fail. stress-ng is stopped however ctest ends.
LOAD_CPUS ?= $(shell nproc)
test-load: deps all
	@stress-ng --cpu $(LOAD_CPUS) --timeout 1800s --quiet & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	echo "test-load: stress-ng --cpu $(LOAD_CPUS) (pid $$pid) keeps the CPUs busy"; \
	cd $(BUILD) && ctest -L timing --output-on-failure

bench: deps all
	bash bench/run.sh $(BUILD)

# AddressSanitizer + UBSan build; runs the unit and integration tests again.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DZEPTO_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -LE nosan

# clang build with warnings as errors (gcc and clang must both be clean).
clang: deps
	CC=clang cmake -S . -B $(CLANG_BUILD) -DZEPTO_WERROR=ON
	cmake --build $(CLANG_BUILD) -j $(JOBS)

# The Debian packages (zepto, zepto-mpi) from this tree: dpkg-buildpackage writes them next to
# the source tree; they are moved into $(DEB_OUT) (gitignored), then checked with lintian.
DEB_OUT ?= build-deb
deb: deps
	dpkg-buildpackage -b -us -uc
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg --print-architecture); \
	mv ../zepto_$${v}_$$a.deb ../zepto-mpi_$${v}_$$a.deb ../zepto_$${v}_$$a.changes \
	   ../zepto_$${v}_$$a.buildinfo $(DEB_OUT)/; \
	mv ../zepto-dbgsym_$${v}_$$a.deb ../zepto-mpi-dbgsym_$${v}_$$a.deb $(DEB_OUT)/ 2>/dev/null || true
	lintian --fail-on error $(DEB_OUT)/*.changes

# The packages installed into this machine with apt (which pulls their dependencies), then
# `zepto report --quick` from /usr/bin, then removed again.
deb-check: deb
	bash scripts/deb_check.sh $(DEB_OUT)

# The install into a temporary prefix, examples built against it, every subcommand's smoke test.
install-check: all
	cd $(BUILD) && ctest -R 'integration\.install_prefix$$' --output-on-failure

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD)
