/*
 * cmk-report - index.html and report.md with plots from the result files
 * (see rep_report.h and --help).
 */
#include <stdio.h>

#include "rep_report.h"

int main(int argc, char **argv)
{
    return rep_report_main(argc, argv, stdout, stderr);
}
