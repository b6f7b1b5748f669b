# Thin wrapper over CMake presets. Every target first installs missing Debian packages.
#   make run     build and start sluiced on its embedded default (RUN_ARGS=... for flags)
#   make test    build and run the whole test suite
#   make bench   build and run sluice-bench
#   make package build the Debian package (build/release/sluice_*.deb): binaries, systemd
#                unit, /etc/sluice/sluiced.yaml, the engine's headers and CMake package;
#                with nginx-dev also libnginx-mod-http-sluice_*.deb (the nginx module)
#   make fuzz    build the libFuzzer targets (preset fuzz) and run each for FUZZ_SECONDS
#   make adversarial  build and run the adversarial suite's full form (tests/adversarial)
#   make fresh-root-test  `make test` in a new minimal Debian 12 root, from a clone of HEAD
#                (FRESH_ARGS=--run-check: `make run` there, answered through curl)
#   make nginx-module build ngx_http_sluice_module.so against Debian's nginx-dev
#                (build/$(PRESET)/integrations/nginx/ngx_http_sluice_module.so)
# PRESET=release|debug|asan|tsan selects the build (default release). TARGETS=... builds only
# those CMake targets (`make build PRESET=tsan TARGETS=tests_e2e`: the test binaries of one
# ctest label, see tests/CMakeLists.txt).
PRESET ?= release
JOBS ?= $(shell nproc)
BUILD := build/$(PRESET)

.PHONY: all deps configure build test run sim bench package fuzz adversarial fresh-root-test \
  nginx-module format format-check clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS) $(if $(TARGETS),--target $(TARGETS))

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

run: build
	@echo "sluiced: embedded default (127.0.0.1:8080, admin 127.0.0.1:9901, per-ip 10/s burst 20)"
	@echo "try: curl -i http://127.0.0.1:8080/   (Ctrl-C stops it)"
	@$(BUILD)/tools/sluiced $(RUN_ARGS)

sim: build
	@$(BUILD)/tools/sluice-sim --algorithm gcra --rate 4/s --burst 4 \
	  --trace tests/tools/data/sample_trace.csv --decisions -
	@echo
	@$(BUILD)/tools/sluice-sim --log tests/tools/data/sample_access.log --format combined \
	  --key ip --algorithm gcra,sliding-log --burst 5 --spread --sweep rate=1/s..40/s:8 \
	  --target 5%

bench: build
	@$(BUILD)/bench/sluice-bench $(BENCH_ARGS)

nginx-module: configure
	@cmake --build $(BUILD) -j$(JOBS) --target nginx_module
	@ls -1 $(BUILD)/integrations/nginx/ngx_http_sluice_module.so

# Always from the release build: a sanitizer build would package instrumented binaries.
package:
	@$(MAKE) --no-print-directory build PRESET=release
	@cd build/release && cpack -G DEB
	@ls -1 build/release/sluice_*.deb
	@if cmake --build build/release --target help | grep -q nginx_module_deb; then \
	  cmake --build build/release --target nginx_module_deb >/dev/null && \
	  ls -1 build/release/libnginx-mod-http-sluice_*.deb; fi

# The adversarial suite at full size (SECURITY.md): hostile clients against the real sluiced on
# loopback, a million-key flood, 50k connections of churn, valgrind. Run directly rather than
# through ctest, whose per-test timeout is set for the short form that `make test` runs.
adversarial: configure
	@cmake --build $(BUILD) -j$(JOBS) --target sluiced adversarial_tests
	@SLUICE_ADVERSARIAL=full $(BUILD)/tests/adversarial/adversarial_tests $(ADVERSARIAL_ARGS)

# Each target starts from its seed corpus (fuzz/corpus/<target>, read only) and writes what it
# finds to a scratch dir, never into the repository; crash-* files land there too. $(JOBS)
# targets run side by side, each for FUZZ_SECONDS (tools/run-fuzzers.sh).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := http_parser normalise config policy_set trace log_parser response_parser \
  forward_request
FUZZ_OUT ?= $(CURDIR)/build/fuzz/out

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target fuzz_all
	@bash tools/run-fuzzers.sh $(FUZZ_SECONDS) $(JOBS) $(FUZZ_OUT) $(FUZZ_TARGETS)

# What a new user gets on a new machine: tools/fresh-root-test.sh (needs root and the Debian
# mirror; the first run debootstraps and caches the root, see the script's header).
fresh-root-test:
	@bash tools/fresh-root-test.sh $(FRESH_ARGS)

FORMAT_FILES = $(shell git ls-files '*.cc' '*.h')

format:
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: clean"

clean:
	@rm -rf build
