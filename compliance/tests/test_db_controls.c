/*
 * test_db_controls.c - the database controls (comp_ctl_db.c, scripts/db/prove.sh) can fail and
 * can skip, and say why: DB-COV against cmk-fs in plaintext passthrough finds the canary in the
 * backing folder and fails; DB-DEL with a mount that revalidates every 600 s (the control's
 * bound stays 2 s + 2 s) sees no failed write within 24 s of the delete and fails; without
 * PostgreSQL (PGBIN pointing nowhere) a control is not applicable with "skipped: ...", never a
 * pass; DB-BAK against passthrough finds the canary in its backup, which also mounts with no
 * key at all; and the glue passes a control only on exit 0 with a pass line and no failure (a
 * stand-in script, for each of the four). Their passing runs are make compliance's (they are
 * measurements). Tests that need a machine where prove.sh can run (root, PostgreSQL 15, FUSE,
 * bin/cmk-fs) skip with the reason.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comp_controls.h"

#define PROVE_SH "scripts/db/prove.sh"

TestSuite(db_controls, .timeout = 600);

/* Runs the one control |id| and returns a copy of its result. */
static struct comp_control run_one(const char *id)
{
    struct comp_report rep = {0};
    struct comp_controls_options o = {.only = id};
    cr_assert_eq(comp_controls_run(&o, &rep), 0);
    cr_assert_eq(rep.num_controls, 1);
    struct comp_control c = rep.controls[0];
    comp_report_cleanup(&rep);
    cr_assert_str_eq(c.id, id);
    return c;
}

/* Skips the test unless prove.sh can run its controls here (its own check). */
static void need_prove(void)
{
    char reason[512] = "";
    FILE *p = popen(PROVE_SH " check", "r");
    cr_assert_not_null(p);
    while (fgets(reason, sizeof(reason), p) != NULL && strncmp(reason, "skip: ", 6) != 0) {
    }
    int st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        reason[strcspn(reason, "\n")] = '\0';
        cr_skip_test("%s", reason);
    }
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "prove.sh check: status %d", st);
}

Test(db_controls, no_postgresql_is_skipped_not_passed)
{
    cr_assert_eq(setenv("PGBIN", "/nonexistent-pgbin", 1), 0);
    struct comp_control c = run_one("DB-COV");
    cr_assert_eq(c.verdict, COMP_VERDICT_NOT_APPLICABLE, "%s", c.reason);
    cr_assert_eq(strncmp(c.reason, "skipped: ", 9), 0, "%s", c.reason);
    if (geteuid() == 0) {
        cr_assert_str_eq(c.reason,
                         "skipped: PostgreSQL 15 not installed (/nonexistent-pgbin/initdb "
                         "missing; scripts/deps.sh installs postgresql-15)");
    }
}

/* Runs |id| for real with |env|=|value| (prove.sh must be able to run here): it must fail, with
 * |want| in its reason. */
static struct comp_control run_failing(const char *id, const char *env, const char *value,
                                       const char *want)
{
    need_prove();
    cr_assert_eq(setenv(env, value, 1), 0);
    struct comp_control c = run_one(id);
    cr_assert_eq(c.verdict, COMP_VERDICT_FAIL, "%s | %s", c.reason, c.evidence);
    cr_assert_not_null(strstr(c.reason, want), "%s", c.reason);
    /* Judged (prove.sh exit 1 after its FAIL lines), not died on the way ("... exited 127: "). */
    cr_assert_null(strstr(c.reason, " exited "), "prove.sh died instead of judging: %s | %s",
                   c.reason, c.evidence);
    return c;
}

Test(db_controls, coverage_fails_on_a_plaintext_target)
{
    struct comp_control c =
        run_failing("DB-COV", "PROVE_TARGET", "cmkfs-pass",
                    " canary hits in the backing folder (cmkfs-pass): plaintext at rest (");
    /* The positive control still found it through the mount: the failure is the backing's. */
    cr_assert_null(strstr(c.reason, "positive control"), "%s", c.reason);
    cr_assert_not_null(strstr(c.measured, "backing "), "%s", c.measured);
    cr_assert_null(strstr(c.measured, "backing 0 canary hits"), "%s", c.measured);
}

Test(db_controls, delete_fails_when_the_mount_revalidates_too_late)
{
    struct comp_control c = run_failing(
        "DB-DEL", "PROVE_FS_REVAL_S", "600",
        "delete: no failed write within 24 s of the delete (bound 4 s = revalidation 2 s + 2 s)");
    /* Nothing was lost meanwhile, and the disable step did not run after the failure. */
    cr_assert_not_null(strstr(c.evidence, "missing 0"), "%s", c.evidence);
    cr_assert_not_null(strstr(c.evidence, "disable: not run (the delete step failed)"), "%s",
                       c.evidence);
}

