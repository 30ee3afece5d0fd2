/*
 * rep_report.h - the report generator (bin/cmk-report, make report).
 *
 * Reads bench.json, compliance.json and gate.json from a results folder
 * (each may be absent: the report then says what is missing) and writes one
 * self-contained index.html (styles inline, plots inline as SVG) and a
 * report.md with the same content for review (plots referenced as files in
 * plots/). Plots are drawn by gnuplot (SVG terminal).
 */
#ifndef REP_REPORT_H
#define REP_REPORT_H

#include <stdio.h>

#include "base_err.h"

#define REP_COMPLIANCE_SCHEMA_VERSION 1

/* Section headings, in order (tests look for each of them). */
#define REP_H_SUMMARY    "Summary"
#define REP_H_ENV        "Environment"
#define REP_H_THROUGHPUT "Throughput against data unit size"
#define REP_H_RATIOS     "Engine against raw library"
#define REP_H_CMK        "CMK against SMK"
#define REP_H_THREADS    "Thread scaling"
#define REP_H_VAULT      "Vault latency"
#define REP_H_ROTATION   "Rotation cost"
#define REP_H_DB         "Database on the filesystem targets"
#define REP_H_CONTROLS   "Compliance controls"
#define REP_H_KATS       "Known-answer tests"
#define REP_H_GATE       "Regression gate"
#define REP_NOT_MEASURED "not measured yet"

struct rep_report_opts {
    const char *bench_path;      /* bench.json (may not exist) */
    const char *compliance_path; /* compliance.json (may not exist) */
    const char *gate_path;       /* gate.json (may not exist) */
    const char *out_dir;         /* index.html, report.md, plots/ */
    int plots;                   /* 0: no gnuplot (tables only) */
};

/*
 * rep_report_write makes the report. Returns 0, or -1 with |err| set (naming
 * the file, and cJSON's error position for malformed JSON) when an input is
 * malformed or not of the expected schema, or an output cannot be written.
 * Missing inputs are not errors. Warnings (a plot gnuplot could not draw)
 * go to |warn| when it is not NULL.
 */
int rep_report_write(const struct rep_report_opts *o, struct base_err *e, FILE *warn);

/*
 * rep_report_main is the whole cmk-report program with its streams passed in.
 * Returns the exit code: 0 written, 1 malformed input or write error, 2 usage.
 */
int rep_report_main(int argc, char **argv, FILE *out, FILE *err);

#endif
