# SPDX-License-Identifier: Apache-2.0
# Top-level entry points; CMake does the building, ctest the testing.
# Every path is absolute from this file's directory, so `make -C /path/to/repo
# test` and `make -f /path/to/repo/Makefile test` work from anywhere.
#
#   make run        install missing Debian packages, build, run the default job
#   make test       the same plus test-only packages and the test venv; every
#                   test except those labelled `slow`
#   make test-long  every test, `slow` included
#   make fuzz       build the libFuzzer targets (clang, ASan+UBSan) and run a
#                   long random campaign on each (FUZZ_SECONDS per target,
#                   default 1800; FUZZ_TARGET=model-load|scenario|npy for one)
#   make lint       cppcheck over src/
#   make clean      remove build outputs (keeps .venv and data/)

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BUILD := $(ROOT)/build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS ?= 2
FUZZ_SECONDS ?= 1800
FUZZ_TARGET ?= all
VENV_PY := $(ROOT)/.venv/bin/python
DATA := $(ROOT)/data
MODEL := $(DATA)/yolov8n-640.onnx
PHOTO := /usr/share/darknet/data/dog.jpg

# Prerequisites run in the order written (deps before build before run).
.NOTPARALLEL:
.PHONY: all deps test-deps venv configure build run detect-demo test test-long fuzz lint clean

all: build

deps:
	"$(ROOT)/scripts/install-deps.sh"

test-deps:
	"$(ROOT)/scripts/install-deps.sh" --test

venv:
	"$(ROOT)/scripts/test-venv.sh" >/dev/null

configure:
	cmake -S "$(ROOT)" -B "$(BUILD)" -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DCVB_TEST_PYTHON="$(VENV_PY)"

build: configure
	cmake --build "$(BUILD)" -j$(JOBS)

# Builds only the cvbench binary (not the tests), makes the synthetic model
# and clip on first use (cached in data/), then runs the default scenario.
# Its relative paths resolve against scenarios/, not the working directory.
CLIP := $(DATA)/clip-720p.mp4
run: deps configure
	cmake --build "$(BUILD)" -j$(JOBS) --target cvbench
	mkdir -p "$(DATA)"
	if [[ ! -s "$(MODEL)" ]]; then \
	    "$(BUILD)/cvbench" model synth --arch yolov8n -o "$(MODEL).tmp" && \
	    mv "$(MODEL).tmp" "$(MODEL)"; fi
	if [[ ! -s "$(CLIP)" ]]; then \
	    "$(BUILD)/cvbench" video synth --size 1280x720 --fps 30 --seconds 10 \
	        -o "$(CLIP).tmp.mp4" && mv "$(CLIP).tmp.mp4" "$(CLIP)"; fi
	"$(BUILD)/cvbench" run "$(ROOT)/scenarios/default.json"

# The detection demo: boxes on a sample photo (synthetic weights: not meaningful).
detect-demo: deps configure
	cmake --build "$(BUILD)" -j$(JOBS) --target cvbench
	mkdir -p "$(DATA)"
	if [[ ! -s "$(MODEL)" ]]; then \
	    "$(BUILD)/cvbench" model synth --arch yolov8n -o "$(MODEL).tmp" && \
	    mv "$(MODEL).tmp" "$(MODEL)"; fi
	"$(BUILD)/cvbench" detect --model "$(MODEL)" "$(PHOTO)" \
	    --annotate "$(DATA)/dog-detections.png"

test: test-deps venv build
	ctest --test-dir "$(BUILD)" --output-on-failure -j$(CTEST_JOBS) -LE slow

# Also installs the Debian extras of the Ultralytics fidelity test (torch).
test-long: test-deps venv build
	"$(ROOT)/scripts/install-deps.sh" --test --long
	ctest --test-dir "$(BUILD)" --output-on-failure -j$(CTEST_JOBS)

# Random seed, time-bound; the corpus each campaign grows is kept in
# build/fuzz/corpus-<target> (outside git) for the next one. A finding
# prints how to reproduce it and how to add it to tests/fuzz/corpus/.
fuzz: test-deps venv build
	FUZZ_SECONDS=$(FUZZ_SECONDS) "$(ROOT)/scripts/fuzz.sh" --mode long --target $(FUZZ_TARGET) \
	    --cvbench "$(BUILD)/cvbench" --python "$(VENV_PY)" --build-dir "$(BUILD)/fuzz"

lint: configure
	"$(ROOT)/scripts/install-deps.sh" --lint
	"$(ROOT)/scripts/lint.sh" "$(BUILD)"

clean:
	rm -rf "$(BUILD)"

# Engine benchmark: cvbench vs ONNX Runtime vs OpenVINO on this machine (see
# bench/README.md); results in data/bench/engine.{json,md}. Long (~20 min on
# 2 cores): `bench/engine --quick` is the smoke test.
.PHONY: bench
bench: deps configure
	cmake --build "$(BUILD)" -j$(JOBS) --target cvbench
	"$(ROOT)/bench/engine" --cvbench "$(BUILD)/cvbench" \
	    --json "$(DATA)/bench/engine.json" --markdown "$(DATA)/bench/engine.md"
