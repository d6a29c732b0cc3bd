# Herald -- the two commands a new user types: `make run` and `make test`.
# CMake does the building; this file installs what is missing and wraps it.

BUILD_DIR ?= build
JOBS ?= 2
PORT ?= 8080
DATA_DIR ?= ./herald-data

# Debian packages the build, the server and the tests need.
DEB_PACKAGES = build-essential cmake pkg-config libuv1-dev libhttp-parser-dev \
  libjansson-dev libmsgpack-dev libssl-dev libsqlite3-dev libwslay-dev libcmocka-dev wrk curl
# Node.js runs the integration tests; Debian's packages are used only when no
# node/npm is installed already (a NodeSource nodejs bundles its own npm).
NODE_PACKAGES = nodejs npm

.PHONY: all deps npm-deps build run test unit-test integration-test \
        sanitize-test clean

all: build

# Installs the Debian packages that are not installed yet (nothing when all are).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null && command -v npm >/dev/null || \
	  missing="$$missing $(NODE_PACKAGES)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

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

# The unit and integration suites under AddressSanitizer and UBSan.
sanitize-test: deps npm-deps
	@$(MAKE) --no-print-directory BUILD_DIR=build-asan \
	  CMAKE_ARGS=-DHERALD_SANITIZE=ON build-asan-configure
	@$(MAKE) --no-print-directory BUILD_DIR=build-asan unit-test integration-test

build-asan-configure:
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) -- --no-print-directory

clean:
	rm -rf $(BUILD_DIR) build-asan
