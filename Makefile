# Thin wrapper around CMake. Every target installs what it needs first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
STRESS_SECONDS ?= 120
JOBS       ?= $(shell nproc)
# The sanitizer build preloads instrumented libraries into instrumented daemons.
ASAN_ENV   := ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1

.PHONY: all deps build build-asan test test-native test-asan stress bench demo fuzz vm-test vm-test-self clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(BUILD_ASAN)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DFINESSE_SANITIZE=ON \
	  -DFINESSE_BUILD_BENCH=OFF >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)

# Everything natively, then the server's units, the sample file systems, the bypass suites
# and the hostile-client/security suites again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: test-native test-asan

test-native: build
	@scripts/require-root.sh "make test"
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

test-asan: build-asan
	@scripts/require-root.sh "make test"
	$(ASAN_ENV) ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) --timeout 300 \
	  -L 'unit|kernel_path|bypass|security'

# The load test (tests/stress) for STRESS_SECONDS instead of the 10 s `make test` gives it;
# verbose, for its figures (ops/s, errors, the daemon's memory and fds).
stress: build
	@scripts/require-root.sh "make stress"
	FINESSE_STRESS_SECONDS=$(STRESS_SECONDS) FINESSE_TEST_TIMEOUT=$$(( $(STRESS_SECONDS) + 300 )) \
	  ctest --test-dir $(BUILD) --verbose -L stress

# BENCH_ARGS: e.g. --quick, or --storage ext4ram,tmpfs,rootdisk --files 4000000 (finesse-bench --help)
bench: build
	@scripts/require-root.sh "make bench"
	@mkdir -p $(BUILD)/bench
	bash -o pipefail -c '$(BUILD)/bin/finesse-bench --json $(BUILD)/bench/results.json \
	  --plot $(BUILD)/bench/ratios.png $(BENCH_ARGS) | tee $(BUILD)/bench/results.txt'

demo: build
	@scripts/require-root.sh "make demo"
	scripts/demo.sh

# The integration suite inside QEMU on the pinned Debian kernels (vm-tests/README.md).
vm-test: build
	python3 vm-tests/run.py --build-dir $(BUILD)

vm-test-self: deps
	python3 vm-tests/run.py --build-dir $(BUILD) --self-test

# libFuzzer over the server's request decoding and dispatch, for FUZZ_SECONDS.
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DFINESSE_FUZZ=ON -DFINESSE_BUILD_BENCH=OFF >/dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target request_fuzzer
	mkdir -p $(BUILD_FUZZ)/corpus
	$(BUILD_FUZZ)/bin/request_fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  $(BUILD_FUZZ)/corpus

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
