# deb.mk - `make deb`: the Debian package, built with dpkg-buildpackage
# and debhelper from a copy of the tree in build/deb/src, so that the
# results (balancer_<version>_<arch>.deb, .changes, .buildinfo and the
# -dbgsym package) land in build/deb/ and nothing is written beside the
# repository.
#
#   make deb-deps   install what the package build needs (as root)
#   make deb        build it

DEB_OUT  := build/deb
DEB_SRC  := $(DEB_OUT)/src
DEB_DEPS := debhelper dpkg-dev fakeroot

.PHONY: deb deb-deps

deb-deps:
	@missing=""; for p in $(DEB_DEPS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The package's version is debian/changelog's; it must be the Makefile's.
deb: deb-deps
	@v=$$(dpkg-parsechangelog -S Version); if [ "$$v" != "$(VERSION)" ]; \
	then echo "debian/changelog says $$v, the Makefile $(VERSION):" \
	    "add a changelog entry (dch -v $(VERSION))" >&2; exit 1; fi
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./build --exclude=./.git --exclude=__pycache__ \
	    --exclude=.pytest_cache . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc
	rm -rf $(DEB_SRC)
	@ls -l $(DEB_OUT)/*.deb
