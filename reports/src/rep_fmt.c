/*
 * rep_fmt.c - the number formats of the report's tables (rr_fmt, rr_fmt_ci;
 * declared in rep_report_int.h). A leaf: the driver (rep_report.c) and the
 * sections (rep_sec_*.c) call it, and it calls none of them.
 */
#include <math.h>
#include <stdio.h>

#include "rep_report_int.h"

void rr_fmt(char *out, size_t out_len, enum rr_nstyle st, double v)
{
    if (isnan(v)) {
        snprintf(out, out_len, "-");
        return;
    }
    switch (st) {
        case RR_F0:
            snprintf(out, out_len, "%.0f", v);
            break;
        case RR_F2:
            snprintf(out, out_len, "%.2f", v);
            break;
        case RR_F3:
            snprintf(out, out_len, "%.3f", v);
            break;
        case RR_G3:
            snprintf(out, out_len, "%.3g", v);
            break;
        case RR_G4:
            snprintf(out, out_len, "%.4g", v);
            break;
        case RR_PCT:
        default:
            snprintf(out, out_len, "%+.1f%%", v * 100);
            break;
    }
}

void rr_fmt_ci(char *out, size_t out_len, enum rr_nstyle st, double lo, double hi)
{
    char a[40], b[40];
    if (isnan(lo) || isnan(hi)) {
        snprintf(out, out_len, "-");
        return;
    }
    rr_fmt(a, sizeof(a), st, lo);
    rr_fmt(b, sizeof(b), st, hi);
    snprintf(out, out_len, "[%s, %s]", a, b);
}
