/*
 * vmt.c - Criterion helpers for vault-mock tests (asserting wrappers and
 * the per-test server), over vmt_client.c.
 */
#include "vmt.h"

#include <criterion/criterion.h>
#include <string.h>

struct vmt_server vmt_srv;

void vmt_expect(struct vmt_server *s, const char *method, const char *path, const char *token,
                const char *body, long status)
{
    struct vmt_resp r;
    vmt_call(s, method, path, token, body, &r);
    cr_assert_eq(r.status, status, "%s %s: %ld %s", method, path, r.status,
                 r.body != NULL ? r.body : "");
    vmt_resp_free(&r);
}

void vmt_setup(void)
{
    memset(&vmt_srv, 0, sizeof(vmt_srv));
    cr_assert_eq(vmt_start(&vmt_srv, NULL), 0, "vault-mock did not start (%s)", vmt_bin());
}

void vmt_setup_args(const char *const *args)
{
    if (vmt_srv.pid > 0) {
        vmt_cleanup(&vmt_srv);
    }
    memset(&vmt_srv, 0, sizeof(vmt_srv));
    cr_assert_eq(vmt_start(&vmt_srv, args), 0, "vault-mock did not start (%s)", vmt_bin());
}

void vmt_teardown(void)
{
    vmt_cleanup(&vmt_srv);
}

