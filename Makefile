# The two commands of the README: `make run` and `make test`. Everything else
# here is what they are made of.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 20

.PHONY: all setup build run test test-unit test-sanitize fuzz fuzz-smoke bench deb clean

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
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: setup
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON -DVIGIL_BENCH=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E '^integration\.test_deb$$'

# libFuzzer targets (clang); `make fuzz-smoke` runs each for FUZZ_SECONDS.
fuzz: setup
	CXX=clang++-14 cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON -DVIGIL_WERROR=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target vigil_fuzzers

fuzz-smoke: fuzz
	./scripts/fuzz-smoke.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

bench: build
	./$(BUILD)/bench/vigil_bench

# The Debian package of the binary in $(BUILD) (docs/deploy.md): $(BUILD)/deb/vigil_VERSION_ARCH.deb
# and vigil-dbgsym_VERSION_ARCH.deb, built with dpkg-deb by scripts/build-deb.sh.
deb: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target vigil
	./scripts/build-deb.sh --vigil $(BUILD)/vigil --out $(BUILD)/deb

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
