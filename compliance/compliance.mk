# compliance/compliance.mk - vector parsers (shared with the engine tests) and the compliance runner.

COMP_SRCS := $(wildcard compliance/src/*.c)
COMP_OBJS := $(COMP_SRCS:%.c=$(O)/%.o)
COMP_LIB := $(O)/libcomp.a
$(COMP_OBJS): CPPFLAGS += -Icompliance/include -Iengine/include -Ireports/include $(CJSON_CFLAGS) \
    $(OPENSSL_CFLAGS)

$(COMP_LIB): $(COMP_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The lifecycle controls: the engine's public API against a vault-mock they
# start through vault-mock/client (libvmclient.a).
COMPCTL_SRCS := $(wildcard compliance/controls/*.c)
COMPCTL_OBJS := $(COMPCTL_SRCS:%.c=$(O)/%.o)
COMPCTL_LIB := $(O)/libcompctl.a
# comp_report.c writes its JUnit XML with reports' escaping (librep.a).
COMP_PROG_LIBS := $(COMPCTL_LIB) $(COMP_LIB) $(O)/librep.a $(O)/libvmclient.a $(O)/libeng.a
COMP_LINK_LIBS = $(CURL_LIBS) $(CJSON_LIBS) $(IPSECMB_LIBS) $(SSL_LIBS) -lm
$(COMPCTL_OBJS) $(O)/compliance/cli/%.o $(O)/compliance/tests/%.o: CPPFLAGS += -Icompliance/include -Ireports/include \
    -Icompliance/controls \
    -Iengine/include -Ivault-mock/client $(CJSON_CFLAGS) $(OPENSSL_CFLAGS)

$(COMPCTL_LIB): $(COMPCTL_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/cmk-compliance: $(O)/compliance/cli/cmk_compliance.o $(COMP_PROG_LIBS) | $(BIN) $(BIN)/vault-mock
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(COMP_LINK_LIBS)
PROGRAMS += $(BIN)/cmk-compliance

# Tests: one Criterion program per compliance/tests/test_*.c; they run the
# built bin/cmk-compliance (path compiled in) and the control library.
COMP_TEST_SRCS := $(wildcard compliance/tests/test_*.c)
COMP_TEST_BINS := $(COMP_TEST_SRCS:compliance/tests/%.c=$(O)/tests/comp_%)
TEST_BINS += $(COMP_TEST_BINS)
$(COMP_TEST_SRCS:%.c=$(O)/%.o): CPPFLAGS += -DCOMP_BIN='"$(BIN)/cmk-compliance"'

$(O)/tests/comp_%: $(O)/compliance/tests/%.o $(O)/vault-mock/tests/testlib/vmt_valgrind.o $(COMP_PROG_LIBS) | $(BIN)/cmk-compliance $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(CRITERION_LIBS) $(COMP_LINK_LIBS)

# make compliance: the default sources, ../shared/vectors when present, every control.
COMP_SHARED_VECTORS := $(wildcard ../shared/vectors)
compliance: deps $(BIN)/cmk-compliance
	$(BIN)/cmk-compliance --defaults $(if $(COMP_SHARED_VECTORS),--vectors $(COMP_SHARED_VECTORS)) --controls --out reports/out
