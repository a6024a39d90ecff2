# reload.mk - what graceful reload and BalancerPersist need: json-c for
# the state file (src/persist.c). Included by the top Makefile.

DEPS += libjson-c-dev
LIBS += -ljson-c
