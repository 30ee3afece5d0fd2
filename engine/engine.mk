# engine/engine.mk - the engine library and its tests.

ENGINE_SRCS := $(wildcard engine/src/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(O)/%.o)
ENGINE_LIB := $(O)/libeng.a
ENGINE_CPPFLAGS := -Iengine/include -Iengine/src $(BASE_CPPFLAGS) $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)
ENGINE_LIBS := $(IPSECMB_LIBS) $(CURL_LIBS) $(CJSON_LIBS) $(SSL_LIBS)

$(ENGINE_OBJS): CPPFLAGS += $(ENGINE_CPPFLAGS)
$(ENGINE_OBJS): CFLAGS += -fvisibility=hidden

# The engine uses the base library (base/base.mk: the capped buffer, hex,
# base64url, file reading); whatever links $(ENGINE_LIB) links $(BASE_LIB) after it.
$(ENGINE_LIB): $(ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The ymm VAES kernels run on CPUs without AVX-512 (AMD Zen 3): their objects
# must hold no EVEX instruction (first byte 0x62 in 64-bit mode) and name no
# zmm, mask or upper-16 vector register. Checked whenever it is compiled.
NOEVEX_OBJS := $(O)/engine/src/xts_vaes_avx2.o $(O)/engine/src/gcm_vaes_avx2.o
$(O)/%.noevex: $(O)/%.o
	@objdump -d $< | awk -F'\t' -v obj=$< \
	    'NF >= 3 && ($$2 ~ /^62 / || $$3 ~ /%zmm|%k[0-7]|%[xy]mm(1[6-9]|2[0-9]|3[01])/) \
	    { print obj ": " $$0; bad = 1 } END { exit bad }' >&2 \
	    || { echo "$<: AVX-512 (EVEX) instructions in code that must run without AVX-512" >&2; exit 1; }
	@touch $@
$(ENGINE_LIB): | $(NOEVEX_OBJS:.o=.noevex)

# Every program or test that links $(ENGINE_LIB) links $(BASE_LIB) after it (hex, buffers).

# Tests: one Criterion program per engine/tests/test_*.c, linked with the
# engine-only helpers in engine/tests/testlib/, the shared test library
# (testlib/testlib.mk) and vault-mock's published client; never with another
# module's private code (engine/tests/README.md: which test covers which file).
ENGINE_TEST_SRCS := $(wildcard engine/tests/test_*.c)
ENGINE_TESTLIB_SRCS := $(wildcard engine/tests/testlib/*.c)
ENGINE_TESTLIB_OBJS := $(ENGINE_TESTLIB_SRCS:%.c=$(O)/%.o)
ENGINE_TEST_BINS := $(ENGINE_TEST_SRCS:engine/tests/%.c=$(O)/tests/engine_%)
TEST_BINS += $(ENGINE_TEST_BINS)

$(ENGINE_TEST_SRCS:%.c=$(O)/%.o) $(ENGINE_TESTLIB_OBJS): CPPFLAGS += $(ENGINE_CPPFLAGS) -Iengine/tests/testlib $(TESTLIB_CPPFLAGS)

# End-to-end tests start bin/vault-mock through vault-mock/client (libvmclient.a).
$(O)/tests/engine_%: $(O)/engine/tests/%.o $(ENGINE_TESTLIB_OBJS) $(TESTLIB_HOOK_VALGRIND) $(TESTLIB_HOOK_ANCHORS) $(TESTLIB) $(O)/libvmclient.a $(ENGINE_LIB) $(BASE_LIB) | $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(MHD_LIBS) $(ENGINE_LIBS)

# --- store, key providers and the cmk tool (added with the store) -----------
# cmk: the command-line tool over eng_store.h; its test runs the built binary.
CMK_OBJS := $(O)/engine/cli/cmk.o $(O)/engine/cli/cmd_common.o $(O)/engine/cli/cmd_store.o \
    $(O)/engine/cli/cmd_backup.o $(O)/engine/cli/cmd_keys.o $(O)/engine/cli/cmd_help.o \
    $(O)/engine/cli/keyopts.o
PROGRAMS += $(BIN)/cmk

$(CMK_OBJS): CPPFLAGS += $(ENGINE_CPPFLAGS) $(CJSON_CFLAGS)

$(BIN)/cmk: $(CMK_OBJS) $(ENGINE_LIB) $(BASE_LIB) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(ENGINE_LIBS)

$(O)/engine/tests/test_store_cli.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_store_cli: | $(BIN)/cmk
# --- end of the store block ---------------------------------------------------
$(O)/engine/tests/test_cli_torture.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_cli_torture: | $(BIN)/cmk
$(O)/engine/tests/test_secrets.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/engine/tests/test_cmk_vault_cli.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_cmk_vault_cli: | $(BIN)/cmk
$(O)/tests/engine_test_secrets: | $(BIN)/cmk
$(O)/engine/tests/test_store_fresh.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_store_fresh: | $(BIN)/cmk
# test_wipe checks every free()/realloc() of the engine's own code for key bytes.
$(O)/tests/engine_test_wipe: LDFLAGS += -Wl,--wrap=free -Wl,--wrap=realloc
$(O)/engine/tests/test_golden.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_golden: | $(BIN)/cmk
$(O)/engine/tests/test_second_path.o: CPPFLAGS += -DCMK_BIN='"$(BIN)/cmk"'
$(O)/tests/engine_test_second_path: | $(BIN)/cmk
