/*
 * rep_junit.c - the shared parts of the JUnit XML writers (see rep_junit.h).
 */
#include "rep_junit.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "rep_bench.h"

void rep_junit_suite_open(FILE *f, int indent, const struct rep_junit_suite *s)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
        snprintf(host, sizeof(host), "localhost");
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "%*s<testsuite name=\"", indent, "");
    rep_fput_xml(f, s->name);
    fputs("\" package=\"", f);
    rep_fput_xml(f, s->package);
    fprintf(f, "\" id=\"%d\" timestamp=\"%s\" hostname=\"", s->id, stamp);
    rep_fput_xml(f, host);
    fprintf(f, "\" tests=\"%lu\" failures=\"%lu\" errors=\"%lu\" skipped=\"%lu\" time=\"%.3f\">\n",
            s->tests, s->failures, s->errors, s->skipped, s->time >= 0 ? s->time : 0.0);
}

void rep_junit_suite_close(FILE *f, int indent, const char *out)
{
    fprintf(f, "%*s<system-out>", indent + 2, "");
    if (out != NULL) {
        rep_fput_xml(f, out);
    }
    fprintf(f, "</system-out>\n%*s<system-err/>\n%*s</testsuite>\n", indent + 2, "", indent, "");
}
