/*
 * ops.h - the operations the vault serves, as named in audit lines, fault
 * rules and statistics.
 */
#ifndef VMOCK_OPS_H
#define VMOCK_OPS_H

enum vmock_op {
    VMOCK_OP_CREATE = 0,
    VMOCK_OP_IMPORT,
    VMOCK_OP_GET,
    VMOCK_OP_UPDATE,
    VMOCK_OP_LIST,
    VMOCK_OP_LIST_VERSIONS,
    VMOCK_OP_DELETE,
    VMOCK_OP_GET_DELETED,
    VMOCK_OP_LIST_DELETED,
    VMOCK_OP_RECOVER,
    VMOCK_OP_PURGE,
    VMOCK_OP_ROTATE,
    VMOCK_OP_ENCRYPT,
    VMOCK_OP_DECRYPT,
    VMOCK_OP_WRAP,
    VMOCK_OP_UNWRAP,
    VMOCK_OP_SIGN,
    VMOCK_OP_VERIFY,
    VMOCK_OP_ADMIN,
    VMOCK_OP_UNKNOWN, /* no route matched, or rejected before routing */
    VMOCK_OP_COUNT,
};

/* vmock_op_name returns the lower-case name ("unwrapkey", "listversions", ...); never NULL. */
const char *vmock_op_name(enum vmock_op op);
/* vmock_op_parse maps a name back (case-insensitive); returns -1 when unknown. */
int vmock_op_parse(const char *name);
/* vmock_op_is_crypto is 1 for encrypt, decrypt, wrapkey, unwrapkey, sign, verify. */
int vmock_op_is_crypto(enum vmock_op op);

#endif /* VMOCK_OPS_H */
