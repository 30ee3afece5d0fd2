# compliance/compliance.mk - vector parsers, the KAT runner and the compliance runner.

COMP_SRCS := $(wildcard compliance/src/*.c)
COMP_OBJS := $(COMP_SRCS:%.c=$(O)/%.o)
COMP_LIB := $(O)/libcomp.a
# The SP 800-53 mapping: compliance/sp800-53-map.tsv (the one source) becomes a C table.
COMP_MAP_C := $(O)/compliance/gen/comp_sp_map.c
COMP_MAP_O := $(O)/compliance/gen/comp_sp_map.o
$(COMP_MAP_C): compliance/sp800-53-map.tsv compliance/gen-sp-map.awk
	@mkdir -p $(dir $@)
	awk -f compliance/gen-sp-map.awk compliance/sp800-53-map.tsv > $@.tmp && mv $@.tmp $@
$(COMP_MAP_O): $(COMP_MAP_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icompliance/include $(CFLAGS) -c -o $@ $<
$(COMP_OBJS): CPPFLAGS += -Icompliance/include -Iengine/include -Ireports/include $(BASE_CPPFLAGS) $(CJSON_CFLAGS) \
    $(OPENSSL_CFLAGS)

$(COMP_LIB): $(COMP_OBJS) $(COMP_MAP_O)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The lifecycle controls: the engine's public API against a vault-mock they
# start through vault-mock/client (libvmclient.a).
COMPCTL_SRCS := $(wildcard compliance/controls/*.c)
COMPCTL_OBJS := $(COMPCTL_SRCS:%.c=$(O)/%.o)
COMPCTL_LIB := $(O)/libcompctl.a
# comp_report.c writes its JUnit XML with reports' escaping (librep.a).
COMP_PROG_LIBS := $(COMPCTL_LIB) $(COMP_LIB) $(O)/librep.a $(O)/libvmclient.a $(O)/libeng.a $(BASE_LIB)
COMP_LINK_LIBS = $(CURL_LIBS) $(CJSON_LIBS) $(IPSECMB_LIBS) $(SSL_LIBS) -lm
$(COMPCTL_OBJS) $(O)/compliance/cli/%.o $(O)/compliance/tests/%.o: CPPFLAGS += -Icompliance/include -Ireports/include \
    $(BASE_CPPFLAGS) \
    -Icompliance/controls \
    -Iengine/include -Ivault-mock/client $(CJSON_CFLAGS) $(OPENSSL_CFLAGS)

$(COMPCTL_LIB): $(COMPCTL_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/cmk-compliance: $(O)/compliance/cli/cmk_compliance.o $(COMP_PROG_LIBS) | $(BIN) $(BIN)/vault-mock
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(COMP_LINK_LIBS)
PROGRAMS += $(BIN)/cmk-compliance

# Tests: one Criterion program per compliance/tests/test_*.c; they run the
# built bin/cmk-compliance (path compiled in) and the control library.
COMP_TEST_SRCS := $(wildcard compliance/tests/test_*.c)
COMP_TEST_BINS := $(COMP_TEST_SRCS:compliance/tests/%.c=$(O)/tests/comp_%)
TEST_BINS += $(COMP_TEST_BINS)
# The vector readers' and the KAT runner's suites (test_kat_*.c) use the
# shared testlib/ and compliance/tests/testlib/.
COMP_TESTLIB_SRCS := $(wildcard compliance/tests/testlib/*.c)
COMP_TESTLIB_OBJS := $(COMP_TESTLIB_SRCS:%.c=$(O)/%.o)
$(COMP_TEST_SRCS:%.c=$(O)/%.o) $(COMP_TESTLIB_OBJS): CPPFLAGS += -DCOMP_BIN='"$(BIN)/cmk-compliance"' \
    -Icompliance/tests/testlib $(TESTLIB_CPPFLAGS)

$(O)/tests/comp_%: $(O)/compliance/tests/%.o $(COMP_TESTLIB_OBJS) $(TESTLIB_HOOK_VALGRIND) $(TESTLIB) $(COMP_PROG_LIBS) | $(BIN)/cmk-compliance $(BIN)/vault-mock
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(CRITERION_LIBS) $(COMP_LINK_LIBS)

# The OSCAL validator (ajv-cli + ajv-formats, versions pinned in compliance/oscal/package-lock.json)
# in a project-local node_modules; node and npm come from scripts/node-deps.sh.
OSCAL_AJV := compliance/oscal/node_modules/.bin/ajv
$(OSCAL_AJV): compliance/oscal/package.json compliance/oscal/package-lock.json
	scripts/node-deps.sh
	cd compliance/oscal && npm ci --no-audit --no-fund
	touch $@
oscal-deps: $(OSCAL_AJV)
# test_oscal validates documents with it. Under CI=true (.ci/run) a failed install fails the
# tests; elsewhere (a machine that cannot reach the npm registry) make test goes on and the
# schema tests say SKIPPED with the reason; make compliance always needs the validator.
test: oscal-deps-for-test
.PHONY: oscal-deps-for-test
oscal-deps-for-test:
	@$(MAKE) --no-print-directory $(OSCAL_AJV) || { \
	    if [ "$(CI)" = true ]; then echo "oscal: the validator did not install (CI)" >&2; exit 1; fi; \
	    echo "oscal: WARNING: npm could not install the OSCAL validator (ajv); the schema tests" \
	         "will be skipped (CI=true makes this an error)" >&2; }

# make compliance: the default sources, ../shared/vectors when present, every control; then
# every OSCAL document written is validated against NIST's schema: a schema failure fails the
# target (after a failed control too, so that both are reported).
COMP_SHARED_VECTORS := $(wildcard ../shared/vectors)
compliance: deps $(BIN)/cmk-compliance $(OSCAL_AJV)
	@rc=0; $(BIN)/cmk-compliance --defaults $(if $(COMP_SHARED_VECTORS),--vectors $(COMP_SHARED_VECTORS)) \
	    --controls --out reports/out || rc=$$?; \
	compliance/oscal/validate.sh reports/out/assessment-results.json || rc=$$?; \
	exit $$rc
.PHONY: oscal-deps
