# benchmarks/benchmarks.mk - cmk-bench and `make bench`.
#
# One object per source file: a new kind of cell is a new file
# benchmarks/src/kind_<name>.c plus its row in benchmarks/src/kinds.h.
# cmk-bench starts its own vault-mock (bin/vault-mock, order-only
# prerequisite) for the CMK, cold-open, vault and rotation cells.

BENCH_SRCS := $(wildcard benchmarks/src/*.c)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(O)/%.o)
# The statistics (quantiles, the median's order-statistic interval) are
# reports' (librep.a), shared with compliance and the report.
$(BENCH_OBJS): CPPFLAGS += -Iengine/include -Ivault-mock/client -Ireports/include -Idb/src $(BASE_CPPFLAGS) \
    $(OPENSSL_CFLAGS) $(CJSON_CFLAGS)
PROGRAMS += $(BIN)/cmk-bench

$(BIN)/cmk-bench: $(BENCH_OBJS) $(ENGINE_LIB) $(O)/libvmclient.a $(O)/librep.a $(BASE_LIB) | $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJS) $(ENGINE_LIB) $(O)/libvmclient.a $(O)/librep.a $(BASE_LIB) \
	    $(CURL_LIBS) $(CJSON_LIBS) $(ENGINE_LIBS) -lm

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

.PHONY: bench
# The database section (standard and db profiles) runs scripts/db/bench.sh: cmk-fs, cmk and
# cmk-db-stats must be built.
bench: deps $(BIN)/cmk-bench $(BIN)/cmk-fs $(BIN)/cmk $(BIN)/cmk-db-stats
	$(BIN)/cmk-bench --profile $(PROFILE) --commit "$(or $(GIT_COMMIT),unknown)" $(BENCH_ARGS)

# Tests of the bench's statistics (stats.c and librep's: no engine, no vault), and of the
# table of kinds and the plan made from it (every bench object but main.o; nothing timed).
BENCH_TEST_BINS := $(O)/tests/bench_test_stats $(O)/tests/bench_test_bars $(O)/tests/bench_test_kinds \
    $(O)/tests/bench_test_db
TEST_BINS += $(BENCH_TEST_BINS)
$(O)/benchmarks/tests/test_stats.o $(O)/benchmarks/tests/test_bars.o \
    $(O)/benchmarks/tests/test_kinds.o $(O)/benchmarks/tests/test_db.o: CPPFLAGS += -Iengine/include -Ibenchmarks/src \
    -Ireports/include $(BASE_CPPFLAGS)

$(O)/tests/bench_test_stats: $(O)/benchmarks/tests/test_stats.o $(O)/benchmarks/src/stats.o $(O)/librep.a $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(OPENSSL_LIBS) -lm

# The bars' verdicts (bars.c: which cells a bar pairs, which way it divides, where it passes).
$(O)/tests/bench_test_bars: $(O)/benchmarks/tests/test_bars.o $(O)/benchmarks/src/bars.o \
    $(O)/benchmarks/src/stats.o $(O)/librep.a $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(OPENSSL_LIBS) -lm

$(O)/tests/bench_test_kinds: $(O)/benchmarks/tests/test_kinds.o $(filter-out %/main.o,$(BENCH_OBJS)) \
    $(ENGINE_LIB) $(O)/libvmclient.a $(O)/librep.a $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CURL_LIBS) $(CJSON_LIBS) $(ENGINE_LIBS) -lm

# The database kind (kind_db.c) on a recorded scripts/db/bench.sh result: plan, rows, bars.
$(O)/tests/bench_test_db: $(O)/benchmarks/tests/test_db.o $(filter-out %/main.o,$(BENCH_OBJS)) \
    $(ENGINE_LIB) $(O)/libvmclient.a $(O)/librep.a $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CURL_LIBS) $(CJSON_LIBS) $(ENGINE_LIBS) -lm
