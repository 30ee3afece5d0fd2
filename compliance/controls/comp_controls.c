#include "comp_controls.h"
static const char *const ids[] = {NULL};
const char *const *comp_controls_ids(void) { return ids; }
int comp_controls_run(const struct comp_controls_options *o, struct comp_report *rep) { (void)o; (void)rep; return 0; }
