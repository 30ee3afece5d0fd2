/*
 * vmt.h - Criterion helpers for vault-mock tests, over vmt_client.h.
 */
#ifndef VMT_H
#define VMT_H

#include "vmt_client.h"

/* vmt_expect sends the call and asserts the answer's status (the body is shown on failure). */
void vmt_expect(struct vmt_server *s, const char *method, const char *path, const char *token,
                const char *body, long status);
/* The server of the current test, for the fixtures below. */
extern struct vmt_server vmt_srv;
/* vmt_setup starts vmt_srv with default flags (asserts success); use as .init. */
void vmt_setup(void);
/* vmt_setup_args starts vmt_srv with extra flags (asserts success). */
void vmt_setup_args(const char *const *args);
/* vmt_teardown stops vmt_srv and removes its state; use as .fini. */
void vmt_teardown(void);

#endif /* VMT_H */
