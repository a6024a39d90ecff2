# balancer - HTTP reverse proxy and load balancer.
#
#   make          build build/balancer
#   make test     install what is missing, build, run every test
#   make demo     install what is missing, build, run the demo
#   make asan     build build/asan/balancer (AddressSanitizer + UBSan)
#   make fuzz     run each fuzz target for FUZZ_SECONDS

CC      ?= cc
VERSION := 0.1.0
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -DBALANCER_VERSION='"$(VERSION)"' -Isrc
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -MMD -MP
# LIBS: the libraries balancer links (mk/*.mk add theirs). LDFLAGS and
# LDLIBS stay the caller's (debian/rules passes the hardening flags).
LIBS    := -pthread

SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

SRC      := $(wildcard src/*.c)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
OBJ      := $(SRC:src/%.c=build/obj/%.o)
LIB_OBJ  := $(LIB_SRC:src/%.c=build/obj/%.o)
ASAN_OBJ := $(SRC:src/%.c=build/asan/obj/%.o)
ASAN_LIB := $(LIB_SRC:src/%.c=build/asan/obj/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNIT_ASAN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10

PYTHON  := /usr/bin/python3

# Debian packages the demo needs, and those the tests need on top.
# (DEMO_DEPS is expanded late: it takes the -dev libraries that mk/*.mk
# add to DEPS for the build itself.)
DEMO_DEPS = gcc make php-cli curl \
            $(filter-out libcmocka-dev libclang-rt-14-dev,$(filter lib%-dev,$(DEPS)))
DEPS := gcc make libcmocka-dev php-cli apache2 python3-pytest \
        python3-websocket curl clang libclang-rt-14-dev strace

.PHONY: all asan deps demo-deps install-packages test unit unit-asan integration integration-asan \
        demo fuzz fuzz-smoke clean

all: build/balancer

build/balancer: $(OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(LDLIBS)

build/obj/%.o: src/%.c | build/obj
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

asan: build/asan/balancer

build/asan/balancer: $(ASAN_OBJ)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS) $(LDLIBS)

build/asan/obj/%.o: src/%.c | build/asan/obj
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SANFLAGS) -c -o $@ $<

build/tests/%: tests/unit/%.c $(LIB_OBJ) | build/tests
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB_OBJ) -lcmocka $(LIBS) $(LDLIBS)

build/asan/tests/%: tests/unit/%.c $(ASAN_LIB) | build/asan/tests
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SANFLAGS) -o $@ $< $(ASAN_LIB) \
	    -lcmocka $(LIBS) $(LDLIBS)

# The library is compiled once for every fuzz target.
FUZZ_OBJ := $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)
FUZZFLAGS := -std=gnu11 -g -O1 -pthread -MMD -MP

build/fuzz/obj/%.o: src/%.c | build/fuzz/obj
	clang $(CPPFLAGS) $(FUZZFLAGS) \
	    -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ) | build/fuzz
	clang $(CPPFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o $@ $< $(FUZZ_OBJ) $(LIBS) $(LDLIBS)

build/obj build/asan/obj build/tests build/asan/tests build/fuzz \
build/fuzz/obj:
	mkdir -p $@

# Install the Debian packages that are missing (as root; apt-get update
# once first). Does nothing when everything is there.
deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEPS)"

demo-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEMO_DEPS)"

install-packages:
	@missing=""; for p in $(PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

unit-asan: $(UNIT_ASAN)
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t"; $$t; done

integration: build/balancer
	$(PYTHON) -m pytest -q tests/integration

integration-asan: build/asan/balancer
	BALANCER_BIN=build/asan/balancer $(PYTHON) -m pytest -q tests/integration

fuzz-smoke: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	    echo "== $$n ($(FUZZ_SMOKE_SECONDS) s)"; \
	    $$f -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=0 \
	        build/fuzz/corpus-$$n tests/fuzz/corpus/$${n#fuzz_} \
	        2>&1 | tail -n 2; done

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	    $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus-$$n \
	        tests/fuzz/corpus/$${n#fuzz_}; done

test: deps
	$(MAKE) -j2 all asan
	$(MAKE) -j2 $(UNIT_BIN) $(UNIT_ASAN) $(FUZZ_BIN)
	$(MAKE) unit unit-asan fuzz-smoke
	$(MAKE) integration-asan
	$(MAKE) integration

demo: demo-deps
	$(MAKE) all
	examples/demo.sh

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
-include mk/*.mk
