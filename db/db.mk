# db/db.mk - the PostgreSQL harness: its end-to-end test (make test) and
# make db-bench (scripts/db/bench.sh; see db/README.md).

DB_TEST_SRCS := $(wildcard db/tests/test_*.c)
DB_TEST_BINS := $(DB_TEST_SRCS:db/tests/%.c=$(O)/tests/db_%)
TEST_BINS += $(DB_TEST_BINS)

# The test runs scripts/db/e2e.sh, which needs bin/cmk (the SMK key file)
# and bin/vault-mock for the cmk-fs targets when bin/cmk-fs exists.
$(O)/tests/db_%: $(O)/db/tests/%.o | $(BIN)/cmk $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CRITERION_LIBS) $(CJSON_LIBS)

# test_db_stats runs the built cmk-db-stats.
$(O)/db/tests/test_db_stats.o: CPPFLAGS += $(CJSON_CFLAGS) -DDB_STATS_BIN='"$(BIN)/cmk-db-stats"'
$(O)/tests/db_test_db_stats: | $(BIN)/cmk-db-stats

DB_BENCH_ARGS ?=
.PHONY: db-bench
db-bench: deps $(BIN)/cmk $(BIN)/vault-mock $(BIN)/cmk-db-stats
	scripts/db/bench.sh --stats $(BIN)/cmk-db-stats --commit "$(or $(GIT_COMMIT),unknown)" $(DB_BENCH_ARGS)

# cmk-db-stats: the database bench's statistics (librep's median interval), table and bars.
PROGRAMS += $(BIN)/cmk-db-stats
$(O)/db/src/db_stats.o: CPPFLAGS += -Ireports/include $(BASE_CPPFLAGS) $(CJSON_CFLAGS)
$(BIN)/cmk-db-stats: $(O)/db/src/db_stats.o $(O)/librep.a $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(OPENSSL_LIBS) -lm
