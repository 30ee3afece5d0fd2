/*
 * comp_oscal.c - the compliance results as OSCAL 1.1.3 assessment results
 * (see comp_oscal.h). Built with cJSON only; checked against NIST's schema
 * by `make compliance` (ajv, compliance/oscal).
 */
#include "comp_oscal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base_codec.h"
#include "eng_cpu.h"
#include "rep_bench.h"

#define NS      "urn:cmk-harness:oscal"
#define MAX_SP  32 /* SP 800-53 ids one run can touch (23 in the subset) */
#define MAX_OBS 64 /* observations (controls + CMK-KAT-01) */

/* The 23 controls of compliance/oscal/sp800-53r5-cmk-subset.json (test_oscal checks them). */
static const struct {
    const char *id, *title;
} sp_titles[] = {
    {"ac-3", "Access Enforcement"},
    {"ac-5", "Separation of Duties"},
    {"ac-6", "Least Privilege"},
    {"au-12", "Audit Record Generation"},
    {"au-2", "Event Logging"},
    {"au-3", "Content of Audit Records"},
    {"au-9", "Protection of Audit Information"},
    {"ca-2", "Control Assessments"},
    {"ca-7", "Continuous Monitoring"},
    {"cm-6", "Configuration Settings"},
    {"cp-9", "System Backup"},
    {"cp-9.8", "Cryptographic Protection"},
    {"ia-5", "Authenticator Management"},
    {"mp-6", "Media Sanitization"},
    {"sa-11", "Developer Testing and Evaluation"},
    {"sc-12", "Cryptographic Key Establishment and Management"},
    {"sc-12.1", "Availability"},
    {"sc-13", "Cryptographic Protection"},
    {"sc-28", "Protection of Information at Rest"},
    {"sc-28.1", "Cryptographic Protection"},
    {"sc-8", "Transmission Confidentiality and Integrity"},
    {"si-6", "Security and Privacy Function Verification"},
    {"si-7", "Software, Firmware, and Information Integrity"},
};

const struct comp_sp_map *comp_sp_map_find(const char *control)
{
    for (size_t i = 0; control != NULL && i < comp_sp_map_len; i++) {
        if (strcmp(comp_sp_map[i].control, control) == 0) {
            return &comp_sp_map[i];
        }
    }
    return NULL;
}

const char *comp_sp_title(const char *id)
{
    for (size_t i = 0; id != NULL && i < sizeof(sp_titles) / sizeof(sp_titles[0]); i++) {
        if (strcmp(sp_titles[i].id, id) == 0) {
            return sp_titles[i].title;
        }
    }
    return NULL;
}

void comp_sp_label(const char *id, char *out, size_t max_out_len)
{
    if (out == NULL || max_out_len == 0) {
        return;
    }
    size_t n = 0;
    int paren = 0;
    for (const char *p = id != NULL ? id : ""; *p != '\0' && n + 2 < max_out_len; p++) {
        if (*p == '.') {
            out[n++] = '(';
            paren = 1;
        } else {
            out[n++] = (char)toupper((unsigned char)*p);
        }
    }
    if (paren && n + 1 < max_out_len) {
        out[n++] = ')';
    }
    out[n] = '\0';
}

/* ---- strings the schema accepts ---------------------------------------------------------- */

/*
 * Copies |in| into |out| with every control character (line breaks
 * included) turned into a space, runs of spaces collapsed and both ends
 * trimmed: the schema's StringDatatype is ^\S(.*\S)?$. Returns |out|, or
 * NULL when nothing is left.
 */
static const char *clean(const char *in, char *out, size_t max_out_len)
{
    size_t n = 0;
    int space = 0;
    for (const char *p = in != NULL ? in : ""; *p != '\0' && n + 1 < max_out_len; p++) {
        int ws = isspace((unsigned char)*p) || iscntrl((unsigned char)*p);
        if (ws) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < max_out_len) {
            out[n++] = ' ';
        }
        space = 0;
        out[n++] = *p;
    }
    out[n] = '\0';
    return n > 0 ? out : NULL;
}

