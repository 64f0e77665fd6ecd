# hrnet-swift: `make demo` and `make test` work on a fresh Debian machine.
SWIFT ?= swift
# Debian packages the build needs: oneDNN, libjpeg-turbo, libpng, zlib (headers and libraries),
# Open MPI (library and mpirun, for data-parallel training and evaluation); the tests also need
# Chromium (the headless browser they drive `hrnet serve`'s page with).
DEBS := libdnnl-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev libopenmpi-dev openmpi-bin
TEST_DEBS := $(DEBS) chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RELEASE := .build/release/hrnet

.PHONY: deps test-deps build test test-release test-sanitize demo fuzz-check fuzz clean

deps:
	@missing=""; for p in $(or $(PACKAGES),$(DEBS)); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product hrnet

test-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="$(TEST_DEBS)"

test: test-deps
	$(SWIFT) test --disable-swift-testing

# The same tests on the release build (optimized code paths, bounds checks kept; CI runs both).
test-release: test-deps
	$(SWIFT) test -c release -Xswiftc -enable-testing --disable-swift-testing

# The tests under AddressSanitizer (Swift and C) and UndefinedBehaviorSanitizer (the C shims;
# Swift traps its own undefined behaviour), in a build folder of their own. Not in CI (2-3x slower).
test-sanitize: test-deps
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SWIFT_BACKTRACE=enable=no \
		$(SWIFT) test --scratch-path .build-asan --sanitize=address -Xcc -fsanitize=undefined --disable-swift-testing

# libFuzzer on every parser of user files (Fuzz/: its own package, never built by the others):
# CI: 30000 inputs per parser from a fixed libFuzzer seed (nearly the same search every run); a long
# local run: 10 minutes per parser, a new search each time. Findings land in Fuzz/findings/.
fuzz-check: deps
	Fuzz/run.sh runs=30000

fuzz: deps
	Fuzz/run.sh 600

demo: build
	$(RELEASE) demo --out out/demo --force

clean:
	rm -rf .build out
