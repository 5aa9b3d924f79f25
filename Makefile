# libnic — the two commands of README.md:
#   make run    set up, build (release) and run the main job on a generated input
#   make test   set up, then every test: Swift, C (against the installed library), headers, Python
#               (against the installed wheel)
# Other targets: build, install PREFIX=..., wheel (the Python package with the library and models,
# in build/wheel/), lint, format, bench, fixtures, sanitize, fuzz FUZZ_SECONDS=N, fuzz-ci,
# ci (make test, then the sanitizers and a short fuzzing run), clean.

PREFIX      ?= /usr/local
# The version's one source is nic.h (NIC_VERSION_MAJOR/MINOR/PATCH).
VERSION     := $(shell awk '/^\#define NIC_VERSION_(MAJOR|MINOR|PATCH) /{printf "%s%s", s, $$3; s="."}' include/nic.h)
SOVERSION   := 0
RELEASE_DIR := .build/release
OUT         := build
STAGE       := $(abspath $(OUT)/stage)
PYTHON      ?= python3
WHEEL_DIR   := $(abspath $(OUT)/wheel)
WHEEL_SRC   := $(abspath $(OUT)/wheel-src)
VENV        := $(abspath $(OUT)/venv)

APT_PACKAGES := pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libdnnl-dev ffmpeg
PIP_PACKAGES := numpy pytest ruff
# What the Python tests' virtual environment needs besides the wheel (Ray for nic.batch, whose
# test starts a two-node cluster on this machine; Ray 2.60 on Debian 12's Python 3.11).
VENV_PACKAGES := numpy pytest Pillow ray

.PHONY: all deps build install uninstall run test test-swift test-install test-library test-c test-headers test-python wheel \
        test-cli lint format bench fixtures fuzz fuzz-build fuzz-ci clean sanitize sanitize-address sanitize-thread sanitize-c \
        valgrind ci

all: build

## Set-up: install missing Debian and Python packages (needs root or sudo for apt).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(PYTHON) -c "import numpy, pytest" 2>/dev/null && $(PYTHON) -m ruff --version >/dev/null 2>&1 || \
	  $(PYTHON) -m pip install -q $(PIP_PACKAGES)

build: deps
	swift build -c release --product NICShared
	swift build -c release --product nic

## Installs libnic.so.0 (+ symlinks), nic.h, nic.pc, the nic tool and the shipped models.
install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/nic
	install -m 755 $(RELEASE_DIR)/libNICShared.so $(DESTDIR)$(PREFIX)/lib/libnic.so.$(VERSION)
	ln -sf libnic.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libnic.so.$(SOVERSION)
	ln -sf libnic.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libnic.so
	install -m 644 include/nic.h $(DESTDIR)$(PREFIX)/include/nic.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' nic.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nic.pc
	install -m 755 $(RELEASE_DIR)/nic $(DESTDIR)$(PREFIX)/bin/nic
	if [ -d models ] && [ -n "$$(ls models)" ]; then cp -r models/. $(DESTDIR)$(PREFIX)/share/nic/; fi

uninstall:
	rm -f $(PREFIX)/lib/libnic.so* $(PREFIX)/include/nic.h $(PREFIX)/lib/pkgconfig/nic.pc $(PREFIX)/bin/nic
	rm -rf $(PREFIX)/share/nic

run: build
	$(RELEASE_DIR)/nic demo --output-directory $(OUT)/run

test: deps lint test-swift test-install test-library test-headers test-c test-cli test-python
	@echo "make test: all tests passed"

## Coverage-guided fuzzing (docs/fuzzing.md): builds the libFuzzer harnesses of Tests/fuzz into
## .build-fuzz and runs each for FUZZ_SECONDS; a crash fails the target, its reproducer stays
## in .build-fuzz/crashes/HARNESS/. fuzz-ci is the short bounded run for CI.
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 30

fuzz-build:
	sh Tests/fuzz/build.sh

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh Tests/fuzz/run.sh

fuzz-ci: fuzz-build
	FUZZ_SECONDS=$(FUZZ_CI_SECONDS) sh Tests/fuzz/run.sh

## Source style: swift-format with the repository's .swift-format (indentation, line length,
## spacing; `make format` rewrites the Swift sources to it) and ruff with ruff.toml for Python.
SWIFT_SOURCES := Sources Tests Package.swift

lint: deps
	swift format lint --strict -r $(SWIFT_SOURCES)
	$(PYTHON) -m ruff check --quiet .

format:
	swift format format -i -r $(SWIFT_SOURCES)

test-swift:
	swift build --build-tests
	swift test --skip-build

## Installs into build/stage, the prefix the C and Python tests use.
test-install:
	$(MAKE) --no-print-directory install PREFIX=$(STAGE)

test-library:
	sh Tests/c/check_library.sh $(STAGE)/lib/libnic.so.$(SOVERSION)

test-headers:
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c -I include Tests/c/header_c99.c
	g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -x c++ -I include Tests/c/header_cxx17.cpp

test-c:
	sh Tests/c/run_c_tests.sh $(STAGE)

test-cli:
	sh Tests/cli/run_cli_tests.sh $(STAGE)/bin/nic

## What CI runs (.ci/run): every test, then the sanitizers and a short fuzzing run.
ci: test sanitize fuzz-ci
	@echo "make ci: passed"