/* Adds |name|: cleaned |value| to |obj|; nothing when it is empty. */
static void add_str(cJSON *obj, const char *name, const char *value)
{
    char buf[4096];
    const char *v = clean(value, buf, sizeof(buf));
    if (v != NULL) {
        cJSON_AddStringToObject(obj, name, v);
    }
}

/* Appends {name, ns, value} to the "props" array of |obj| (created on first use). */
static void add_prop(cJSON *obj, const char *name, const char *value)
{
    char buf[1024];
    const char *v = clean(value, buf, sizeof(buf));
    if (v == NULL) {
        return;
    }
    cJSON *props = cJSON_GetObjectItemCaseSensitive(obj, "props");
    if (props == NULL) {
        props = cJSON_AddArrayToObject(obj, "props");
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddStringToObject(p, "ns", NS);
    cJSON_AddStringToObject(p, "value", v);
    cJSON_AddItemToArray(props, p);
}

static void new_uuid(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            abort(); /* the kernel's RNG is always there on Linux >= 3.17 */
        }
    }
    base_uuid4(out, b);
}

static void add_uuid(cJSON *obj, char out[37])
{
    new_uuid(out);
    cJSON_AddStringToObject(obj, "uuid", out);
}

static void iso_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the observed controls ----------------------------------------------------------------- */

/* One observation: a control of the report, or the vectors as CMK-KAT-01. */
struct obs {
    char id[32];
    const char *title;
    enum comp_verdict verdict;
    char uuid[37];
    char risk_uuid[37]; /* "" when no risk */
};

static const char *verdict_word(enum comp_verdict v)
{
    return v == COMP_VERDICT_PASS ? "pass" : v == COMP_VERDICT_FAIL ? "fail" : "not applicable";
}

static void add_evidence_link(cJSON *arr, const char *href, const char *what)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "href", href);
    add_str(e, "description", what);
    cJSON_AddItemToArray(arr, e);
}

static cJSON *observation_common(struct obs *o, const char *title, const char *tool_uuid,
                                 const char *const *subjects, size_t num_subjects,
                                 const char *collected)
{
    cJSON *ob = cJSON_CreateObject();
    add_uuid(ob, o->uuid);
    add_str(ob, "title", title);
    cJSON *m = cJSON_AddArrayToObject(ob, "methods");
    cJSON_AddItemToArray(m, cJSON_CreateString("TEST"));
    cJSON *t = cJSON_AddArrayToObject(ob, "types");
    cJSON_AddItemToArray(t, cJSON_CreateString("control-objective"));
    cJSON *origins = cJSON_AddArrayToObject(ob, "origins");
    cJSON *origin = cJSON_CreateObject();
    cJSON *actors = cJSON_AddArrayToObject(origin, "actors");
    cJSON *actor = cJSON_CreateObject();
    cJSON_AddStringToObject(actor, "type", "tool");
    cJSON_AddStringToObject(actor, "actor-uuid", tool_uuid);
    cJSON_AddItemToArray(actors, actor);
    cJSON_AddItemToArray(origins, origin);
    cJSON *subj = cJSON_AddArrayToObject(ob, "subjects");
    for (size_t i = 0; i < num_subjects; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "subject-uuid", subjects[i]);
        cJSON_AddStringToObject(s, "type", "inventory-item");
        cJSON_AddItemToArray(subj, s);
    }
    cJSON_AddStringToObject(ob, "collected", collected);
    return ob;
}

