# reports/reports.mk - cmk-report, cmk-gate, their tests, and make report / gate / baseline.
#
# reports/ reads result files only (JSON); it never links the engine, so a
# report can be made on another machine from copied results.

REP_LIB_SRCS := $(filter-out reports/src/%_main.c,$(wildcard reports/src/*.c))
REP_LIB_OBJS := $(REP_LIB_SRCS:%.c=$(O)/%.o)
REP_LIB := $(O)/librep.a
REP_CPPFLAGS := -Ireports/include $(BASE_CPPFLAGS) $(CJSON_CFLAGS)
REP_OUT ?= reports/out
BASELINE ?= reports/baseline/bench-quick.json

$(REP_LIB_OBJS) $(O)/reports/src/gate_main.o $(O)/reports/src/report_main.o: CPPFLAGS += $(REP_CPPFLAGS)

$(REP_LIB): $(REP_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

PROGRAMS += $(BIN)/cmk-report $(BIN)/cmk-gate

$(BIN)/cmk-report: $(O)/reports/src/report_main.o $(REP_LIB) $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(OPENSSL_LIBS) -lm

$(BIN)/cmk-gate: $(O)/reports/src/gate_main.o $(REP_LIB) $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS) $(OPENSSL_LIBS) -lm

# Tests: one Criterion program per reports/tests/test_*.c.
REP_TEST_SRCS := $(wildcard reports/tests/test_*.c)
REP_TEST_BINS := $(REP_TEST_SRCS:reports/tests/%.c=$(O)/tests/reports_%)
TEST_BINS += $(REP_TEST_BINS)

REP_TESTLIB_SRCS := $(wildcard reports/tests/testlib/*.c)
REP_TESTLIB_OBJS := $(REP_TESTLIB_SRCS:%.c=$(O)/%.o)

$(REP_TEST_SRCS:%.c=$(O)/%.o) $(REP_TESTLIB_OBJS): CPPFLAGS += $(REP_CPPFLAGS) -Ireports/tests/testlib

$(O)/tests/reports_%: $(O)/reports/tests/%.o $(REP_TESTLIB_OBJS) $(REP_LIB) $(BASE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRITERION_LIBS) $(CJSON_LIBS) $(OPENSSL_LIBS) -lm

.PHONY: report gate baseline

# make report: index.html + report.md (+ plots/) from whatever results exist.
report: deps $(BIN)/cmk-report
	$(BIN)/cmk-report --in $(REP_OUT) --out $(REP_OUT)

# make gate: the new bench.json against the committed baseline (or BASELINE=file).
gate: deps $(BIN)/cmk-gate
	$(BIN)/cmk-gate --baseline $(BASELINE) --new $(REP_OUT)/bench.json --out $(REP_OUT) $(GATE_ARGS)

# make baseline: record a new baseline deliberately (commit the file afterwards):
# BASELINE_RUNS separate runs of the quick benchmark, each as CI measures
# (15 samples per cell), combined into one multi-run file, so the gate sees
# how much a metric moves from run to run, not only within one run.
# 15 samples rather than the quick profile's 5: the within-run standard
# error of a median needs them (and the single-run Mann-Whitney test could
# never reach alpha after Holm with 5 per side).
GATE_SAMPLES ?= 15
BASELINE_RUNS ?= 10
BASELINE_TMP := $(REP_OUT)/baseline-runs
baseline: deps $(BIN)/cmk-bench $(BIN)/cmk-gate
	@rm -rf $(BASELINE_TMP) && mkdir -p $(BASELINE_TMP)
	@set -e; for i in $$(seq -w 1 $(BASELINE_RUNS)); do \
	    echo "baseline: run $$i of $(BASELINE_RUNS)"; \
	    $(BIN)/cmk-bench --profile quick --samples $(GATE_SAMPLES) --commit "$(or $(GIT_COMMIT),unknown)" \
	        --out $(BASELINE_TMP)/run$$i >$(BASELINE_TMP)/run$$i.log 2>&1 || \
	        { cat $(BASELINE_TMP)/run$$i.log; exit 1; }; \
	done
	$(BIN)/cmk-gate --make-baseline $(BASELINE) $(BASELINE_TMP)/run*/bench.json
	@echo "baseline: wrote $(BASELINE) ($(BASELINE_RUNS) runs); review and commit it"
