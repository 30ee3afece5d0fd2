/*
 * cmk-gate - the statistical regression gate (see rep_gate.h and --help).
 */
#include <stdio.h>

#include "rep_gate.h"

int main(int argc, char **argv)
{
    return rep_gate_main(argc, argv, stdout, stderr);
}
