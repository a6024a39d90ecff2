# install.mk - `make install` / `make uninstall`, GNU style.
#
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=...]
#
# Programs and manuals go under PREFIX; the configuration always goes to
# /etc/balancer, the systemd unit to /lib/systemd/system and the logrotate
# file to /etc/logrotate.d (each under DESTDIR), because that is where the
# system looks for them whatever PREFIX is. An existing balancer.conf is
# never overwritten: the new default is installed beside it as
# balancer.conf.new. Included by the top Makefile (-include mk/*.mk).

PREFIX        ?= /usr/local
DESTDIR       ?=
SBINDIR       := $(PREFIX)/sbin
MAN8DIR       := $(PREFIX)/share/man/man8
SYSCONFDIR    := /etc/balancer
UNITDIR       := /lib/systemd/system
LOGROTATEDIR  := /etc/logrotate.d
INSTALL       ?= install

# Packages the packaging tests need (the top Makefile's `deps` installs
# $(DEPS); its recipe expands DEPS when it runs, after this file is read).
DEPS += debhelper dpkg-dev fakeroot systemd groff-base man-db logrotate

.PHONY: install uninstall

# The unit names the binary where PREFIX put it: it is written from
# packaging/balancer.service.in at install time.
install: build/balancer
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MAN8DIR) \
	    $(DESTDIR)$(SYSCONFDIR)/conf.d $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(LOGROTATEDIR)
	$(INSTALL) -m 0755 build/balancer $(DESTDIR)$(SBINDIR)/balancer
	$(INSTALL) -m 0644 packaging/balancer.8 $(DESTDIR)$(MAN8DIR)/balancer.8
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/balancer.conf ]; then \
	    echo "keeping $(DESTDIR)$(SYSCONFDIR)/balancer.conf;" \
	         "the new default is balancer.conf.new"; \
	    $(INSTALL) -m 0644 packaging/balancer.conf \
	        $(DESTDIR)$(SYSCONFDIR)/balancer.conf.new; \
	else \
	    echo "$(INSTALL) -m 0644 packaging/balancer.conf" \
	         "$(DESTDIR)$(SYSCONFDIR)/balancer.conf"; \
	    $(INSTALL) -m 0644 packaging/balancer.conf \
	        $(DESTDIR)$(SYSCONFDIR)/balancer.conf; \
	fi
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    packaging/balancer.service.in > $(DESTDIR)$(UNITDIR)/balancer.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/balancer.service
	$(INSTALL) -m 0644 packaging/balancer.logrotate \
	    $(DESTDIR)$(LOGROTATEDIR)/balancer

# Removes what install put there; the configuration directory stays when
# it holds anything else (the operator's files).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/balancer $(DESTDIR)$(MAN8DIR)/balancer.8 \
	    $(DESTDIR)$(UNITDIR)/balancer.service \
	    $(DESTDIR)$(LOGROTATEDIR)/balancer \
	    $(DESTDIR)$(SYSCONFDIR)/balancer.conf.new
	@if [ -f $(DESTDIR)$(SYSCONFDIR)/balancer.conf ] && \
	    cmp -s packaging/balancer.conf $(DESTDIR)$(SYSCONFDIR)/balancer.conf; \
	then rm -f $(DESTDIR)$(SYSCONFDIR)/balancer.conf; \
	else echo "keeping $(DESTDIR)$(SYSCONFDIR) (changed by the operator)"; fi
	@rmdir $(DESTDIR)$(SYSCONFDIR)/conf.d $(DESTDIR)$(SYSCONFDIR) \
	    2>/dev/null || true
