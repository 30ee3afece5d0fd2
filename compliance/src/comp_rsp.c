/*
 * comp_rsp.c - the CAVP .rsp line reader.
 *
 * The reader owns a NUL-terminated copy of the file and cuts names and
 * values out of it in place (writing NULs over the separators), so a record
 * costs one small allocation per non-empty hex value and nothing else.
 * A line is one of: blank (ends a record), `#` comment, `[SECTION]`,
 * `[Name = value]`, `FAIL`, or `NAME = value`; anything else is an error
 * with its line number. A header line right after a record (no blank line
 * between) ends that record first.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "comp_internal.h"

/* Decimal fields; every other value is hex. */
static const char *const decimal_names[] = {"COUNT", "DataUnitLen", "DataUnitSeqNumber"};

struct comp_rsp {
    char *text; /* owned, NUL-terminated; cut in place */
    char *orig; /* owned, untouched copy (for detection) */
    size_t len;
    size_t pos;
    unsigned long line; /* lines consumed so far */
    char *name;
    char section[16];
    struct comp_rsp_param params[COMP_RSP_MAX_PARAMS];
    size_t num_params;
    struct comp_rsp_field fields[COMP_RSP_MAX_FIELDS];
    uint8_t *owned[COMP_RSP_MAX_FIELDS]; /* fields[i].data, freed at the next record */
    struct comp_rsp_record rec;
    struct base_err err;
    int state; /* 0 reading, 1 at end, -1 in error */
};

static void free_fields(struct comp_rsp *r)
{
    for (size_t i = 0; i < COMP_RSP_MAX_FIELDS; i++) {
        free(r->owned[i]);
        r->owned[i] = NULL;
    }
    memset(r->fields, 0, sizeof(r->fields));
    memset(&r->rec, 0, sizeof(r->rec));
}

struct comp_rsp *comp_rsp_open_mem(const char *name, const char *text, size_t len,
                                   struct base_err *err)
{
    if (text == NULL && len != 0) {
        comp_fail(err, COMP_ERR_NULL, 0, "NULL text");
        return NULL;
    }
    if (len > COMP_MAX_FILE_BYTES) {
        comp_fail(err, COMP_ERR_TOO_BIG, 0, "%zu bytes, limit %lu", len, COMP_MAX_FILE_BYTES);
        return NULL;
    }
    struct comp_rsp *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        comp_fail(err, COMP_ERR_NOMEM, 0, "no memory for the reader");
        return NULL;
    }
    r->text = comp_memdup0(text, len);
    r->orig = comp_memdup0(text, len);
    r->name = comp_memdup0(name != NULL ? name : "", name != NULL ? strlen(name) : 0);
    if (r->text == NULL || r->orig == NULL || r->name == NULL) {
        comp_rsp_free(r);
        comp_fail(err, COMP_ERR_NOMEM, 0, "no memory for %zu bytes", len);
        return NULL;
    }
    r->len = len;
    base_err_clear(&r->err);
    return r;
}

struct comp_rsp *comp_rsp_open(const char *path, struct base_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (comp_read_file(path, &buf, &len, err) != 0) {
        return NULL;
    }
    struct comp_rsp *r = comp_rsp_open_mem(path, buf, len, err);
    free(buf);
    return r;
}

void comp_rsp_free(struct comp_rsp *r)
{
    if (r == NULL) {
        return;
    }
    free_fields(r);
    free(r->text);
    free(r->orig);
    free(r->name);
    free(r);
}

const char *comp_rsp_name(const struct comp_rsp *r)
{
    return (r != NULL && r->name != NULL) ? r->name : "";
}

const struct base_err *comp_rsp_error(const struct comp_rsp *r)
{
    static const struct base_err null_reader = {COMP_ERR_NULL, 0, "", "NULL reader", 0};
    return r != NULL ? &r->err : &null_reader;
}

void comp_rsp_source(const struct comp_rsp *r, const char **name, const char **text, size_t *len)
{
    *name = r->name;
    *text = r->orig;
    *len = r->len;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Cuts [*s, *s + *n) down to its non-blank middle. */
static void trim(char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) {
        (*n)--;
    }
}

/* Next line, trimmed; 0 at the end of the text. */
static int next_line(struct comp_rsp *r, char **line, size_t *n)
{
    if (r->pos >= r->len) {
        return 0;
    }
    char *start = r->text + r->pos;
    char *nl = memchr(start, '\n', r->len - r->pos);
    size_t l = nl != NULL ? (size_t)(nl - start) : r->len - r->pos;
    r->pos += l + (nl != NULL ? 1 : 0);
    r->line++;
    *line = start;
    *n = l;
    trim(line, n);
    return 1;
}

