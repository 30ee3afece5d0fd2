/*
 * anchor_env.c - every engine test program keeps the stores' freshness
 * anchors (see eng_store.h) in a folder of its own, made before the first
 * test and removed after the last, so that tests never write to
 * ~/.cmk/anchors and programs running at once never share anchors.
 * CMK_ANCHOR_DIR set by the caller is kept as it is. The test workers and
 * every cmk they start inherit the variable.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>

#include "tl_files.h"

static char anchor_root[256];

/* (A hook's symbols are named after its line: keep these off valgrind_timeouts.c's lines.) */

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    const char *given = getenv("CMK_ANCHOR_DIR");
    if (given != NULL && given[0] != '\0') {
        return;
    }
    tl_tmpdir(anchor_root, sizeof(anchor_root));
    setenv("CMK_ANCHOR_DIR", anchor_root, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (anchor_root[0] != '\0') {
        tl_rmtree(anchor_root);
    }
}