static cJSON *control_observation(const struct comp_control *c, struct obs *o,
                                  const struct comp_oscal_run *run, const char *tool_uuid,
                                  const char *const *subjects, size_t num_subjects,
                                  const char *collected)
{
    char title[256];
    snprintf(title, sizeof(title), "%s: %s", c->id, c->title);
    cJSON *ob = observation_common(o, title, tool_uuid, subjects, num_subjects, collected);
    char desc[2048];
    snprintf(desc, sizeof(desc), "Statement tested: %s. Method: %s", c->statement, c->method);
    add_str(ob, "description", desc);
    add_prop(ob, "control-id", c->id);
    add_prop(ob, "verdict", verdict_word(c->verdict));
    add_prop(ob, "measured", c->measured);
    add_prop(ob, "reason", c->reason);
    char secs[32];
    snprintf(secs, sizeof(secs), "%.3f", c->seconds);
    add_prop(ob, "seconds", secs);
    /* every evidence item is one prop: the values a reader checks against the files */
    const char *p = c->evidence;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char item[1024];
        snprintf(item, sizeof(item), "%.*s", (int)(n < sizeof(item) ? n : sizeof(item) - 1), p);
        add_prop(ob, "evidence", item);
        p += n + (nl != NULL);
    }
    const struct comp_sp_map *m = comp_sp_map_find(c->id);
    if (m != NULL) {
        add_prop(ob, "sp800-53-rationale", m->rationale);
    }
    cJSON *ev = cJSON_AddArrayToObject(ob, "relevant-evidence");
    char what[160];
    snprintf(what, sizeof(what), "controls[] entry \"%s\" of this run's compliance.json", c->id);
    add_evidence_link(ev, "compliance.json", what);
    add_evidence_link(ev, "compliance.md", "this run's report for people (the control's section)");
    add_evidence_link(ev, "compliance-junit.xml", "this run's JUnit XML (testcase of the control)");
    if (strcmp(c->id, "CMK-PERF-01") == 0 && run->bench_json != NULL &&
        access(run->bench_json, R_OK) == 0) {
        add_evidence_link(ev, "bench.json",
                          "the benchmark results whose keys=smk/cmk cells it read");
    }
    return ob;
}

static cJSON *kat_observation(const struct comp_report *r, struct obs *o, const char *tool_uuid,
                              const char *const *subjects, size_t num_subjects,
                              const char *collected)
{
    struct comp_kat_totals t;
    comp_report_kat_totals(r, &t);
    cJSON *ob = observation_common(o, "CMK-KAT-01: Known-answer vectors on every engine path",
                                   tool_uuid, subjects, num_subjects, collected);
    add_str(ob, "description",
            "NIST CAVP AES (ECB, CBC, CTR, GCM, XTS), Project Wycheproof (AES-GCM, AES-XTS, "
            "AES-KWP, RSA-OAEP) and pyca RSA-OAEP vectors, run through every engine back end and "
            "CPU path; valid vectors must give the expected output both ways, invalid ones must "
            "be refused with the exact error.");
    add_prop(ob, "control-id", "CMK-KAT-01");
    add_prop(ob, "verdict", verdict_word(o->verdict));
    char v[160];
    snprintf(v, sizeof(v), "%lu", t.files);
    add_prop(ob, "vector-files", v);
    snprintf(v, sizeof(v), "%lu", t.passed);
    add_prop(ob, "vectors-passed", v);
    snprintf(v, sizeof(v), "%lu", t.failed);
    add_prop(ob, "vectors-failed", v);
    snprintf(v, sizeof(v), "%lu", t.skipped);
    add_prop(ob, "vectors-skipped", v);
    snprintf(v, sizeof(v), "%lu of %lu", t.key_ran, t.key_cases);
    add_prop(ob, "aes-256-cases-run", v);
    for (size_t i = 0; i < r->num_kats; i++) {
        const struct comp_kat_row *k = &r->kats[i];
        if (k->failed > 0) {
            char f[1024];
            snprintf(f, sizeof(f), "%s %s/%s: %s", k->file, k->backend, k->arch, k->detail);
            add_prop(ob, "vector-failure", f);
        }
    }
    const struct comp_sp_map *m = comp_sp_map_find("CMK-KAT-01");
    if (m != NULL) {
        add_prop(ob, "sp800-53-rationale", m->rationale);
    }
    cJSON *ev = cJSON_AddArrayToObject(ob, "relevant-evidence");
    add_evidence_link(ev, "compliance.json", "kats[]: counts per vector file, back end and path");
    add_evidence_link(ev, "compliance.md", "the known-answer vector table of this run");
    return ob;
}

