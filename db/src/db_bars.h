/*
 * db_bars.h - the bars of issue 15 on the database bench, one list for both
 * places that judge them: cmk-db-stats (make db-bench, db/src/db_stats.c)
 * and cmk-bench's database kind (benchmarks/src/kind_db.c).
 *
 * X(NAME, PREFIX, NUM, DEN, MIN): the bar NAME covers every workload whose
 * name starts with PREFIX; it passes when the median of the per-round
 * ratios target NUM / target DEN reaches MIN. "cmk-fs" against gocryptfs is
 * cmk-fs under SMK.
 *
 * db_skip_reason reads bench.sh's config.skipped (objects {"target",
 * "reason"}: what target.sh check said) for both as well.
 */
#ifndef DB_BARS_H
#define DB_BARS_H

#include <cjson/cJSON.h>
#include <string.h>

#define DB_BARS(X)                                                                             \
    X("pgbench TPS CMK/SMK", "pg-", "cmkfs-cmk", "cmkfs-smk", 0.98)                            \
    X("cmk-fs SMK/passthrough, pgbench", "pg-", "cmkfs-smk", "cmkfs-pass", 0.95)               \
    X("cmk-fs SMK/passthrough, fio sequential", "fio-seq", "cmkfs-smk", "cmkfs-pass", 0.90)    \
    X("cmk-fs/gocryptfs, pgbench TPS", "pg-", "cmkfs-smk", "gocryptfs", 1.0)                   \
    X("cmk-fs/gocryptfs, fio random 8 KiB", "fio-rand", "cmkfs-smk", "gocryptfs", 2.0)         \
    X("cmk-fs/gocryptfs, fio sequential write", "fio-seqwrite", "cmkfs-smk", "gocryptfs", 1.5) \
    X("cmk-fs/gocryptfs, not slower on any fio", "fio-", "cmkfs-smk", "gocryptfs", 1.0)

/* The reason config.skipped (|skipped|) gives for |target|, or NULL when it has none. */
static inline const char *db_skip_reason(const cJSON *skipped, const char *target)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, skipped)
    {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "target"));
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
        if (t != NULL && r != NULL && strcmp(t, target) == 0) {
            return r;
        }
    }
    return NULL;
}

#endif