static int valid_name(const char *s, size_t n, int allow_space)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (allow_space && c == ' ');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int is_decimal_name(const char *name)
{
    for (size_t i = 0; i < sizeof(decimal_names) / sizeof(decimal_names[0]); i++) {
        if (strcasecmp(name, decimal_names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int bail(struct comp_rsp *r, int code, const char *what)
{
    r->state = -1;
    return comp_fail(&r->err, code, r->line, "%s line %lu: %s", r->name, r->line, what);
}

/* Splits |n| bytes at |s| around the '=' at |eq| into trimmed name and value. */
static void split_at(char *s, size_t n, char *eq, char **name, size_t *name_n, char **value,
                     size_t *value_n)
{
    *name = s;
    *name_n = (size_t)(eq - s);
    *value = eq + 1;
    *value_n = n - *name_n - 1;
    trim(name, name_n);
    trim(value, value_n);
}

/* [ENCRYPT] / [DECRYPT] or [Name = value]. */
static int parse_header(struct comp_rsp *r, char *line, size_t n)
{
    if (n < 2 || line[n - 1] != ']') {
        return bail(r, COMP_ERR_SYNTAX, "'[' without a closing ']'");
    }
    char *in = line + 1;
    size_t m = n - 2;
    trim(&in, &m);
    char *eq = memchr(in, '=', m);
    if (eq == NULL) {
        if (m == 7 && strncasecmp(in, "ENCRYPT", 7) == 0) {
            memcpy(r->section, "ENCRYPT", 8);
        } else if (m == 7 && strncasecmp(in, "DECRYPT", 7) == 0) {
            memcpy(r->section, "DECRYPT", 8);
        } else {
            return bail(r, COMP_ERR_SECTION, "unknown section (expected [ENCRYPT] or [DECRYPT])");
        }
        r->num_params = 0; /* a new section starts with no parameters */
        return 0;
    }
    char *name;
    char *value;
    size_t name_n;
    size_t value_n;
    split_at(in, m, eq, &name, &name_n, &value, &value_n);
    if (!valid_name(name, name_n, 1) || value_n == 0 || memchr(value, ']', value_n) != NULL) {
        return bail(r, COMP_ERR_SYNTAX, "malformed [Name = value] header");
    }
    if (name_n >= sizeof(r->params[0].name) || value_n >= sizeof(r->params[0].value)) {
        return bail(r, COMP_ERR_TOO_BIG, "header name or value too long");
    }
    size_t i;
    for (i = 0; i < r->num_params; i++) {
        if (strlen(r->params[i].name) == name_n &&
            strncasecmp(r->params[i].name, name, name_n) == 0) {
            break;
        }
    }
    if (i == r->num_params) {
        if (r->num_params == COMP_RSP_MAX_PARAMS) {
            return bail(r, COMP_ERR_TOO_BIG, "too many [Name = value] headers");
        }
        r->num_params++;
    }
    memcpy(r->params[i].name, name, name_n);
    r->params[i].name[name_n] = '\0';
    memcpy(r->params[i].value, value, value_n);
    r->params[i].value[value_n] = '\0';
    return 0;
}

static int parse_field(struct comp_rsp *r, char *line, size_t n)
{
    char *eq = memchr(line, '=', n);
    if (eq == NULL) {
        return bail(r, COMP_ERR_SYNTAX, "expected NAME = value");
    }
    char *name;
    char *value;
    size_t name_n;
    size_t value_n;
    split_at(line, n, eq, &name, &name_n, &value, &value_n);
    if (!valid_name(name, name_n, 0)) {
        return bail(r, COMP_ERR_SYNTAX, "malformed field name before '='");
    }
    /* Cut in place: the byte after each is a separator or the final NUL. */
    name[name_n] = '\0';
    value[value_n] = '\0';
    for (size_t i = 0; i < r->rec.num_fields; i++) {
        if (strcasecmp(r->fields[i].name, name) == 0) {
            r->state = -1;
            return comp_fail(&r->err, COMP_ERR_DUPLICATE, r->line,
                             "%s line %lu: field %s given twice (first at line %lu)", r->name,
                             r->line, name, r->fields[i].line);
        }
    }
    if (r->rec.num_fields == COMP_RSP_MAX_FIELDS) {
        return bail(r, COMP_ERR_TOO_BIG, "too many fields in one record");
    }
    struct comp_rsp_field *f = &r->fields[r->rec.num_fields];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->raw = value;
    f->line = r->line;
    if (is_decimal_name(name)) {
        f->is_decimal = 1;
        if (comp_parse_u64(value, value_n, &f->num) != 0) {
            r->state = -1;
            return comp_fail(&r->err, COMP_ERR_NUMBER, r->line,
                             "%s line %lu: %s is not a decimal number below 2^64", r->name, r->line,
                             name);
        }
    } else {
        uint8_t *data = NULL;
        size_t bad_at = 0;
        struct base_err e = BASE_ERR_INIT;
        size_t data_len = 0;
        int rc = base_hex_decode_alloc(value, value_n, &data, &data_len, &bad_at, &e);
        if (rc != 0 && e.code == BASE_ERR_NOMEM) {
            return bail(r, COMP_ERR_NOMEM, "no memory for a value");
        }
        if (rc != 0) {
            r->state = -1;
            if (bad_at == value_n) {
                return comp_fail(&r->err, COMP_ERR_HEX, r->line,
                                 "%s line %lu: %s has an odd number of hex digits (%zu)", r->name,
                                 r->line, name, value_n);
            }
            return comp_fail(&r->err, COMP_ERR_HEX, r->line,
                             "%s line %lu: %s has a non-hex character at column %zu", r->name,
                             r->line, name, (size_t)(value - line) + bad_at + 1);
        }
        r->owned[r->rec.num_fields] = data;
        f->data = data;
        f->len = value_n / 2;
    }
    if (r->rec.num_fields == 0) {
        r->rec.line = r->line;
    }
    r->rec.num_fields++;
    return 0;
}

int comp_rsp_next(struct comp_rsp *r, struct comp_rsp_record **out)
{
    if (r == NULL || out == NULL) {
        return -1;
    }
    *out = NULL;
    if (r->state != 0) {
        return r->state < 0 ? -1 : 0;
    }
    free_fields(r);
    for (;;) {
        size_t save_pos = r->pos;
        unsigned long save_line = r->line;
        char *line;
        size_t n;
        int open = r->rec.num_fields > 0 || r->rec.fail;
        if (!next_line(r, &line, &n)) {
            if (!open) {
                r->state = 1;
                return 0;
            }
            break;
        }
        if (memchr(line, '\0', n) != NULL) {
            return bail(r, COMP_ERR_SYNTAX, "NUL byte in a line");
        }
        if (n == 0) {
            if (open) {
                break;
            }
            continue;
        }
        if (line[0] == '#') {
            continue;
        }
        if (line[0] == '[') {
            if (open) { /* the header starts the next record: read it again next time */
                r->pos = save_pos;
                r->line = save_line;
                break;
            }
            if (parse_header(r, line, n) != 0) {
                return -1;
            }
            continue;
        }
        if (n == 4 && memcmp(line, "FAIL", 4) == 0) {
            if (!open) {
                return bail(r, COMP_ERR_SYNTAX, "FAIL outside a record");
            }
            if (r->rec.fail) {
                return bail(r, COMP_ERR_DUPLICATE, "FAIL given twice in one record");
            }
            r->rec.fail = 1;
            r->rec.fail_line = r->line;
            continue;
        }
        if (parse_field(r, line, n) != 0) {
            return -1;
        }
    }
    r->rec.section = r->section;
    r->rec.params = r->params;
    r->rec.num_params = r->num_params;
    r->rec.fields = r->fields;
    *out = &r->rec;
    return 1;
}

struct comp_rsp_field *comp_rsp_get(struct comp_rsp_record *rec, const char *name)
{
    if (rec == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < rec->num_fields; i++) {
        if (strcasecmp(rec->fields[i].name, name) == 0) {
            rec->fields[i].used = 1;
            return &rec->fields[i];
        }
    }
    return NULL;
}

const char *comp_rsp_param(const struct comp_rsp_record *rec, const char *name)
{
    if (rec == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < rec->num_params; i++) {
        if (strcasecmp(rec->params[i].name, name) == 0) {
            return rec->params[i].value;
        }
    }
    return NULL;
}

const char *comp_rsp_first_unused(const struct comp_rsp_record *rec, unsigned long *line)
{
    if (rec == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < rec->num_fields; i++) {
        if (!rec->fields[i].used) {
            if (line != NULL) {
                *line = rec->fields[i].line;
            }
            return rec->fields[i].name;
        }
    }
    if (rec->fail && !rec->fail_used) {
        if (line != NULL) {
            *line = rec->fail_line;
        }
        return "FAIL";
    }
    return NULL;
}
