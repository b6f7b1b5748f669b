# Thin wrapper over CMake presets. Every target first installs missing Debian packages.
#   make run     build and start sluiced on its embedded default (RUN_ARGS=... for flags)
#   make test    build and run the whole test suite
#   make bench   build and run sluice-bench
# PRESET=release|debug|asan|tsan selects the build (default release).
PRESET ?= release
JOBS ?= $(shell nproc)
BUILD := build/$(PRESET)

.PHONY: all deps configure build test run sim bench format format-check clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

run: build
	@echo "sluiced: embedded default (127.0.0.1:8080, admin 127.0.0.1:9901, per-ip 10/s burst 20)"
	@echo "try: curl -i http://127.0.0.1:8080/   (Ctrl-C stops it)"
	@$(BUILD)/tools/sluiced $(RUN_ARGS)

sim: build
	@$(BUILD)/tools/sluice-sim --algorithm gcra --rate 4/s --burst 4 \
	  --trace tests/tools/data/sample_trace.csv --decisions -

bench: build
	@$(BUILD)/bench/sluice-bench $(BENCH_ARGS)

FORMAT_FILES = $(shell git ls-files '*.cc' '*.h')

format:
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: clean"

clean:
	@rm -rf build
