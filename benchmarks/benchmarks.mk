# benchmarks/benchmarks.mk - cmk-bench and `make bench`.
#
# cmk-bench starts its own vault-mock (bin/vault-mock, order-only
# prerequisite) for the CMK, cold-open, vault and rotation cells.

BENCH_SRCS := $(wildcard benchmarks/src/*.c)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(O)/%.o)
$(BENCH_OBJS): CPPFLAGS += -Iengine/include -Ivault-mock/client $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)
PROGRAMS += $(BIN)/cmk-bench

$(BIN)/cmk-bench: $(BENCH_OBJS) $(ENGINE_LIB) $(O)/libvmclient.a | $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJS) $(ENGINE_LIB) $(O)/libvmclient.a $(CURL_LIBS) $(CJSON_LIBS) $(ENGINE_LIBS) -lm

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

.PHONY: bench
bench: deps $(BIN)/cmk-bench
	$(BIN)/cmk-bench --profile $(PROFILE) --commit "$(or $(GIT_COMMIT),unknown)" $(BENCH_ARGS)

# Tests of the bench's statistics (stats.c only: no engine, no vault).
BENCH_TEST_BINS := $(O)/tests/bench_test_stats
TEST_BINS += $(BENCH_TEST_BINS)
$(O)/benchmarks/tests/test_stats.o: CPPFLAGS += -Iengine/include -Ibenchmarks/src

$(O)/tests/bench_test_stats: $(O)/benchmarks/tests/test_stats.o $(O)/benchmarks/src/stats.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) -lm
