# Thin wrapper over CMake.  The two commands a new user types:
#   make demo   -- installs what is missing, builds, runs the demonstration
#   make test   -- installs what is missing, builds twice (gcc; clang with
#                  ASan+UBSan and fuzzers) and runs every test in both
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all deps build demo demo-sim test test-release test-asan fuzz bench bench-blob-agents clean install

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=gcc -DGOSSIP_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

# The simulator's demonstration: the round model against the theory, 100
# simulated nodes, failure detection under loss (no processes, no sockets).
demo-sim: build
	@scripts/demo-sim.sh $(BUILD)

test-release: deps
	cmake -S . -B build-test-gcc -DCMAKE_C_COMPILER=gcc -DGOSSIP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-test-gcc -j $(JOBS)
	cd build-test-gcc && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B build-test-asan -DCMAKE_C_COMPILER=clang -DGOSSIP_WERROR=ON \
	      -DCMAKE_BUILD_TYPE=Debug -DGOSSIP_SANITIZE=ON -DGOSSIP_FUZZ=ON -DGOSSIP_FUZZ_SECONDS=5
	cmake --build build-test-asan -j $(JOBS)
	cd build-test-asan && ctest --output-on-failure -j $(JOBS)

# The release suite first, the sanitizer suite last: the output ends with
# ctest's summary line of the ASan+UBSan run.
test: test-release test-asan

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGOSSIP_SANITIZE=ON -DGOSSIP_FUZZ=ON \
	      -DGOSSIP_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build build-fuzz -j $(JOBS)
	cd build-fuzz && ctest --output-on-failure -R '^fuzz_'

bench: build
	@for b in $(BUILD)/bench_*; do echo "== $$b"; $$b || exit 1; done

# 100 gossipd on loopback spreading a 10 MiB payload (about a minute; not in
# `make bench`: it starts 100 processes).  BENCH_ARGS=--smoke for 10 x 2 MiB.
bench-blob-agents: build
	@bench/blob_agents.sh --build $(BUILD) $(BENCH_ARGS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-test-gcc build-test-asan build-fuzz
