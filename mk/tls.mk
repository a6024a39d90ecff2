# tls.mk - TLS termination (src/tls.c) links OpenSSL's libssl and
# libcrypto; `make deps` installs their headers.

DEPS   += libssl-dev
LIBS += -lssl -lcrypto