static cJSON *risk_of(const struct obs *o, const char *reason, char risk_uuid[37])
{
    cJSON *rk = cJSON_CreateObject();
    add_uuid(rk, risk_uuid);
    char t[512];
    snprintf(t, sizeof(t), "%.31s %s: %.400s", o->id,
             o->verdict == COMP_VERDICT_FAIL ? "failed" : "reported a finding", o->title);
    add_str(rk, "title", t);
    char d[1600];
    snprintf(d, sizeof(d), "%s. %.1024s", t,
             reason != NULL && reason[0] ? reason : "no reason given");
    add_str(rk, "description", d);
    add_str(rk, "statement",
            o->verdict == COMP_VERDICT_FAIL
                ? "The claim this control tests does not hold on the system under test as "
                  "measured in this run; the mapped SP 800-53 objectives are not satisfied."
                : "The system does not provide what the control asks in every configuration; "
                  "see the observation's evidence.");
    cJSON_AddStringToObject(rk, "status", "open");
    cJSON *rel = cJSON_AddArrayToObject(rk, "related-observations");
    cJSON *ro = cJSON_CreateObject();
    cJSON_AddStringToObject(ro, "observation-uuid", o->uuid);
    cJSON_AddItemToArray(rel, ro);
    return rk;
}

/* Whether comma-separated |list| holds |id|. */
static int list_has(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; (p = strstr(p, id)) != NULL; p += n) {
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) {
            return 1;
        }
    }
    return 0;
}

/* ---- the SP 800-53 verdicts ----------------------------------------------------------------- */

/* The verdict of the vectors as one control (CMK-KAT-01): fail when a file failed. */
static enum comp_verdict kat_verdict(const struct comp_report *r)
{
    for (size_t k = 0; k < r->num_kats; k++) {
        if (r->kats[k].failed > 0) {
            return COMP_VERDICT_FAIL;
        }
    }
    return COMP_VERDICT_PASS;
}

size_t comp_sp_judge(const struct comp_report *r, struct comp_sp_verdict *out, size_t max)
{
    size_t n = 0;
    if (r == NULL || out == NULL) {
        return 0;
    }
    /* in catalog order, so that every run lists them the same way */
    for (size_t k = 0; k < sizeof(sp_titles) / sizeof(sp_titles[0]) && n < max; k++) {
        struct comp_sp_verdict *v = &out[n];
        memset(v, 0, sizeof(*v));
        v->id = sp_titles[k].id;
        int any = 0, failed = 0, other = 0;
        size_t by_len = 0;
        for (size_t i = 0; i <= r->num_controls; i++) {
            const char *id = i < r->num_controls ? r->controls[i].id : "CMK-KAT-01";
            if (i == r->num_controls && r->num_kats == 0) {
                break;
            }
            enum comp_verdict verdict =
                i < r->num_controls ? r->controls[i].verdict : kat_verdict(r);
            const struct comp_sp_map *m = comp_sp_map_find(id);
            if (m == NULL || !list_has(m->sp_ids, v->id)) {
                continue;
            }
            any = 1;
            failed |= verdict == COMP_VERDICT_FAIL;
            other |= verdict == COMP_VERDICT_NOT_APPLICABLE;
            int w = snprintf(v->by + by_len, sizeof(v->by) - by_len, "%s%s %s", by_len ? ", " : "",
                             id, verdict_word(verdict));
            by_len += w > 0 && (size_t)w < sizeof(v->by) - by_len ? (size_t)w : 0;
        }
        if (!any) {
            continue;
        }
        v->satisfied = !failed && !other;
        v->reason = v->satisfied ? "pass" : failed ? "fail" : "other";
        n++;
    }
    return n;
}

/* ---- system under test ----------------------------------------------------------------------- */

