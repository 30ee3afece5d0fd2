# reports/reports.mk - cmk-report, cmk-gate, their tests, and make report / gate / baseline.
#
# reports/ reads result files only (JSON); it never links the engine, so a
# report can be made on another machine from copied results.

REP_LIB_SRCS := $(filter-out reports/src/%_main.c,$(wildcard reports/src/*.c))
REP_LIB_OBJS := $(REP_LIB_SRCS:%.c=$(O)/%.o)
REP_LIB := $(O)/librep.a
REP_CPPFLAGS := -Ireports/include $(CJSON_CFLAGS)
REP_OUT ?= reports/out
BASELINE ?= reports/baseline/bench-quick.json

$(REP_LIB_OBJS) $(O)/reports/src/gate_main.o $(O)/reports/src/report_main.o: CPPFLAGS += $(REP_CPPFLAGS)

$(REP_LIB): $(REP_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

PROGRAMS += $(BIN)/cmk-report $(BIN)/cmk-gate

$(BIN)/cmk-report: $(O)/reports/src/report_main.o $(REP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) -lm

$(BIN)/cmk-gate: $(O)/reports/src/gate_main.o $(REP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) -lm

# Tests: one Criterion program per reports/tests/test_*.c.
REP_TEST_SRCS := $(wildcard reports/tests/test_*.c)
REP_TEST_BINS := $(REP_TEST_SRCS:reports/tests/%.c=$(O)/tests/reports_%)
TEST_BINS += $(REP_TEST_BINS)

REP_TESTLIB_SRCS := $(wildcard reports/tests/testlib/*.c)
REP_TESTLIB_OBJS := $(REP_TESTLIB_SRCS:%.c=$(O)/%.o)

$(REP_TEST_SRCS:%.c=$(O)/%.o) $(REP_TESTLIB_OBJS): CPPFLAGS += $(REP_CPPFLAGS) -Ireports/tests/testlib

$(O)/tests/reports_%: $(O)/reports/tests/%.o $(REP_TESTLIB_OBJS) $(REP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CJSON_LIBS) -lm

.PHONY: report gate baseline

# make report: index.html + report.md (+ plots/) from whatever results exist.
report: deps $(BIN)/cmk-report
	$(BIN)/cmk-report --in $(REP_OUT) --out $(REP_OUT)

# make gate: the new bench.json against the committed baseline (or BASELINE=file).
gate: deps $(BIN)/cmk-gate
	$(BIN)/cmk-gate --baseline $(BASELINE) --new $(REP_OUT)/bench.json --out $(REP_OUT) $(GATE_ARGS)

# make baseline: record a new baseline deliberately (commit the file afterwards).
# 15 samples per cell instead of the quick profile's 5: with 5 per side the
# smallest one-sided Mann-Whitney p is 1/252, which the Holm correction over
# ~28 ratio metrics can never bring below alpha 0.01. CI measures the same way.
GATE_SAMPLES ?= 15
baseline:
	@$(MAKE) --no-print-directory bench PROFILE=quick BENCH_ARGS="--samples $(GATE_SAMPLES)"
	cp $(REP_OUT)/bench.json reports/baseline/bench-quick.json
	@echo "baseline: wrote reports/baseline/bench-quick.json; review and commit it"
