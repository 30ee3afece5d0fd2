/*
 * test_err.c - base_err: set, sys errno, prefix, categories, names, exit codes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base_err.h"

static int fails(struct base_err *e)
{
    return BASE_FAIL(e, BASE_ERR_ARG, "bad value %d for %s", 7, "--runs");
}

Test(err, set_fills_code_message_and_where)
{
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(fails(&e), -1);
    cr_assert_eq(e.code, BASE_ERR_ARG);
    cr_assert_eq(e.sys_errno, 0);
    cr_assert_str_eq(e.msg, "bad value 7 for --runs");
    cr_assert_neq(strstr(e.where, "test_err.c:"), NULL, "where = %s", e.where);
}

Test(err, null_record_is_allowed)
{
    cr_assert_eq(fails(NULL), -1);
    cr_assert_eq(base_err_set_sys(NULL, BASE_ERR_IO, EIO, "x", "y"), -1);
    cr_assert_eq(base_err_prefix(NULL, "ctx"), -1);
    base_err_clear(NULL);
}

Test(err, null_format_uses_the_table_message)
{
    struct base_err e = BASE_ERR_INIT;
    base_err_set(&e, BASE_ERR_NOMEM, "here", "%s", "");
    cr_assert_str_eq(e.msg, "");
    base_err_set(&e, BASE_ERR_NOMEM, "here", NULL);
    cr_assert_str_eq(e.msg, "out of memory");
    cr_assert_str_eq(e.where, "here");
}

Test(err, sys_keeps_errno)
{
    struct base_err e = BASE_ERR_INIT;
    base_err_set_sys(&e, BASE_ERR_IO, ENOSPC, BASE_HERE, "write %s failed", "out.json");
    cr_assert_eq(e.sys_errno, ENOSPC);
    cr_assert_str_eq(e.msg, "write out.json failed");
    base_err_clear(&e);
    cr_assert_eq(e.code, BASE_OK);
    cr_assert_eq(e.sys_errno, 0);
    cr_assert_str_eq(e.msg, "");
    cr_assert_str_eq(e.where, "");
}

Test(err, set_and_clear_reset_the_input_line)
{
    struct base_err e = BASE_ERR_INIT;
    cr_assert_eq(e.line, 0);
    e.line = 42; /* as a parser does after base_err_set */
    base_err_set(&e, BASE_ERR_FORMAT, BASE_HERE, "x");
    cr_assert_eq(e.line, 0, "a new error does not inherit the old line");
    e.line = 7;
    cr_assert_eq(base_err_prefix(&e, "ctx"), -1);
    cr_assert_eq(e.line, 7, "prefix keeps the line");
    base_err_set_sys(&e, BASE_ERR_IO, EIO, BASE_HERE, "y");
    cr_assert_eq(e.line, 0);
    e.line = 3;
    base_err_clear(&e);
    cr_assert_eq(e.line, 0);
}

Test(err, prefix_adds_context_and_keeps_code)
{
    struct base_err e = BASE_ERR_INIT;
    base_err_set(&e, BASE_ERR_CAP, "w", "larger than %d bytes", 10);
    cr_assert_eq(base_err_prefix(&e, "reading %s", "bench.json"), -1);
    cr_assert_str_eq(e.msg, "reading bench.json: larger than 10 bytes");
    cr_assert_eq(e.code, BASE_ERR_CAP);
    cr_assert_str_eq(e.where, "w");
}

Test(err, long_messages_are_truncated_not_overflowed)
{
    struct base_err e = BASE_ERR_INIT;
    char big[3 * BASE_ERR_MSG_MAX];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    base_err_set(&e, BASE_ERR_IO, "w", "%s", big);
    cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1);
    base_err_prefix(&e, "ctx");
    cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1);
    cr_assert_eq(strncmp(e.msg, "ctx: aaa", 8), 0);
}

Test(err, a_module_table_is_looked_up_by_code)
{
    static const struct base_err_row rows[] = {
        {BASE_CODE(BASE_CAT_FORMAT, 0x81), "MOD_ERR_A", "first"},
        {BASE_CODE(BASE_CAT_IO, 0x81), "MOD_ERR_B", "second"},
    };
    const struct base_err_row *r = base_err_row_of(rows, 2, BASE_CODE(BASE_CAT_IO, 0x81));
    cr_assert_eq(r, &rows[1]);
    cr_assert_str_eq(r->name, "MOD_ERR_B");
    cr_assert_null(base_err_row_of(rows, 2, BASE_CODE(BASE_CAT_IO, 0x82)));
    cr_assert_null(base_err_row_of(rows, 1, BASE_CODE(BASE_CAT_IO, 0x81)), "only the first n");
    cr_assert_null(base_err_row_of(NULL, 0, 0));
}

Test(err, categories_names_and_exit_codes)
{
    cr_assert_eq(base_err_category(BASE_ERR_NULL), BASE_CAT_USAGE);
    cr_assert_eq(base_err_category(BASE_ERR_HEX_ODD), BASE_CAT_FORMAT);
    cr_assert_eq(base_err_category(BASE_ERR_NOMEM), BASE_CAT_RESOURCE);
    cr_assert_eq(base_err_category(BASE_ERR_NOT_FOUND), BASE_CAT_IO);
    cr_assert_eq(base_err_category(BASE_ERR_CAP), BASE_CAT_LIMIT);
    cr_assert_eq(base_err_category(BASE_CODE(BASE_CAT_IO, 0x81)), BASE_CAT_IO);
    cr_assert_str_eq(base_err_name(BASE_ERR_CAP), "BASE_ERR_CAP");
    cr_assert_str_eq(base_err_name(12345), "?");
    cr_assert_str_eq(base_strerror(BASE_ERR_HEX_CHAR), "not a hexadecimal digit");
    cr_assert_str_eq(base_strerror(-5), "unknown error");
    cr_assert_eq(base_err_exit_code(BASE_OK), 0);
    cr_assert_eq(base_err_exit_code(BASE_ERR_ARG), 2);
    cr_assert_eq(base_err_exit_code(BASE_ERR_IO), 1);
    cr_assert_eq(base_err_exit_code(BASE_ERR_CAP), 1);
}
