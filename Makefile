# Herald -- the two commands a new user types: `make run` and `make test`.
# CMake does the building; this file installs what is missing and wraps it.

BUILD_DIR ?= build
JOBS ?= 2
PORT ?= 8080
DATA_DIR ?= ./herald-data

# Debian packages the build, the server and the tests need.
DEB_PACKAGES = build-essential cmake pkg-config libuv1-dev libhttp-parser-dev \
  libjansson-dev libmsgpack-dev libssl-dev libsqlite3-dev libwslay-dev libcmocka-dev libsodium-dev wrk curl
# Node.js runs the integration tests; Debian's packages are used only when no
# node/npm is installed already (a NodeSource nodejs bundles its own npm).
NODE_PACKAGES = nodejs npm

.PHONY: all deps npm-deps build run test unit-test integration-test \
        sanitize-test fuzz bench clean

all: build

# $(call install_missing,PACKAGES,EXTRA): installs those of PACKAGES that are
# not installed yet (nothing when all are); EXTRA is shell that may add more
# names to $$missing.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(2) \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

# Node from Debian only when no node/npm is installed already.
NODE_CHECK = command -v node >/dev/null && command -v npm >/dev/null || \
  missing="$$missing $(NODE_PACKAGES)";

deps:
	$(call install_missing,$(DEB_PACKAGES),$(NODE_CHECK))

npm-deps: deps
	@[ -d tests/node_modules/ably ] || (cd tests && npm ci --no-audit --no-fund)

build: deps
	@cmake -S . -B $(BUILD_DIR) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

run: build
	@$(BUILD_DIR)/heraldd --port $(PORT) --data-dir $(DATA_DIR) $(ARGS)

test: build npm-deps unit-test integration-test

unit-test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

integration-test: build npm-deps
	@HERALDD=$(abspath $(BUILD_DIR))/heraldd node --test \
	  --test-concurrency=$(JOBS) tests/integration/

# The unit and integration suites under AddressSanitizer and UBSan, with
# ASan's defaults: an allocation it cannot serve aborts the server (the
# robustness tests send frames declaring billions of elements, which
# common/wire_bounds.c refuses before msgpack-c would reserve them).
sanitize-test: deps npm-deps
	@$(MAKE) --no-print-directory BUILD_DIR=build-asan \
	  CMAKE_ARGS=-DHERALD_SANITIZE=ON build-asan-configure
	@$(MAKE) --no-print-directory BUILD_DIR=build-asan unit-test \
	  integration-test

build-asan-configure:
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

# Fuzz targets (tests/fuzz/fuzz_<name>.c, libFuzzer + ASan + UBSan, linked
# with common/), each run for FUZZ_SECONDS from the ably-common fixtures as
# seeds, with tests/fuzz/<name>.dict as its dictionary if there is one; the corpus grows in build-fuzz/corpus_<name>, a crash leaves its
# input in build-fuzz/. libFuzzer's default malloc limit applies: no input
# may make the parsers allocate more than that.
FUZZ_PACKAGES = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_SEEDS = tests/fixtures/ably-common/test-resources
FUZZ_TARGETS = json_parse protocol_message base64
FUZZ_SOURCES = $(wildcard common/*.c) -ljansson -lmsgpackc -lcrypto

fuzz: deps
	$(call install_missing,$(FUZZ_PACKAGES),)
	@mkdir -p build-fuzz
	$(foreach t,$(FUZZ_TARGETS),\
	  clang -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -Icommon -Iinclude tests/fuzz/fuzz_$(t).c \
	    $(FUZZ_SOURCES) -o build-fuzz/fuzz_$(t) && \
	  mkdir -p build-fuzz/corpus_$(t) && \
	  cd build-fuzz && ./fuzz_$(t) -max_total_time=$(FUZZ_SECONDS) \
	    $(if $(wildcard tests/fuzz/$(t).dict),-dict=../tests/fuzz/$(t).dict) \
	    -max_len=4096 corpus_$(t) $(abspath $(FUZZ_SEEDS)) && cd .. ;)

# Herald side by side with nchan (nginx module) in one run: scenarios, medians,
# one table, bench/results/latest.{csv,md,png}. See docs/benchmarks.md.
BENCH_PACKAGES = nginx libnginx-mod-nchan gnuplot-nox jq

bench: build
	$(call install_missing,$(BENCH_PACKAGES),)
	@BUILD_DIR=$(BUILD_DIR) bench/run-bench.sh

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
