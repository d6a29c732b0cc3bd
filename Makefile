# Herald -- the two commands a new user types: `make run` and `make test`.
# CMake does the building; this file installs what is missing and wraps it.

BUILD_DIR ?= build
JOBS ?= 2
PORT ?= 8080
DATA_DIR ?= ./herald-data
PREFIX ?= /usr/local

# Debian packages the build, the server and the tests need (chromium: the
# browser tests/integration/browser.test.mjs drives; redis-server: the
# redis engine's tests start their own; sqlite3: the shell a race test
# holds a database lock with).
DEB_PACKAGES = build-essential cmake pkg-config libuv1-dev libhttp-parser-dev \
  libjansson-dev libmsgpack-dev libssl-dev libsqlite3-dev libwslay-dev libcmocka-dev libsodium-dev wrk curl \
  chromium libhiredis-dev redis-server sqlite3 libcurl4-openssl-dev
# Node.js runs the integration tests; Debian's packages are used only when no
# node/npm is installed already (a NodeSource nodejs bundles its own npm).
NODE_PACKAGES = nodejs npm

.PHONY: all deps npm-deps build run test check-layers unit-test integration-test \
        integration-test-latest-sdk integration-test-tls sanitize-test fuzz fuzz-ci fuzz-build bench clean \
        install

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

# npm ci when a package tests/package.json lists is missing or outside its
# range (npm ls fails): a fresh clone, or a checkout older than a change of
# package.json. Never through a symlinked tests/node_modules (a worktree
# sharing another checkout's): npm ci would empty the directory it points to.
npm-deps: deps
	@cd tests && npm ls --depth=0 >/dev/null 2>&1 || \
	  if [ -L node_modules ]; then \
	    echo "tests/node_modules links to $$(readlink node_modules), which lacks" \
	      "packages tests/package.json lists: npm ci there, or remove the link" >&2; \
	    exit 1; \
	  else npm ci --no-audit --no-fund; fi

build: deps
	@cmake -S . -B $(BUILD_DIR) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

# heraldd, herald, libherald (shared and static), its headers and herald.pc
# under $(PREFIX), staged under $(DESTDIR) when given.
install: build
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

run: build
	@$(BUILD_DIR)/heraldd --port $(PORT) --data-dir $(DATA_DIR) $(ARGS)

test: build npm-deps check-layers unit-test integration-test integration-test-latest-sdk \
  integration-test-tls

# No #include in server/ goes up its layers (docs/architecture.md, "Layers").
check-layers:
	@tools/check-layers && echo "layers: no include goes up"

unit-test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# --test-force-exit: a file whose tests have all finished ends even if a
# handle of a test client stays open (seen now and then after comet.test.mjs:
# every test passed, no socket or child left, the process idle in epoll).
integration-test: build npm-deps
	@echo "integration-test: $$(node tests/integration/lib/ably.mjs)"
	@HERALDD=$(abspath $(BUILD_DIR))/heraldd node --test --test-force-exit \
	  --test-concurrency=$(JOBS) tests/integration/

# The test files that drive ably-js, run again with the newest 2.x release
# (tests/package.json's alias ably-latest) instead of the version the tests
# pin: HERALD_ABLY=latest makes tests/integration/lib/ably.mjs, the one place
# that imports the SDK, load it, and fails every file if the version loaded
# is not the one package-lock.json pins for it. Part of make test (about 130 s
# on 2 cores); docs/sdk-compatibility.md says how to bump the version and
# what differs between the two. sdk_version.test.mjs checks that every file
# using the SDK is listed here.
SDK_TESTS = sdk_version rest_sdk realtime_sdk presence_sdk batch_publish_sdk \
  batch_presence tokens token_nodes apps sse comet realtime_limits browser \
  cluster cluster_control cluster_crash cluster_faults cluster_occupancy \
  stats metrics cluster_stats \
  cluster_presence cluster_resume cluster_shards channel_params rest_on_behalf \
  error_edges occupancy_events subscription_filters token_expiry token_revocation \
  meta_channels cluster_meta_channels cluster_mutable mutable_messages \
  annotations chat cluster_annotations webhooks cluster_webhooks console tls libherald_cli
# SDK files the newest ably-js does not run, each for a reason in
# docs/sdk-compatibility.md (a higher-level SDK not yet working with it).
SDK_PINNED_ONLY = spaces
integration-test-latest-sdk: build npm-deps
	@echo "integration-test-latest-sdk: $$(HERALD_ABLY=latest node tests/integration/lib/ably.mjs)"
	@HERALD_ABLY=latest HERALDD=$(abspath $(BUILD_DIR))/heraldd node --test \
	  --test-force-exit --test-concurrency=$(JOBS) \
	  $(SDK_TESTS:%=tests/integration/%.test.mjs)

# SDK files again over TLS: a self-signed certificate (openssl, temporary
# directory) that NODE_EXTRA_CA_CERTS makes Node trust; HERALD_TEST_TLS_DIR
# makes tests/integration/lib/server.mjs start every server with TLS on a
# second port and point ably-js (tls: true) and raw requests at it. Part of
# make test; a few representative files keep it short.
TLS_SDK_TESTS = rest_sdk realtime_sdk presence_sdk batch_publish_sdk \
  channel_params rest_on_behalf subscription_filters token_expiry occupancy_events
