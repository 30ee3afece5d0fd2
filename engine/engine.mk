# engine/engine.mk - the engine library and its tests.

ENGINE_SRCS := $(wildcard engine/src/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(O)/%.o)
ENGINE_LIB := $(O)/libeng.a
ENGINE_CPPFLAGS := -Iengine/include -Iengine/src $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)
ENGINE_LIBS := $(IPSECMB_LIBS) $(CURL_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS)

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

$(O)/tests/engine_%: $(O)/engine/tests/%.o $(ENGINE_TESTLIB_OBJS) $(COMP_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(MHD_LIBS) $(ENGINE_LIBS)
