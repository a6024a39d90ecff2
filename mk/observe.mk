# observe.mk - the metrics and dashboard handlers (src/metrics.c,
# src/dashboard.c). The dashboard page, src/dashboard.html, becomes a C
# string literal in build/gen/dashboard_html.h that dashboard.c includes.
# Chromium opens the page in tests/integration/test_dashboard.py.

DEPS     += chromium
CPPFLAGS += -Ibuild/gen

build/gen/dashboard_html.h: src/dashboard.html | build/gen
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' \
	    $< > $@.tmp && mv $@.tmp $@

build/gen:
	mkdir -p $@

build/obj/dashboard.o build/asan/obj/dashboard.o build/fuzz/obj/dashboard.o: \
    build/gen/dashboard_html.h
$(FUZZ_BIN): build/gen/dashboard_html.h
