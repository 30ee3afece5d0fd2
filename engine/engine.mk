# engine/engine.mk - the engine library and its tests.

ENGINE_SRCS := $(wildcard engine/src/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(O)/%.o)
ENGINE_LIB := $(O)/libeng.a
ENGINE_CPPFLAGS := -Iengine/include -Iengine/src $(OPENSSL_CFLAGS)
ENGINE_LIBS := $(IPSECMB_LIBS) $(OPENSSL_LIBS)

$(ENGINE_OBJS): CPPFLAGS += $(ENGINE_CPPFLAGS)
$(ENGINE_OBJS): CFLAGS += -fvisibility=hidden

$(ENGINE_LIB): $(ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Tests: one Criterion program per engine/tests/test_*.c, linked with the
# test helpers in engine/tests/testlib/ and the compliance vector parsers.
ENGINE_TEST_SRCS := $(wildcard engine/tests/test_*.c)
ENGINE_TESTLIB_SRCS := $(wildcard engine/tests/testlib/*.c)
ENGINE_TESTLIB_OBJS := $(ENGINE_TESTLIB_SRCS:%.c=$(O)/%.o)
ENGINE_TEST_BINS := $(ENGINE_TEST_SRCS:engine/tests/%.c=$(O)/tests/engine_%)
TEST_BINS += $(ENGINE_TEST_BINS)

$(ENGINE_TEST_SRCS:%.c=$(O)/%.o) $(ENGINE_TESTLIB_OBJS): CPPFLAGS += $(ENGINE_CPPFLAGS) -Iengine/tests/testlib -Icompliance/include $(CJSON_CFLAGS)

# compliance.mk is included after this file, and make expands a rule's
# prerequisites as it reads the rule: name the library here so that the
# rule below does not see an empty $(COMP_LIB) (compliance.mk sets the same).
COMP_LIB ?= $(O)/libcomp.a

$(O)/tests/engine_%: $(O)/engine/tests/%.o $(ENGINE_TESTLIB_OBJS) $(COMP_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CJSON_LIBS) $(ENGINE_LIBS)
