# fs/fs.mk - cmk-fs, the encrypted FUSE filesystem (libfuse3), and its tests.

FUSE_CFLAGS = $(call pc,--cflags,fuse3)
FUSE_LIBS = $(or $(call pc,--libs,fuse3),-lfuse3)

CMKFS_SRCS := $(wildcard fs/src/*.c)
CMKFS_OBJS := $(CMKFS_SRCS:%.c=$(O)/%.o) $(O)/engine/cli/keyopts.o
PROGRAMS += $(BIN)/cmk-fs

$(CMKFS_SRCS:%.c=$(O)/%.o): CPPFLAGS += $(ENGINE_CPPFLAGS) -Iengine/cli $(FUSE_CFLAGS)

$(BIN)/cmk-fs: $(CMKFS_OBJS) $(ENGINE_LIB) $(BASE_LIB) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS) $(ENGINE_LIBS)

# Tests: each fs/tests/test_*.c against a real mount of the built bin/cmk-fs
# (fs/tests/fslib.c, the shared testlib/ and vault-mock's published client).
FS_TEST_SRCS := $(wildcard fs/tests/test_*.c)
FS_TESTLIB_OBJS := $(O)/fs/tests/fslib.o
# the tests ask "is it mounted?" with cmk-fs's own mountinfo reader
FS_TEST_LINK_OBJS := $(FS_TESTLIB_OBJS) $(O)/fs/src/mountlock.o
FS_TEST_BINS := $(FS_TEST_SRCS:fs/tests/%.c=$(O)/tests/fs_%)
TEST_BINS += $(FS_TEST_BINS)

# The suites that hold in both ciphers run twice: the same source built again with -DFSX_GCM
# (fslib.h: FSX_MODE "gcm", suite names with _gcm) into fs_test_*_gcm.
FS_GCM_TESTS := test_fs_posix test_fs_diff test_fs_keyloss
FS_GCM_OBJS := $(FS_GCM_TESTS:%=$(O)/fs/tests/%.gcm.o)
TEST_BINS += $(FS_GCM_TESTS:%=$(O)/tests/fs_%_gcm)

$(FS_TEST_SRCS:%.c=$(O)/%.o) $(FS_GCM_OBJS) $(FS_TESTLIB_OBJS): CPPFLAGS += -Ifs/tests -Ifs/src $(TESTLIB_CPPFLAGS) -DCMKFS_BIN='"$(BIN)/cmk-fs"' -DCMK_BIN='"$(BIN)/cmk"'
$(FS_GCM_OBJS): CPPFLAGS += -DFSX_GCM

$(O)/fs/tests/%.gcm.o: fs/tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(O)/tests/fs_%_gcm: $(O)/fs/tests/%.gcm.o $(FS_TEST_LINK_OBJS) $(TESTLIB_HOOK_VALGRIND) $(TESTLIB_HOOK_ANCHORS) $(TESTLIB) $(O)/libvmclient.a $(ENGINE_LIB) $(BASE_LIB) | $(BIN)/cmk-fs $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(MHD_LIBS) $(ENGINE_LIBS)

$(O)/tests/fs_%: $(O)/fs/tests/%.o $(FS_TEST_LINK_OBJS) $(TESTLIB_HOOK_VALGRIND) $(TESTLIB_HOOK_ANCHORS) $(TESTLIB) $(O)/libvmclient.a $(ENGINE_LIB) $(BASE_LIB) | $(BIN)/cmk-fs $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(MHD_LIBS) $(ENGINE_LIBS)
