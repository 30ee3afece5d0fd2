# vault-mock/vault-mock.mk - the mock Azure Key Vault (bin/vault-mock), its
# load generator (bin/vault-mock-bench) and its tests. Shares no code with
# the engine (it is reached only over HTTPS); both use libbase.

VMOCK_SRCS := $(wildcard vault-mock/src/*.c)
VMOCK_OBJS := $(VMOCK_SRCS:%.c=$(O)/%.o)
VMOCK_LIB := $(O)/libvmock.a
VMOCK_LIBS := $(MHD_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS)
VMOCK_BIN := $(BIN)/vault-mock
VMOCK_BENCH := $(BIN)/vault-mock-bench

$(VMOCK_OBJS): CPPFLAGS += -Ivault-mock/src $(BASE_CPPFLAGS) $(CJSON_CFLAGS) $(OPENSSL_CFLAGS)

# Everything but main.c, so that unit tests can link single modules.
$(VMOCK_LIB): $(filter-out $(O)/vault-mock/src/main.o,$(VMOCK_OBJS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(VMOCK_BIN): $(O)/vault-mock/src/main.o $(VMOCK_LIB) $(BASE_LIB) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(VMOCK_LIBS)

# (libvmock for the secret-file rule of --token-file)
$(O)/vault-mock/tools/%.o: CPPFLAGS += $(CJSON_CFLAGS) -Ivault-mock/src $(BASE_CPPFLAGS)
$(VMOCK_BENCH): $(O)/vault-mock/tools/vmock_bench.o $(VMOCK_LIB) $(BASE_LIB) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(VMOCK_LIBS)

PROGRAMS += $(VMOCK_BIN) $(VMOCK_BENCH)

# Tests: one Criterion program per vault-mock/tests/test_*.c (libssl for the
# raw TLS clients of test_conns.c). They start
# $(VMOCK_BIN) as a child process (path compiled in, VMOCK_BIN overrides).
VMOCK_TEST_SRCS := $(wildcard vault-mock/tests/test_*.c)
VMOCK_TESTLIB_SRCS := $(wildcard vault-mock/tests/testlib/*.c)
VMOCK_TESTLIB_OBJS := $(VMOCK_TESTLIB_SRCS:%.c=$(O)/%.o)
VMOCK_TEST_BINS := $(VMOCK_TEST_SRCS:vault-mock/tests/%.c=$(O)/tests/vmock_%)
TEST_BINS += $(VMOCK_TEST_BINS)

$(VMOCK_TEST_SRCS:%.c=$(O)/%.o) $(VMOCK_TESTLIB_OBJS): CPPFLAGS += -Ivault-mock/tests/testlib \
    -Ivault-mock/client -Ivault-mock/src $(BASE_CPPFLAGS) $(CJSON_CFLAGS) $(OPENSSL_CFLAGS) -Itestlib

# vmt_client: the launcher and HTTPS client of vault-mock shared by its tests,
# the engine's end-to-end tests, cmk-bench and the compliance suite (link
# $(VMCLIENT_LIB) $(CURL_LIBS) $(CJSON_LIBS); include -Ivault-mock/client).
VMCLIENT_LIB := $(O)/libvmclient.a
VMCLIENT_OBJS := $(O)/vault-mock/client/vmt_client.o $(O)/vault-mock/client/vmt_scan.o
$(VMCLIENT_OBJS): CPPFLAGS += -Ivault-mock/client $(BASE_CPPFLAGS) $(CJSON_CFLAGS) -DVMOCK_BIN_PATH='"$(VMOCK_BIN)"'
$(VMCLIENT_LIB): $(VMCLIENT_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(O)/tests/vmock_%: $(O)/vault-mock/tests/%.o $(VMOCK_TESTLIB_OBJS) $(TESTLIB_HOOK_VALGRIND) $(TESTLIB) $(VMCLIENT_LIB) $(VMOCK_LIB) $(BASE_LIB) | $(VMOCK_BIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CURL_LIBS) $(VMOCK_LIBS) $(SSL_LIBS)

# make vault-load: two minutes of concurrent unwrapkey from a separate load
# process (bin/vault-mock-bench): errors, RSS growth, audit lines per request.
.PHONY: vault-load
vault-load: deps $(VMOCK_BIN) $(VMOCK_BENCH)
	vault-mock/tests/load-test.sh

# make interop: the official Azure SDK (@azure/keyvault-keys 4.x, locked in
# vault-mock/tools/package-lock.json, installed here with npm ci) against two fresh vault-mocks
# (vault-mock/tools/interop.sh, js-sdk-check.js); a failed step fails the target.
VMOCK_SDK := vault-mock/tools/node_modules/@azure/keyvault-keys/package.json
$(VMOCK_SDK): vault-mock/tools/package.json vault-mock/tools/package-lock.json
	scripts/node-deps.sh
	cd vault-mock/tools && npm ci --no-audit --no-fund
	touch $@
interop: $(VMOCK_BIN) $(VMOCK_SDK)
	vault-mock/tools/interop.sh $(VMOCK_BIN)
.PHONY: interop
