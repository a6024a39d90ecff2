# manager.mk - the balancer-manager (src/manager.c): its JSON API uses
# json-c. (debian/rules passes LDLIBS on the command line, which replaces
# these additions: it must name the libraries itself.)
DEPS += libjson-c-dev
LDLIBS += -ljson-c