static void cpu_model(char *out, size_t max)
{
    snprintf(out, max, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *c = strchr(line, ':');
            if (c != NULL) {
                snprintf(out, max, "%s", c + 1);
            }
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

static cJSON *component(const char *type, const char *title, const char *desc, char uuid[37])
{
    cJSON *c = cJSON_CreateObject();
    add_uuid(c, uuid);
    cJSON_AddStringToObject(c, "type", type);
    add_str(c, "title", title);
    add_str(c, "description", desc);
    cJSON *st = cJSON_AddObjectToObject(c, "status");
    cJSON_AddStringToObject(st, "state", "operational");
    return c;
}

static cJSON *inventory_item(const char *desc, const char *component_uuid, char uuid[37])
{
    cJSON *it = cJSON_CreateObject();
    add_uuid(it, uuid);
    add_str(it, "description", desc);
    if (component_uuid != NULL) {
        cJSON *ic = cJSON_AddArrayToObject(it, "implemented-components");
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "component-uuid", component_uuid);
        cJSON_AddItemToArray(ic, c);
    }
    return it;
}

/* ---- the document ------------------------------------------------------------------------------
 */

cJSON *comp_oscal_json(const struct comp_report *r, const struct comp_oscal_run *run)
{
    static const struct comp_oscal_run none = {0};
    if (r == NULL) {
        return NULL;
    }
    run = run != NULL ? run : &none;
    time_t end = run->end ? run->end : time(NULL);
    time_t start = run->start ? run->start : end;
    char t_start[32], t_end[32], uuid[37];
    iso_time(start, t_start);
    iso_time(end, t_end);

    cJSON *root = cJSON_CreateObject();
    cJSON *ar = cJSON_AddObjectToObject(root, "assessment-results");
    add_uuid(ar, uuid);
    cJSON *md = cJSON_AddObjectToObject(ar, "metadata");
    cJSON_AddStringToObject(md, "title",
                            "cmk-harness: customer-managed key controls, assessment results");
    cJSON_AddStringToObject(md, "last-modified", t_end);
    cJSON_AddStringToObject(md, "version", t_end);
    cJSON_AddStringToObject(md, "oscal-version", "1.1.3");
    add_str(md, "remarks",
            "Written by bin/cmk-compliance. Controls are mapped to NIST SP 800-53 rev 5 in "
            "compliance/sp800-53-map.tsv; the objectives are those of the SP 800-53 rev 5 "
            "catalog (5.1.1+u4).");
    cJSON *ap = cJSON_AddObjectToObject(ar, "import-ap");
    cJSON_AddStringToObject(ap, "href", "compliance.md");
    add_str(ap, "remarks",
            "There is no separate OSCAL assessment plan: the plan is the control catalogue "
            "(statement, method) that each observation quotes, also in compliance.md.");

    cJSON *results = cJSON_AddArrayToObject(ar, "results");
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToArray(results, res);
    add_uuid(res, uuid);
    cJSON_AddStringToObject(res, "title", "cmk-harness compliance run");
    add_str(res, "description",
            "One run of bin/cmk-compliance: known-answer vectors through every engine path and "
            "the key-lifecycle controls against vault-mock instances the suite starts itself.");
    cJSON_AddStringToObject(res, "start", t_start);
    cJSON_AddStringToObject(res, "end", t_end);

    /* components and inventory */
    char tool[37], eng_c[37], vault_c[37], inv_eng[37], inv_vault[37], inv_cpu[37];
    cJSON *ld = cJSON_AddObjectToObject(res, "local-definitions");
    cJSON *comps = cJSON_AddArrayToObject(ld, "components");
    cJSON_AddItemToArray(comps, component("software", "cmk-harness compliance suite",
                                          "bin/cmk-compliance: the known-answer runner and the "
                                          "key-lifecycle controls (the assessment tool)",
                                          tool));
    cJSON_AddItemToArray(comps, component("software", "cmk-harness encryption engine",
                                          "libeng: AES-256 XTS/GCM/CTR/CBC under a DEK/KEK "
                                          "envelope, KEKs in an Azure Key Vault compatible vault",
                                          eng_c));
    cJSON_AddItemToArray(
        comps, component("service", "key vault", "Azure Key Vault keys REST API (the KEK holder)",
                         vault_c));
    cJSON *inv = cJSON_AddArrayToObject(ld, "inventory-items");
    char flags[512], model[256], d[1024];
    eng_cpu_flags_string(flags, sizeof(flags));
    cpu_model(model, sizeof(model));
    cJSON *ie = inventory_item("engine build under test (libeng.a linked into bin/cmk-compliance)",
                               eng_c, inv_eng);
    add_prop(ie, "cpu-paths", flags);
#ifdef __VERSION__
    add_prop(ie, "compiler", "gcc " __VERSION__);
#endif
    add_prop(ie, "built", __DATE__ " " __TIME__);
    cJSON_AddItemToArray(inv, ie);
    snprintf(d, sizeof(d), "key vault the controls ran against: %s",
             run->vault != NULL ? run->vault : "none (vectors only)");
    cJSON *iv = inventory_item(d, vault_c, inv_vault);
    add_prop(iv, "vault", run->vault != NULL ? run->vault : "none");
    cJSON_AddItemToArray(inv, iv);
    cJSON *ic = inventory_item("the machine's CPU", NULL, inv_cpu);
    add_prop(ic, "cpu-model", model);
    add_prop(ic, "cpu-flags", flags);
    char cores[16];
    snprintf(cores, sizeof(cores), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    add_prop(ic, "cores", cores);
    cJSON_AddItemToArray(inv, ic);
    const char *subjects[] = {inv_eng, inv_vault, inv_cpu};

    /* observations and the SP 800-53 ids they touch */
    struct obs obs[MAX_OBS];
    size_t num_obs = 0;
    cJSON *obs_arr = cJSON_CreateArray();
    cJSON *risks = cJSON_CreateArray();
    for (size_t i = 0; i <= r->num_controls && num_obs < MAX_OBS; i++) {
        struct obs *o = &obs[num_obs];
        memset(o, 0, sizeof(*o));
        const struct comp_control *c = i < r->num_controls ? &r->controls[i] : NULL;
        if (c == NULL && r->num_kats == 0) {
            break;
        }
        snprintf(o->id, sizeof(o->id), "%s", c != NULL ? c->id : "CMK-KAT-01");
        o->title = c != NULL ? c->title : "Known-answer vectors";
        if (c != NULL) {
            o->verdict = c->verdict;
        } else {
            o->verdict = COMP_VERDICT_PASS;
            for (size_t k = 0; k < r->num_kats; k++) {
                o->verdict = r->kats[k].failed > 0 ? COMP_VERDICT_FAIL : o->verdict;
            }
        }
        cJSON *ob = c != NULL ? control_observation(c, o, run, tool, subjects, 3, t_end)
                              : kat_observation(r, o, tool, subjects, 3, t_end);
        cJSON_AddItemToArray(obs_arr, ob);
        if (o->verdict != COMP_VERDICT_PASS) {
            const char *why = c != NULL ? c->reason : "a vector file failed: see vector-failure";
            cJSON_AddItemToArray(risks, risk_of(o, why, o->risk_uuid));
        }
        num_obs++;
    }
    struct comp_sp_verdict *sp = calloc(MAX_SP, sizeof(*sp));
    size_t num_sp = sp != NULL ? comp_sp_judge(r, sp, MAX_SP) : 0;

    /* reviewed-controls: the SP 800-53 controls covered */
    cJSON *rc = cJSON_AddObjectToObject(res, "reviewed-controls");
    add_str(rc, "description",
            "The NIST SP 800-53 rev 5 controls that this run's controls map to "
            "(compliance/sp800-53-map.tsv).");
    cJSON *sel = cJSON_AddArrayToObject(rc, "control-selections");
    cJSON *s0 = cJSON_CreateObject();
    cJSON_AddItemToArray(sel, s0);
    if (num_sp > 0) {
        cJSON *inc = cJSON_AddArrayToObject(s0, "include-controls");
        for (size_t k = 0; k < num_sp; k++) {
            cJSON *one = cJSON_CreateObject();
            cJSON_AddStringToObject(one, "control-id", sp[k].id);
            cJSON_AddItemToArray(inc, one);
        }
    } else {
        add_str(s0, "description", "none: no control of this run maps to SP 800-53");
    }

    if (num_obs > 0) {
        cJSON_AddItemToObject(res, "observations", obs_arr);
    } else {
        cJSON_Delete(obs_arr);
    }
    if (cJSON_GetArraySize(risks) > 0) {
        cJSON_AddItemToObject(res, "risks", risks);
    } else {
        cJSON_Delete(risks);
    }

    /* one finding per SP 800-53 objective */
    cJSON *findings = cJSON_CreateArray();
    for (size_t k = 0; k < num_sp; k++) {
        const struct comp_sp_verdict *v = &sp[k];
        char label[32], title[256], target[48];
        comp_sp_label(v->id, label, sizeof(label));
        snprintf(title, sizeof(title), "%s %s", label, comp_sp_title(v->id));
        snprintf(target, sizeof(target), "%s_obj", v->id);
        cJSON *f = cJSON_CreateObject();
        add_uuid(f, uuid);
        add_str(f, "title", title);
        cJSON *rel_obs = cJSON_CreateArray();
        cJSON *rel_risks = cJSON_CreateArray();
        for (size_t i = 0; i < num_obs; i++) {
            const struct comp_sp_map *m = comp_sp_map_find(obs[i].id);
            if (m == NULL || !list_has(m->sp_ids, v->id)) {
                continue;
            }
            cJSON *ro = cJSON_CreateObject();
            cJSON_AddStringToObject(ro, "observation-uuid", obs[i].uuid);
            cJSON_AddItemToArray(rel_obs, ro);
            if (obs[i].risk_uuid[0] != '\0') {
                cJSON *rr = cJSON_CreateObject();
                cJSON_AddStringToObject(rr, "risk-uuid", obs[i].risk_uuid);
                cJSON_AddItemToArray(rel_risks, rr);
            }
        }
        char desc[1400];
        snprintf(desc, sizeof(desc),
                 "Objective %s of %s, judged from the controls mapped to it: %s.", target, label,
                 v->by);
        add_str(f, "description", desc);
        cJSON *tg = cJSON_AddObjectToObject(f, "target");
        cJSON_AddStringToObject(tg, "type", "objective-id");
        cJSON_AddStringToObject(tg, "target-id", target);
        cJSON *st = cJSON_AddObjectToObject(tg, "status");
        cJSON_AddStringToObject(st, "state", v->satisfied ? "satisfied" : "not-satisfied");
        cJSON_AddStringToObject(st, "reason", v->reason);
        if (!v->satisfied) {
            add_str(st, "remarks",
                    strcmp(v->reason, "fail") == 0
                        ? "A mapped control failed: see the related risks."
                        : "A mapped control reported a finding or could not decide (not "
                          "applicable): see the related risks.");
        }
        cJSON_AddItemToObject(f, "related-observations", rel_obs);
        if (cJSON_GetArraySize(rel_risks) > 0) {
            cJSON_AddItemToObject(f, "related-risks", rel_risks);
        } else {
            cJSON_Delete(rel_risks);
        }
        cJSON_AddItemToArray(findings, f);
    }
    if (num_sp > 0) {
        cJSON_AddItemToObject(res, "findings", findings);
    } else {
        cJSON_Delete(findings);
    }
    free(sp);
    return root;
}

int comp_oscal_write(const struct comp_report *r, const struct comp_oscal_run *run,
                     const char *path)
{
    cJSON *root = comp_oscal_json(r, run);
    if (root == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return rep_json_save(path, root); /* deletes root */
}
