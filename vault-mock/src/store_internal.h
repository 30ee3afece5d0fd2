/*
 * store_internal.h - what store.c lends state.c for loading the state file.
 */
#ifndef VMOCK_STORE_INTERNAL_H
#define VMOCK_STORE_INTERNAL_H

#include "store.h"

/* vmock_store_key_get_or_add returns key |name|, creating an empty entry if needed; NULL on no
 * memory. */
struct vmock_key *vmock_store_key_get_or_add(struct vmock_store *st, const char *name);
/* vmock_store_key_append appends an already sealed version. Returns 0 or -1. */
int vmock_store_key_append(struct vmock_key *key, struct vmock_kver *kv);

#endif /* VMOCK_STORE_INTERNAL_H */