Test(db_controls, backup_fails_on_a_plaintext_target)
{
    struct comp_control c =
        run_failing("DB-BAK", "PROVE_TARGET", "cmkfs-pass", " canary hits in the backup");
    /* And a backup without a key restores without one: nothing to purge. */
    cr_assert_not_null(
        strstr(c.reason,
               "mounting the backup after the purge: exit 0, expected 3 (key inaccessible)"),
        "%s", c.reason);
}

/*
 * The glue (comp_ctl_db.c) judges only what the script says and how it exits: a stand-in script
 * (CMK_PROVE_SH) prints |body| and exits |rc|. Returns the control's result.
 */
static struct comp_control run_fake(const char *id, const char *body, int rc)
{
    char path[] = "/tmp/db-prove-fake.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    dprintf(fd, "#!/bin/sh\ncat <<'EOF'\n%s\nEOF\necho 'stand-in stderr' >&2\nexit %d\n", body, rc);
    close(fd);
    cr_assert_eq(chmod(path, 0700), 0);
    cr_assert_eq(setenv("CMK_PROVE_SH", path, 1), 0);
    struct comp_control c = run_one(id);
    unlink(path);
    return c;
}

Test(db_controls, glue_passes_only_on_exit_0_with_a_pass_line)
{
    static const char *const ids[] = {"DB-DEL", "DB-COV", "DB-BAK", "DB-CRASH"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct comp_control c = run_fake(ids[i], "root=/x\nev: seen\nmeasured: 1 s\npass: fine", 0);
        cr_assert_eq(c.verdict, COMP_VERDICT_PASS, "%s: %s", ids[i], c.reason);
        cr_assert_str_eq(c.reason, "fine");
        cr_assert_str_eq(c.measured, "1 s");
        cr_assert_not_null(strstr(c.evidence, "seen"), "%s", c.evidence);
        cr_assert_null(strstr(c.evidence, "root="), "%s", c.evidence);

        c = run_fake(ids[i], "ev: seen", 0); /* no pass line */
        cr_assert_eq(c.verdict, COMP_VERDICT_FAIL, "%s: %s", ids[i], c.reason);
        cr_assert_not_null(strstr(c.reason, " exited 0: stand-in stderr"), "%s", c.reason);

        c = run_fake(ids[i], "pass: fine", 1); /* a pass line, but a failing exit */
        cr_assert_eq(c.verdict, COMP_VERDICT_FAIL, "%s: %s", ids[i], c.reason);
        cr_assert_not_null(strstr(c.reason, " exited 1: stand-in stderr"), "%s", c.reason);

        c = run_fake(ids[i], "fail: 3 canary hits\npass: fine", 0); /* a failure wins */
        cr_assert_eq(c.verdict, COMP_VERDICT_FAIL, "%s: %s", ids[i], c.reason);
        cr_assert_not_null(strstr(c.reason, "3 canary hits"), "%s", c.reason);

        c = run_fake(ids[i], "skip: no PostgreSQL here", 77);
        cr_assert_eq(c.verdict, COMP_VERDICT_NOT_APPLICABLE, "%s: %s", ids[i], c.reason);
        cr_assert_str_eq(c.reason, "skipped: no PostgreSQL here");

        c = run_fake(ids[i], "ev: seen", 77); /* 77 without a reason is no skip */
        cr_assert_eq(c.verdict, COMP_VERDICT_FAIL, "%s: %s", ids[i], c.reason);
        cr_assert_not_null(strstr(c.reason, " exited 77: stand-in stderr"), "%s", c.reason);
    }
}

/* DB-BAK's "FINDING: " evidence line (pg_basebackup is plaintext) reaches the summary's findings;
 * the marker counts only at the start of a line. */
Test(db_controls, evidence_findings_reach_the_summary)
{
    struct comp_report rep = {0};
    struct comp_control c = {.verdict = COMP_VERDICT_PASS};
    snprintf(c.id, sizeof(c.id), "DB-BAK");
    snprintf(c.evidence, sizeof(c.evidence),
             "backup: 0 hits\nFINDING: pg_basebackup is plaintext\nnot a FINDING: mid-line");
    cr_assert_eq(comp_report_add_control(&rep, &c), 0);
    cJSON *s = comp_summary_json(&rep);
    cr_assert_not_null(s);
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(s, "findings");
    int found = 0, mid = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fi)
    {
        found += strcmp(f->valuestring, "DB-BAK: pg_basebackup is plaintext") == 0;
        mid += strstr(f->valuestring, "mid-line") != NULL;
    }
    cr_assert_eq(found, 1);
    cr_assert_eq(mid, 0);
    cJSON_Delete(s);
    comp_report_cleanup(&rep);
}
