/* kat_log.c - see kat_log.h. */
#include "kat_log.h"

void tl_log_result(const char *label, const char *what, const struct tl_path *p,
                   const struct comp_kat_result *r)
{
    char path[64];
    char line[768];
    comp_kat_summary(r, line, sizeof(line));
    tl_note("%s [%s] %s: %s", label, what, tl_path_name(p, path, sizeof(path)), line);
}
