# Thin wrapper over CMake presets. Every target first installs missing Debian packages.
#   make run     build and start sluiced on its embedded default (RUN_ARGS=... for flags)
#   make test    build and run the whole test suite
#   make bench   build and run sluice-bench
#   make package build the Debian package (build/release/sluice_*.deb): binaries, systemd
#                unit, /etc/sluice/sluiced.yaml, the engine's headers and CMake package
#   make fuzz    build the libFuzzer targets (preset fuzz) and run each for FUZZ_SECONDS
#   make adversarial  build and run the adversarial suite's full form (tests/adversarial)
# PRESET=release|debug|asan|tsan selects the build (default release).
PRESET ?= release
JOBS ?= $(shell nproc)
BUILD := build/$(PRESET)

.PHONY: all deps configure build test run sim bench package fuzz adversarial format format-check clean

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

# Always from the release build: a sanitizer build would package instrumented binaries.
package:
	@$(MAKE) --no-print-directory build PRESET=release
	@cd build/release && cpack -G DEB
	@ls -1 build/release/sluice_*.deb

# The adversarial suite at full size (SECURITY.md): hostile clients against the real sluiced on
# loopback, a million-key flood, 50k connections of churn, valgrind. Run directly rather than
# through ctest, whose per-test timeout is set for the short form that `make test` runs.
adversarial: configure
	@cmake --build $(BUILD) -j$(JOBS) --target sluiced adversarial_tests
	@SLUICE_ADVERSARIAL=full $(BUILD)/tests/adversarial/adversarial_tests $(ADVERSARIAL_ARGS)

# Each target starts from its seed corpus (fuzz/corpus/<target>, read only) and writes what it
# finds to a scratch dir, never into the repository; crash-* files land there too.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := http_parser config policy_set trace response_parser forward_request
FUZZ_OUT ?= $(CURDIR)/build/fuzz/out

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target fuzz_all
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_OUT)/$$t/corpus; \
	  echo "=== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	  build/fuzz/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/$$t/ \
	    $(FUZZ_OUT)/$$t/corpus fuzz/corpus/$$t >$(FUZZ_OUT)/$$t/log 2>&1 || { \
	    tail -n 60 $(FUZZ_OUT)/$$t/log; echo "fuzz $$t FAILED: see $(FUZZ_OUT)/$$t/"; exit 1; }; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_OUT)/$$t/log; \
	done

FORMAT_FILES = $(shell git ls-files '*.cc' '*.h')

format:
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: clean"

clean:
	@rm -rf build
