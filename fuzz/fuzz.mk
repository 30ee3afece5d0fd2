# fuzz/fuzz.mk - libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined).
#
#   make fuzz-smoke   install clang if missing, build every target, run each
#                     for FUZZ_SMOKE_SECONDS (default 20) from its committed
#                     corpus; fails on any crash, leak, timeout or UB report
#   make fuzz         the same for FUZZ_SECONDS (default 300) per target
#   make fuzz-build   build the targets only (build/fuzz/bin/fuzz_<name>)
#
# The targets and the code under test are compiled with clang into
# build/fuzz/ (never mixed with the gcc objects of build/$(BUILD)). Every
# target is deterministic: no clock, no network, fixed seeds. New inputs
# found by a run go to build/fuzz/corpus/<name>/, not into the committed
# seeds in fuzz/corpus/<name>/; crashes go to build/fuzz/crashes/.

FUZZ_CC ?= clang
FUZZ_O := build/fuzz
FUZZ_BIN := $(FUZZ_O)/bin
FUZZ_NAMES := keytable backup rsp wycheproof vault_api cmk_vault
FUZZ_TARGETS := $(FUZZ_NAMES:%=$(FUZZ_BIN)/fuzz_%)
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SECONDS ?= 300
FUZZ_ARGS ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(CSTD) $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -pthread -MMD -MP
FUZZ_INC := -Iengine/include -Iengine/src -Icompliance/include -Ivault-mock/src -Ibase/include \
    $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)

FUZZ_ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(FUZZ_O)/%.o)
FUZZ_BASE_OBJS := $(BASE_SRCS:%.c=$(FUZZ_O)/%.o)
FUZZ_COMP_OBJS := $(FUZZ_O)/compliance/src/comp_rsp.o $(FUZZ_O)/compliance/src/comp_wycheproof.o \
    $(FUZZ_O)/compliance/src/comp_util.o $(FUZZ_O)/compliance/src/comp_aes.o
FUZZ_VMOCK_OBJS := $(patsubst %.c,$(FUZZ_O)/%.o,$(filter-out vault-mock/src/main.c vault-mock/src/http.c,$(wildcard vault-mock/src/*.c)))

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps

fuzz-deps:
	@CMK_EXTRA_PKGS="clang libclang-rt-14-dev $(CMK_EXTRA_PKGS)" scripts/deps.sh

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)

# The code under test: clang, sanitizers, coverage for libFuzzer.
$(FUZZ_O)/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -c -o $@ $<
$(FUZZ_O)/base/%.o: base/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -c -o $@ $<
$(FUZZ_O)/compliance/%.o: compliance/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -c -o $@ $<
$(FUZZ_O)/vault-mock/%.o: vault-mock/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -c -o $@ $<
$(FUZZ_O)/fuzz/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WERROR) $(FUZZ_INC) -c -o $@ $<

$(FUZZ_O)/libbase.a: $(FUZZ_BASE_OBJS)
	$(AR) rcs $@ $^
$(FUZZ_O)/libeng.a: $(FUZZ_ENGINE_OBJS)
	$(AR) rcs $@ $^
$(FUZZ_O)/libcomp.a: $(FUZZ_COMP_OBJS)
	$(AR) rcs $@ $^
$(FUZZ_O)/libvmock.a: $(FUZZ_VMOCK_OBJS)
	$(AR) rcs $@ $^

FUZZ_LINK = $(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $(filter %.o %.a,$^)

$(FUZZ_BIN)/fuzz_keytable $(FUZZ_BIN)/fuzz_backup: $(FUZZ_BIN)/fuzz_%: $(FUZZ_O)/fuzz/%.o $(FUZZ_O)/libeng.a $(FUZZ_O)/libbase.a
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) $(ENGINE_LIBS)
$(FUZZ_BIN)/fuzz_rsp $(FUZZ_BIN)/fuzz_wycheproof: $(FUZZ_BIN)/fuzz_%: $(FUZZ_O)/fuzz/%.o $(FUZZ_O)/libcomp.a $(FUZZ_O)/libbase.a
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) $(CJSON_LIBS) $(OPENSSL_LIBS)
$(FUZZ_BIN)/fuzz_vault_api: $(FUZZ_O)/fuzz/vault_api.o $(FUZZ_O)/libvmock.a $(FUZZ_O)/libbase.a
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) $(VMOCK_LIBS)
# cmk_vault.c includes engine/src/kek_http.c and kek_vault.c itself (their parsers are static).
$(FUZZ_BIN)/fuzz_cmk_vault: $(FUZZ_O)/fuzz/cmk_vault.o $(FUZZ_O)/libeng.a $(FUZZ_O)/libbase.a
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) $(ENGINE_LIBS)

# fuzz/run.sh: one run per target; seeds from fuzz/corpus/NAME, new inputs
# into build/fuzz/corpus/NAME, artifacts into build/fuzz/crashes/.
fuzz-smoke: fuzz-build
	@fuzz/run.sh $(FUZZ_BIN) $(FUZZ_O) $(FUZZ_SMOKE_SECONDS) "$(FUZZ_ARGS)" $(FUZZ_NAMES)

fuzz: fuzz-build
	@fuzz/run.sh $(FUZZ_BIN) $(FUZZ_O) $(FUZZ_SECONDS) "$(FUZZ_ARGS)" $(FUZZ_NAMES)

-include $(shell find $(FUZZ_O) -name '*.d' 2>/dev/null)
