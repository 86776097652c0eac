# Thin wrapper around CMake. Every target installs what it needs first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps build test test-asan clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@scripts/require-root.sh "make test"
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
