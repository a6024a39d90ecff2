# manager.mk - the balancer-manager (src/manager.c): its JSON API uses
# json-c.
DEPS += libjson-c-dev
LIBS += -ljson-c
