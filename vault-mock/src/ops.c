/*
 * ops.c - operation names.
 */
#include "ops.h"

#include <strings.h>

static const char *const op_names[VMOCK_OP_COUNT] = {
    [VMOCK_OP_CREATE] = "create",
    [VMOCK_OP_IMPORT] = "import",
    [VMOCK_OP_GET] = "get",
    [VMOCK_OP_UPDATE] = "update",
    [VMOCK_OP_LIST] = "list",
    [VMOCK_OP_LIST_VERSIONS] = "listversions",
    [VMOCK_OP_DELETE] = "delete",
    [VMOCK_OP_GET_DELETED] = "getdeleted",
    [VMOCK_OP_LIST_DELETED] = "listdeleted",
    [VMOCK_OP_RECOVER] = "recover",
    [VMOCK_OP_PURGE] = "purge",
    [VMOCK_OP_ROTATE] = "rotate",
    [VMOCK_OP_ENCRYPT] = "encrypt",
    [VMOCK_OP_DECRYPT] = "decrypt",
    [VMOCK_OP_WRAP] = "wrapkey",
    [VMOCK_OP_UNWRAP] = "unwrapkey",
    [VMOCK_OP_SIGN] = "sign",
    [VMOCK_OP_VERIFY] = "verify",
    [VMOCK_OP_ADMIN] = "admin",
    [VMOCK_OP_UNKNOWN] = "unknown",
};

const char *vmock_op_name(enum vmock_op op)
{
    if ((int)op < 0 || op >= VMOCK_OP_COUNT) {
        return "unknown";
    }
    return op_names[op];
}

int vmock_op_parse(const char *name)
{
    for (int i = 0; i < VMOCK_OP_COUNT; i++) {
        if (strcasecmp(name, op_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int vmock_op_is_crypto(enum vmock_op op)
{
    return op >= VMOCK_OP_ENCRYPT && op <= VMOCK_OP_VERIFY;
}