integration-test-tls: build npm-deps
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	  -keyout "$$dir/key.pem" -out "$$dir/cert.pem" -days 2 -subj /CN=herald-test \
	  -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null && \
	HERALD_TEST_TLS_DIR="$$dir" NODE_EXTRA_CA_CERTS="$$dir/cert.pem" \
	HERALDD=$(abspath $(BUILD_DIR))/heraldd node --test --test-force-exit \
	  --test-concurrency=$(JOBS) $(TLS_SDK_TESTS:%=tests/integration/%.test.mjs)

# The unit and integration suites under AddressSanitizer and UBSan, with
# ASan's defaults: an allocation it cannot serve aborts the server (the
# robustness tests send frames declaring billions of elements, which
# common/wire_bounds.c refuses before msgpack-c would reserve them).
# HERALD_SANITIZED tells the tests, whose RSS bounds ASan's quarantine of
# freed memory would break.
sanitize-test: deps npm-deps
	@$(MAKE) --no-print-directory BUILD_DIR=build-asan \
	  CMAKE_ARGS=-DHERALD_SANITIZE=ON build-asan-configure
	@HERALD_SANITIZED=1 $(MAKE) --no-print-directory BUILD_DIR=build-asan \
	  unit-test integration-test

build-asan-configure:
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

# Fuzz targets (tests/fuzz/fuzz_<name>.c, libFuzzer + ASan + UBSan; see
# tests/fuzz/README.md). common/ and server/ (but main.c) are compiled once
# with the same sanitizers into build-fuzz/libherald_fuzz.a, which every
# target links. `make fuzz` runs each target for FUZZ_SECONDS; `make
# fuzz-ci` for FUZZ_CI_SECONDS, as .ci/run does. Seeds: the checked-in
# corpus tests/fuzz/corpus/<name>/ and the ably-common fixtures; the
# dictionary is tests/fuzz/<name>.dict if there is one. New inputs go to
# build-fuzz/corpus_<name>, a crash leaves its input in build-fuzz/.
# libFuzzer's default malloc limit applies: no input may make the parsers
# allocate more than that (msgpack sizes are checked first: wire_bounds.c).
FUZZ_PACKAGES = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 4
FUZZ_SEEDS = tests/fixtures/ably-common/test-resources
FUZZ_TARGETS = json_parse protocol_message base64 http_decode http_strict jwt token \
  token_request capability websocket config wire_bounds redis_batch message_filter \
  webhook_rule
FUZZ_CFLAGS = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
  -D_GNU_SOURCE -Iinclude -Icommon -Iserver
FUZZ_LIBS = -ljansson -lmsgpackc -lssl -lcrypto -lsodium -luv -lsqlite3 -lwslay \
  -lhttp_parser -lhiredis -lcurl -lpthread
FUZZ_OBJECTS = $(patsubst %.c,build-fuzz/obj/%.o,$(wildcard common/*.c) \
  $(filter-out server/main.c,$(wildcard server/*.c server/*/*.c)))

# $(call fuzz_run,NAME,SECONDS): runs one target from build-fuzz/, its
# output in build-fuzz/fuzz_NAME.log; prints the execution count, or the
# log's end when it fails.
fuzz_run = (cd build-fuzz && mkdir -p corpus_$(1) && \
  if ./fuzz_$(1) -max_total_time=$(2) \
    -max_len=4096 -print_final_stats=1 -artifact_prefix=$(1)- \
    $(if $(wildcard tests/fuzz/$(1).dict),-dict=../tests/fuzz/$(1).dict) \
    corpus_$(1) ../tests/fuzz/corpus/$(1) ../$(FUZZ_SEEDS) \
    >fuzz_$(1).log 2>&1; \
  then grep -h 'number_of_executed_units' fuzz_$(1).log; \
  else tail -n 60 fuzz_$(1).log; exit 1; fi)

fuzz: deps
	$(call install_missing,$(FUZZ_PACKAGES),)
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),echo "fuzz_$(t): $(FUZZ_SECONDS) s" && \
	  $(call fuzz_run,$(t),$(FUZZ_SECONDS)) && ) true

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

fuzz-build: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build-fuzz/libherald_fuzz.a: $(FUZZ_OBJECTS)
	@rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libherald_fuzz.a
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP $< \
	  build-fuzz/libherald_fuzz.a $(FUZZ_LIBS) -o $@

-include $(wildcard build-fuzz/obj/*/*.d build-fuzz/obj/*/*/*.d build-fuzz/*.d)

# Herald side by side with nchan (nginx module) in one run: scenarios, medians,
# one table, bench/results/latest.{csv,md,png}; then (h), three heraldd
# nodes on one redis-server (redis-server comes with deps), and (r), the
# redis engine against sqlite (latest-engines.csv). See docs/benchmarks.md.
BENCH_PACKAGES = nginx libnginx-mod-nchan gnuplot-nox jq

bench: build
	$(call install_missing,$(BENCH_PACKAGES),)
	@BUILD_DIR=$(BUILD_DIR) bench/run-bench.sh

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
