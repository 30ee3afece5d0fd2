# testlib/testlib.mk - fixtures shared by the tests of more than one module
# (tests only; see testlib/README.md). Helpers one module's tests use stay in
# that module (<module>/tests/testlib/).
#
# A test program links $(TESTLIB) (before the libraries it calls: libeng.a for
# the KAT paths and the generators, libvmclient.a for the valgrind check) and
# names the hooks it wants as objects: a Criterion ReportHook lives in an
# object no test calls, so the linker would drop it from an archive.
#   $(TESTLIB_HOOK_VALGRIND)  every Criterion timeout x10 under make valgrind
#   $(TESTLIB_HOOK_ANCHORS)   a private CMK_ANCHOR_DIR per test program
# Include with -Itestlib; the headers use the engine's and vault-mock/client's
# public headers only.

TESTLIB_HOOK_SRCS := testlib/valgrind_timeouts.c testlib/anchor_env.c
TESTLIB_SRCS := $(filter-out $(TESTLIB_HOOK_SRCS),$(wildcard testlib/*.c))
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(O)/%.o)
TESTLIB := $(O)/libtestlib.a
TESTLIB_HOOK_VALGRIND := $(O)/testlib/valgrind_timeouts.o
TESTLIB_HOOK_ANCHORS := $(O)/testlib/anchor_env.o
TESTLIB_CPPFLAGS := -Itestlib -Iengine/include -Ivault-mock/client $(BASE_CPPFLAGS) $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)

$(TESTLIB_OBJS) $(TESTLIB_HOOK_SRCS:%.c=$(O)/%.o): CPPFLAGS += $(TESTLIB_CPPFLAGS)

$(TESTLIB): $(TESTLIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
