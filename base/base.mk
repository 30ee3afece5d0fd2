# base/base.mk - libbase.a: the small base library every harness program shares
# (capped growable buffer, whole-file reading, hex/base64url, the error
# convention). Included by the top Makefile before engine/engine.mk, so every
# later fragment can name $(BASE_LIB) and $(BASE_CPPFLAGS).
#
# libbase depends on OpenSSL's libcrypto only (OPENSSL_cleanse, EVP_EncodeBlock):
# link it with $(OPENSSL_LIBS) or $(SSL_LIBS) after it.

BASE_SRCS := $(wildcard base/src/*.c)
BASE_OBJS := $(BASE_SRCS:%.c=$(O)/%.o)
BASE_LIB := $(O)/libbase.a
BASE_CPPFLAGS := -Ibase/include

$(BASE_OBJS): CPPFLAGS += $(BASE_CPPFLAGS) $(OPENSSL_CFLAGS)

$(BASE_LIB): $(BASE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Tests: one Criterion program per base/tests/test_*.c.
BASE_TEST_SRCS := $(wildcard base/tests/test_*.c)
BASE_TEST_BINS := $(BASE_TEST_SRCS:base/tests/%.c=$(O)/tests/base_%)
TEST_BINS += $(BASE_TEST_BINS)

$(BASE_TEST_SRCS:%.c=$(O)/%.o): CPPFLAGS += $(BASE_CPPFLAGS) $(OPENSSL_CFLAGS)

$(O)/tests/base_%: $(O)/base/tests/%.o $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(OPENSSL_LIBS)
