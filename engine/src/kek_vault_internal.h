/*
 * kek_vault_internal.h - the vault provider's parsers that tests and the
 * fuzz target call directly (not part of the public API).
 */
#ifndef ENG_KEK_VAULT_INTERNAL_H
#define ENG_KEK_VAULT_INTERNAL_H

#include <stddef.h>
#include <time.h>

/* The longest wait a Retry-After may ask for: longer values are clamped to it (one day). */
#define ENG_VAULT_RETRY_AFTER_MAX_S 86400L

/*
 * eng_vault_parse_retry_after parses the value of a Retry-After header
 * (RFC 9110 10.2.3; |len| bytes, not NUL-terminated, surrounding spaces,
 * tabs, CR and LF ignored): delta-seconds (digits only: no sign, no
 * fraction, nothing after) or an IMF-fixdate HTTP-date ("Sun, 06 Nov 1994
 * 08:49:37 GMT"), taken relative to |now| (seconds since 1970). Returns the
 * seconds to wait in 0 .. ENG_VAULT_RETRY_AFTER_MAX_S (larger values,
 * however many digits, are clamped; a date in the past gives 0), or -1 when
 * the value is empty or malformed (then the header counts as absent).
 */
long eng_vault_parse_retry_after(const char *v, size_t len, time_t now);

#endif /* ENG_KEK_VAULT_INTERNAL_H */
