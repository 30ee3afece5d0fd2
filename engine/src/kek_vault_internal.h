/*
 * kek_vault_internal.h - the vault provider's parsers that tests and the
 * fuzz target call directly (not part of the public API). The Retry-After
 * parser belongs to the HTTP transport (kek_http.h); these are the names
 * the vault's tests and fuzz target know it by.
 */
#ifndef ENG_KEK_VAULT_INTERNAL_H
#define ENG_KEK_VAULT_INTERNAL_H

#include "kek_http.h"

/* The longest wait a Retry-After may ask for: longer values are clamped to it (one day). */
#define ENG_VAULT_RETRY_AFTER_MAX_S ENG_HTTP_RETRY_AFTER_MAX_S

/* eng_vault_parse_retry_after is eng_http_parse_retry_after (see kek_http.h). */
#define eng_vault_parse_retry_after eng_http_parse_retry_after

#endif /* ENG_KEK_VAULT_INTERNAL_H */
