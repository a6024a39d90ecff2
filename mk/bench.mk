# Benchmark against HAProxy, nginx and Apache httpd (see bench/run.py).
#
#   make bench        build, run every case, write docs/performance.md
#   make bench-deps   install the peers and the load tools (Debian, as root)
#
# Knobs are environment variables read by bench/run.py, e.g.
#   make bench DURATION=5 CASES="ka64 close" DOC=

BENCH_DEPS := haproxy nginx apache2 wrk strace valgrind linux-perf python3

.PHONY: bench bench-deps

bench-deps:
	@missing=""; for p in $(BENCH_DEPS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build/bench/malloc_count.so: bench/malloc_count.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -pthread \
	    -o $@ $<

bench: bench-deps build/balancer build/bench/malloc_count.so
	$(PYTHON) bench/run.py
