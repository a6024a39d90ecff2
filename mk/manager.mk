# balancer-manager (src/manager.c): its JSON API uses json-c.
DEPS += libjson-c-dev
LDLIBS += -ljson-c
