# compliance/gen-sp-map.awk - compliance/sp800-53-map.tsv -> the C table of comp_oscal.h.
# Fails (exit 1) on a row without exactly three tab-separated columns.
BEGIN {
    FS = "\t"
    print "/* Generated from compliance/sp800-53-map.tsv by compliance/gen-sp-map.awk: do not edit. */"
    print "#include \"comp_oscal.h\""
    print ""
    print "const struct comp_sp_map comp_sp_map[] = {"
    n = 0
}
/^#/ || /^[ \t]*$/ { next }
{
    if (NF != 3 || $1 == "" || $2 == "" || $3 == "") {
        printf "sp800-53-map.tsv line %d: want 3 tab-separated columns, got %d\n", NR, NF > "/dev/stderr"
        bad = 1
        exit 1
    }
    for (i = 1; i <= 3; i++) {
        gsub(/\\/, "\\\\", $i)
        gsub(/"/, "\\\"", $i)
    }
    printf "    {\"%s\", \"%s\", \"%s\"},\n", $1, $2, $3
    n++
}
END {
    if (bad) {
        exit 1
    }
    print "};"
    printf "const size_t comp_sp_map_len = %d;\n", n
}
