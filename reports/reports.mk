# reports/reports.mk - cmk-report, cmk-gate, their tests, and make report / gate / baseline.
#
# reports/ reads result files only (JSON); it never links the engine, so a
# report can be made on another machine from copied results.

REP_LIB_SRCS := $(filter-out reports/src/%_main.c,$(wildcard reports/src/*.c))
REP_LIB_OBJS := $(REP_LIB_SRCS:%.c=$(O)/%.o)
REP_LIB := $(O)/librep.a
REP_CPPFLAGS := -Ireports/include $(BASE_CPPFLAGS) $(CJSON_CFLAGS)
REP_OUT ?= reports/out
# The committed multi-run baseline of a CPU class (cmk-gate --cpu-class): bench-quick-CLASS.json.
BASELINE_DIR := reports/baseline
BASELINE ?=
GATE_BASE ?=

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

.PHONY: report gate gate-baseline baseline

# make report: index.html + report.md (+ plots/) from whatever results exist.
report: deps $(BIN)/cmk-report
	$(BIN)/cmk-report --in $(REP_OUT) --out $(REP_OUT)

# make gate: the same-job A/B gate (reports/gate-ab.sh): the reference commit (GATE_BASE, default
# reports/baseline/BASE) built in build/gate-ref/ and measured with this tree's build in interleaved
# rounds; the committed baseline of this CPU class is a second opinion.
gate: deps $(BIN)/cmk-gate $(BIN)/cmk-bench
	GATE_BASE="$(GATE_BASE)" REP_OUT="$(REP_OUT)" GATE_ARGS="$(GATE_ARGS)" reports/gate-ab.sh

# make gate-baseline: $(REP_OUT)/bench.json against a committed multi-run baseline alone (the gate
# before the A/B one): BASELINE=file, default the file of the CPU class that bench.json ran.
gate-baseline: deps $(BIN)/cmk-gate
	@set -e; b="$(BASELINE)"; \
	if [ -z "$$b" ]; then \
	    c=$$($(BIN)/cmk-gate --cpu-class $(REP_OUT)/bench.json); b=$(BASELINE_DIR)/bench-quick-$$c.json; \
	    echo "gate-baseline: CPU class $$c: $$b"; \
	fi; \
	$(BIN)/cmk-gate --baseline "$$b" --new $(REP_OUT)/bench.json --out $(REP_OUT) $(GATE_ARGS)

# make baseline: record a new baseline deliberately (commit the files afterwards):
# BASELINE_RUNS separate runs of the quick benchmark, each as CI measures
# (15 samples per cell), combined into one multi-run file, so the gate sees
# how much a metric moves from run to run, not only within one run. The file
# is named after the CPU class that ran (bench-quick-CLASS.json, or BASELINE=file),
# and reports/baseline/BASE records this commit: the A/B gate's reference.
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
	@set -e; b="$(BASELINE)"; \
	[ -n "$$b" ] || b=$(BASELINE_DIR)/bench-quick-$$($(BIN)/cmk-gate --cpu-class $$(ls $(BASELINE_TMP)/run*/bench.json | head -1)).json; \
	$(BIN)/cmk-gate --make-baseline "$$b" $(BASELINE_TMP)/run*/bench.json; \
	git rev-parse HEAD >$(BASELINE_DIR)/BASE; \
	git diff --quiet HEAD || echo "baseline: warning: the tree has uncommitted changes; BASE names HEAD"; \
	echo "baseline: wrote $$b ($(BASELINE_RUNS) runs) and $(BASELINE_DIR)/BASE ($$(cut -c1-12 $(BASELINE_DIR)/BASE)); review and commit them"