## Sanitizers: the Swift tests under AddressSanitizer (Swift has no UndefinedBehaviorSanitizer:
## its own checks trap on overflow and out-of-bounds access), the concurrency tests under
## ThreadSanitizer, the C API tests under ASan+UBSan, and the C tests and the player example
## under valgrind memcheck. Separate build folders (.build-asan, .build-tsan).
SANITIZE_SWIFT_FILTER ?=
TSAN_FILTER := DeterminismTests|TensorMemoryTests

sanitize: deps sanitize-address sanitize-thread test-install sanitize-c valgrind
	@echo "make sanitize: clean"

sanitize-address:
	swift build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 swift test --skip-build --sanitize=address --scratch-path .build-asan $(if $(SANITIZE_SWIFT_FILTER),--filter '$(SANITIZE_SWIFT_FILTER)')

sanitize-thread:
	swift build --build-tests --sanitize=thread --scratch-path .build-tsan
	swift test --skip-build --sanitize=thread --scratch-path .build-tsan --filter '$(TSAN_FILTER)'

sanitize-c:
	cc -std=c99 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -o build/api_test_asan Tests/c/api_test.c \
	  $$(PKG_CONFIG_PATH=$(STAGE)/lib/pkgconfig pkg-config --cflags --libs nic)
	LD_LIBRARY_PATH=$(STAGE)/lib ASAN_OPTIONS=detect_leaks=0 build/api_test_asan

valgrind:
	@dpkg -s valgrind >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get install -y -qq valgrind >/dev/null; }
	sh Tests/c/run_valgrind.sh $(STAGE)

## The Python package (python/) as a platform wheel in build/wheel/, built from a copy in
## build/wheel-src/ holding the staged release library (nic/_lib) and models (nic/_models).
wheel: test-install
	@$(PYTHON) -c "import setuptools.command.bdist_wheel, wheel" 2>/dev/null || $(PYTHON) -m pip install -q -U setuptools wheel
	rm -rf $(WHEEL_SRC) $(WHEEL_DIR)
	mkdir -p $(WHEEL_SRC)/include $(WHEEL_DIR)
	cp -r python $(WHEEL_SRC)/python
	cp include/nic.h $(WHEEL_SRC)/include/nic.h
	cd $(WHEEL_SRC)/python && rm -rf build *.egg-info nic/_lib nic/_models nic/_version.py && find . -name __pycache__ -prune -exec rm -rf {} +
	mkdir -p $(WHEEL_SRC)/python/nic/_lib $(WHEEL_SRC)/python/nic/_models
	cp $(STAGE)/lib/libnic.so.$(VERSION) $(WHEEL_SRC)/python/nic/_lib/libnic.so.$(SOVERSION)
	cp -r $(STAGE)/share/nic/. $(WHEEL_SRC)/python/nic/_models/
	$(PYTHON) -m pip wheel -q --no-deps --no-build-isolation -w $(WHEEL_DIR) $(WHEEL_SRC)/python
	@ls $(WHEEL_DIR)/libnic-$(VERSION)-py3-none-*.whl

## The Python tests run against the installed wheel: a fresh virtual environment in build/venv
## (seeing the system's packages, so the training tests find PyTorch where it is installed;
## NumPy, pytest, Pillow and Ray from PyPI), the wheel installed into it, pytest run from
## build/ with NIC_LIBRARY and NIC_MODEL_DIR unset, so `import nic` is the wheel's with its
## bundled library (test_package.py checks it); test_batch.py runs nic.batch on a Ray cluster of
## two nodes it starts and stops itself. Then the package alone, in an isolated
## build/venv-source, against the staged library.
test-python: wheel
	rm -rf $(VENV)
	$(PYTHON) -m venv --system-site-packages $(VENV)
	$(VENV)/bin/python -m pip install -q $(VENV_PACKAGES)
	$(VENV)/bin/python -m pip install -q $(WHEEL_DIR)/libnic-$(VERSION)-py3-none-*.whl
	cd $(OUT) && env -u NIC_LIBRARY -u NIC_MODEL_DIR NIC_TEST_WHEEL=1 \
	  $(VENV)/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/Tests/python
	@echo "the package alone (pip install ./python) with the staged library found by the system loader:"
	rm -rf $(VENV)-source
	$(PYTHON) -m venv $(VENV)-source
	$(VENV)-source/bin/python -m pip install -q numpy pytest
	$(VENV)-source/bin/python -m pip install -q ./python
	cd $(OUT) && env -u NIC_LIBRARY -u NIC_MODEL_DIR LD_LIBRARY_PATH=$(STAGE)/lib \
	  NIC_TEST_SOURCE=$(STAGE)/lib/libnic.so.$(SOVERSION) $(VENV)-source/bin/python -m pytest -q -p no:cacheprovider \
	  $(CURDIR)/Tests/python/test_package.py $(CURDIR)/Tests/python/test_ai_models.py

bench: build
	$(RELEASE_DIR)/nic bench conv --threads 1
	$(RELEASE_DIR)/nic bench conv --threads 2

## Regenerates the golden fixtures (needs PyTorch: pip install -r training/requirements.txt).
fixtures:
	$(PYTHON) training/make_golden.py

clean:
	rm -rf .build $(OUT) python/build python/*.egg-info
