# valgrind run of a representative subset of the integration tests: every
# balancer the tests start runs under memcheck, and an error or a leak
# makes it exit 99, which fails the test (conftest checks the exit code).
#
#   make valgrind                   the subset below
#   make valgrind VALGRIND_TESTS=tests/integration/test_proxy_basic.py
#
# It takes about 90 s on 2 cores, so `make test` runs it too (as a
# prerequisite, so before the other suites), and `make deps` installs
# valgrind.

VALGRIND_TESTS ?= tests/integration/test_proxy_basic.py \
    tests/integration/test_harden_smuggling.py \
    tests/integration/test_harden_faults.py \
    tests/integration/test_harden_limits.py
VALGRIND_K ?= not killed_during_load and not out_of_file and not soft_nofile

DEPS += valgrind

.PHONY: valgrind

test: valgrind

build/valgrind/balancer: build/balancer mk/valgrind.mk
	mkdir -p build/valgrind
	printf '%s\n' '#!/bin/sh' \
	    'exec valgrind -q --error-exitcode=99 --leak-check=full \' \
	    '    --show-leak-kinds=definite,indirect \' \
	    '    --errors-for-leak-kinds=definite,indirect \' \
	    '    "$$(dirname "$$0")/../balancer" "$$@"' > $@
	chmod +x $@

valgrind: deps build/valgrind/balancer
	BALANCER_BIN=build/valgrind/balancer $(PYTHON) -m pytest -q \
	    -k "$(VALGRIND_K)" $(VALGRIND_TESTS)
