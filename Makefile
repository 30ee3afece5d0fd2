# cmk-harness - top-level build.
#
#   make bench        install what is missing, build, measure (PROFILE=quick|standard|full)
#   make test         install what is missing, build, run every test suite
#   make asan         the tests under AddressSanitizer + UBSan
#   make help         every target
#
# Each folder adds its own rules in <folder>/<folder>.mk; this file holds the
# shared flags and the top-level targets. Objects go to build/$(BUILD)/,
# programs to bin/ (release) or build/$(BUILD)/bin/ (other builds).

BUILD ?= release
O := build/$(BUILD)
ifeq ($(BUILD),release)
BIN := bin
else
BIN := $(O)/bin
endif

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
PKG_CONFIG ?= pkg-config

WARN := -Wall -Wextra -Wshadow -Wcast-qual -Wformat=2 -Wformat-security -Wwrite-strings \
        -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef
ifeq ($(CI),true)
WERROR ?= -Werror
endif
CSTD := -std=gnu11 -D_GNU_SOURCE
OPT_release := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
OPT_asan := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_debug := -O0 -g
OPT := $(OPT_$(BUILD))
ifeq ($(OPT),)
$(error unknown BUILD=$(BUILD); use release, asan or debug)
endif

CFLAGS ?=
CFLAGS += $(CSTD) $(WARN) $(WERROR) $(OPT) -fPIC -pthread -MMD -MP
LDFLAGS += $(filter -fsanitize=%,$(OPT)) -pthread
PROFILE ?= standard

# Library flags (pkg-config where the package ships a .pc file).
pc = $(shell $(PKG_CONFIG) --silence-errors $(1) $(2))
OPENSSL_CFLAGS = $(call pc,--cflags,libcrypto)
OPENSSL_LIBS = $(or $(call pc,--libs,libcrypto),-lcrypto)
SSL_LIBS = $(or $(call pc,--libs,libssl libcrypto),-lssl -lcrypto)
IPSECMB_LIBS = -lIPSec_MB
CURL_LIBS = $(or $(call pc,--libs,libcurl),-lcurl)
CJSON_CFLAGS = $(call pc,--cflags,libcjson)
CJSON_LIBS = $(or $(call pc,--libs,libcjson),-lcjson)
MHD_LIBS = $(or $(call pc,--libs,libmicrohttpd),-lmicrohttpd)
CRITERION_LIBS = $(or $(call pc,--libs,criterion),-lcriterion)

# Filled by the folder fragments.
TEST_BINS :=
PROGRAMS :=

.PHONY: all build test asan valgrind bench deps help clean check-deps compliance
.DEFAULT_GOAL := all

all: build

include base/base.mk
include engine/engine.mk
include compliance/compliance.mk
include benchmarks/benchmarks.mk
-include vault-mock/vault-mock.mk
-include reports/reports.mk
-include fuzz/fuzz.mk
-include fs/fs.mk
-include db/db.mk

build: deps $(PROGRAMS) $(TEST_BINS)

deps:
	@scripts/deps.sh

# make test: every suite, then one closing line "tests: N passed, N failed".
test: build
	@scripts/run-tests.sh $(TEST_BINS)

asan:
	@$(MAKE) --no-print-directory BUILD=asan test

# make valgrind: every suite under valgrind memcheck on the narrow AES-NI/AVX2
# path (valgrind cannot run AVX-512), children followed, heavy tests scaled
# down (CMK_UNDER_VALGRIND=1), per-test logs in build/valgrind/. Slow (about
# 50 min on 2 cores): VALGRIND_TESTS picks a subset. Closing line
# "valgrind: N tests, N clean, total T s"; fails unless every program is clean.
VALGRIND_TESTS ?= $(TEST_BINS)
valgrind: build
	@CMK_EXTRA_PKGS=valgrind scripts/deps.sh
	@scripts/valgrind-tests.sh -o build/valgrind $(VALGRIND_TESTS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(BIN) $(O)/tests:
	@mkdir -p $@

help:
	@echo "make bench [PROFILE=quick|standard|full]  measure; writes reports/out/bench.json"
	@echo "make test                                 build and run all tests"
	@echo "make asan                                 tests under AddressSanitizer + UBSan"
	@echo "make valgrind [VALGRIND_TESTS=...]        tests under valgrind memcheck (ENG_ARCH=avx2; slow)"
	@echo "make compliance                           KATs + key-lifecycle controls -> reports/out/compliance.*"
	@echo "make report / make gate / make baseline   reports with plots; the regression gate; a new baseline"
	@echo "make db-bench [DB_BENCH_ARGS=--quick]     PostgreSQL + fio on each filesystem target -> reports/out/db-bench.json"
	@echo "make deps                                 install missing Debian packages (root) or print the command"
	@echo "make build                                build programs and tests only"
	@echo "make clean                                remove build/, bin/ and reports/out/"

clean:
	rm -rf build bin reports/out

-include $(shell find build/$(BUILD) -name '*.d' 2>/dev/null)
