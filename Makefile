# The two commands of the README: `make run` and `make test`. Everything else
# here is what they are made of.
BUILD      ?= build
BUILD_ASAN ?= build-sanitize
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
# Tests mostly wait on child processes, peers and timers (the CPU is ~95 % idle
# through the integration tests at one per core), so twice as many run at once.
TEST_JOBS  ?= $(shell echo $$(( $$(nproc) * 2 )))
FUZZ_SECONDS ?= 20

.PHONY: all setup build run test test-unit sanitize-build test-sanitize fuzz fuzz-smoke bench deb clean

all: build

# Installs missing Debian packages (idempotent, quick when nothing is missing).
setup:
	@./scripts/setup.sh

$(BUILD)/CMakeCache.txt: | setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/vigil run --config deploy/default.yml

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# built by clang with libFuzzer's coverage hooks: the same tree holds the
# real fuzzers that `make fuzz-smoke` runs, so CI compiles the code twice, not
# three times. -g1: line tables are all a sanitizer report needs. Left out:
# test_deb (it installs the package, once is enough) and the soak's short run
# (five minutes of the same code paths the suite runs, kept off CI's clock).
SANITIZE_CONFIGURE = cmake -S . -B $(BUILD_ASAN) -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DVIGIL_SANITIZE=ON -DVIGIL_FUZZ=ON -DVIGIL_BENCH=OFF

sanitize-build: setup
	$(SANITIZE_CONFIGURE)
	cmake --build $(BUILD_ASAN) -j $(JOBS)

test-sanitize: sanitize-build
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(TEST_JOBS) -E '^(integration\.test_deb|bench\.soak_short)$$'

# Each libFuzzer target briefly (FUZZ_SECONDS), from the sanitizer tree.
fuzz-smoke: sanitize-build
	./scripts/fuzz-smoke.sh $(BUILD_ASAN) $(FUZZ_SECONDS)

# Optimized fuzzers only, for long campaigns (docs/testing.md).
fuzz: setup
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON -DVIGIL_WERROR=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target vigil_fuzzers

bench: build
	./$(BUILD)/bench/vigil_bench

# The Debian package of the binary in $(BUILD) (docs/deploy.md): $(BUILD)/deb/vigil_VERSION_ARCH.deb
# and vigil-dbgsym_VERSION_ARCH.deb, built with dpkg-deb by scripts/build-deb.sh.
deb: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target vigil
	./scripts/build-deb.sh --vigil $(BUILD)/vigil --out $(BUILD)/deb

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
