/*
 * rep_doc.c - HTML + Markdown writer and gnuplot plots (see rep_doc.h).
 */
#include "rep_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base_file.h"
#include "rep_bench.h"

extern char **environ;

static const char *const css =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0 auto;"
    "max-width:1320px;padding:1em 2em 3em;color:#1b1b1b;line-height:1.45;background:#fff}"
    "h1{margin-bottom:.1em}h1+p{margin-top:0;color:#555}"
    "h2{border-bottom:2px solid #d8dee6;padding-bottom:.2em;margin-top:2.2em}"
    "h3{margin:1.2em 0 .4em}"
    "table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:.88em}"
    "th,td{border:1px solid #cfd6de;padding:.25em .6em;vertical-align:top}"
    "th{background:#eef2f6;text-align:left}"
    "tr:nth-child(even) td{background:#f8fafb}"
    "td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".pass{color:#0a6b2b;font-weight:600}.fail{color:#b00020;font-weight:700}.na{color:#777}"
    ".missing{background:#fff6e0;border-left:4px solid #e0a000;padding:.5em 1em;margin:.6em 0}"
    ".figs{display:flex;flex-wrap:wrap;gap:1em;margin:.6em 0 1em}"
    "figure{margin:0;flex:1 1 560px;max-width:720px;border:1px solid "
    "#e3e7ec;border-radius:4px;padding:.4em}"
    "figure svg{width:100%;height:auto;display:block}"
    "figcaption{font-size:.82em;color:#555;margin-top:.2em}"
    "nav ol{columns:2;max-width:720px}code{background:#f2f4f7;padding:0 .25em;border-radius:3px}";

/* Markdown-safe text: table pipes escaped, newlines flattened. */
static void md_text(FILE *f, const char *s, int in_table)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|' && in_table) {
            fputs("\\|", f);
        } else if ((*s == '\n' || *s == '\r') && in_table) {
            fputc(' ', f);
        } else {
            fputc(*s, f);
        }
    }
}

void rep_doc_slug(char *out, size_t out_len, const char *title)
{
    size_t j = 0;
    for (const char *s = title; *s != '\0' && j + 1 < out_len; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[j++] = c;
        } else if (j > 0 && out[j - 1] != '-') {
            out[j++] = '-';
        }
    }
    out[j] = '\0';
}

void rep_doc_begin(struct rep_doc *d, const char *title, const char *subtitle)
{
    fprintf(d->html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    rep_fput_xml(d->html, title);
    fprintf(d->html, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
    rep_fput_xml(d->html, title);
    fprintf(d->html, "</h1>\n<p>");
    rep_fput_xml(d->html, subtitle);
    fprintf(d->html, "</p>\n");
    fprintf(d->md, "# %s\n\n%s\n", title, subtitle);
}

void rep_doc_end(struct rep_doc *d)
{
    fprintf(d->html, "</body>\n</html>\n");
}

void rep_doc_h2(struct rep_doc *d, const char *title)
{
    char id[96];
    rep_doc_slug(id, sizeof(id), title);
    fprintf(d->html, "<h2 id=\"%s\">", id);
    rep_fput_xml(d->html, title);
    fprintf(d->html, "</h2>\n");
    fprintf(d->md, "\n## %s\n\n", title);
}

void rep_doc_h3(struct rep_doc *d, const char *title)
{
    fprintf(d->html, "<h3>");
    rep_fput_xml(d->html, title);
    fprintf(d->html, "</h3>\n");
    fprintf(d->md, "\n### %s\n\n", title);
}

void rep_doc_p(struct rep_doc *d, const char *text)
{
    fprintf(d->html, "<p>");
    rep_fput_xml(d->html, text);
    fprintf(d->html, "</p>\n");
    md_text(d->md, text, 0);
    fprintf(d->md, "\n\n");
}

void rep_doc_missing(struct rep_doc *d, const char *text)
{
    fprintf(d->html, "<p class=\"missing\">");
    rep_fput_xml(d->html, text);
    fprintf(d->html, "</p>\n");
    fprintf(d->md, "> ");
    md_text(d->md, text, 1);
    fprintf(d->md, "\n\n");
}

static char align_of(const char *align, size_t i)
{
    return (align != NULL && i < strlen(align)) ? align[i] : 'l';
}

static const char *align_cur;

void rep_doc_table_begin(struct rep_doc *d, size_t ncols, const char *const *head,
                         const char *align)
{
    align_cur = align;
    fprintf(d->html, "<table>\n<thead><tr>");
    fprintf(d->md, "|");
    for (size_t i = 0; i < ncols; i++) {
        fprintf(d->html, "<th>");
        rep_fput_xml(d->html, head[i]);
        fprintf(d->html, "</th>");
        fprintf(d->md, " ");
        md_text(d->md, head[i], 1);
        fprintf(d->md, " |");
    }
    fprintf(d->html, "</tr></thead>\n<tbody>\n");
    fprintf(d->md, "\n|");
    for (size_t i = 0; i < ncols; i++) {
        fprintf(d->md, "%s|", align_of(align, i) == 'r' ? "---:" : "---");
    }
    fprintf(d->md, "\n");
}

void rep_doc_table_row(struct rep_doc *d, size_t ncols, const char *const *cells,
                       const enum rep_cls *cls)
{
    static const char *const names[] = {"", "pass", "fail", "na"};
    fprintf(d->html, "<tr>");
    fprintf(d->md, "|");
    for (size_t i = 0; i < ncols; i++) {
        enum rep_cls c = cls != NULL ? cls[i] : REP_CLS_NONE;
        int right = align_of(align_cur, i) == 'r';
        if (c != REP_CLS_NONE || right) {
            fprintf(d->html, "<td class=\"%s%s%s\">", right ? "r" : "", right && c ? " " : "",
                    names[c]);
        } else {
            fprintf(d->html, "<td>");
        }
        rep_fput_xml(d->html, cells[i] != NULL ? cells[i] : "");
        fprintf(d->html, "</td>");
        fprintf(d->md, " %s", c == REP_CLS_FAIL ? "**" : "");
        md_text(d->md, cells[i] != NULL ? cells[i] : "", 1);
        fprintf(d->md, "%s |", c == REP_CLS_FAIL ? "**" : "");
    }
    fprintf(d->html, "</tr>\n");
    fprintf(d->md, "\n");
}

void rep_doc_table_end(struct rep_doc *d)
{
    fprintf(d->html, "</tbody>\n</table>\n");
    fprintf(d->md, "\n");
}

void rep_doc_figures_begin(struct rep_doc *d)
{
    fprintf(d->html, "<div class=\"figs\">\n");
    d->figure_open = 1;
}

void rep_doc_figures_end(struct rep_doc *d)
{
    fprintf(d->html, "</div>\n");
    fprintf(d->md, "\n");
    d->figure_open = 0;
}

void rep_series_add(struct rep_plot *p, const char *title, double x, double y, double lo, double hi)
{
    struct rep_series *s = NULL;
    for (size_t i = 0; i < p->ns; i++) {
        if (strcmp(p->s[i].title, title) == 0) {
            s = &p->s[i];
        }
    }
    if (s == NULL) {
        if (p->ns >= REP_PLOT_MAX_SERIES) {
            return;
        }
        s = &p->s[p->ns++];
        memset(s, 0, sizeof(*s));
        snprintf(s->title, sizeof(s->title), "%s", title);
    }
    if (s->n >= REP_PLOT_MAX_POINTS || !isfinite(x) || !isfinite(y)) {
        return;
    }
    /* keep the points sorted by x */
    size_t k = s->n;
    while (k > 0 && s->x[k - 1] > x) {
        s->x[k] = s->x[k - 1];
        s->y[k] = s->y[k - 1];
        s->lo[k] = s->lo[k - 1];
        s->hi[k] = s->hi[k - 1];
        k--;
    }
    s->x[k] = x;
    s->y[k] = y;
    s->lo[k] = isfinite(lo) ? lo : y;
    s->hi[k] = isfinite(hi) ? hi : y;
    s->n++;
}

/* A gnuplot single-quoted string: a quote is written twice. */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            fputc('\'', f);
        }
        if ((unsigned char)*s >= 0x20) {
            fputc(*s, f);
        }
    }
    fputc('\'', f);
}

static void gp_header(FILE *f, const char *svg_path, const char *title, int w, int h)
{
    fprintf(
        f,
        "set terminal svg size %d,%d dynamic noenhanced font 'Helvetica,13' background '#ffffff'\n",
        w, h);
    fprintf(f, "set output ");
    gp_str(f, svg_path);
    fprintf(f, "\nset encoding utf8\nset title ");
    gp_str(f, title);
    fprintf(f, " font 'Helvetica,15'\n");
    fprintf(f, "set grid lc rgb '#d0d0d0'\nset border lc rgb '#404040'\n");
    fprintf(f, "set key outside below left Left reverse samplen 2 spacing 1.1 maxrows 6\n");
}

/* Runs gnuplot on |script|; 0 when it exits 0. A failure fills |e|. */
static int run_gnuplot(const char *script, const char *errfile, struct base_err *e)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        BASE_FAIL(e, BASE_ERR_IO, "cannot start gnuplot");
        return -1;
    }
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errfile, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    char prog[] = "gnuplot";
    char arg[4300];
    snprintf(arg, sizeof(arg), "%s", script);
    char *const argv[] = {prog, arg, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        base_err_set_sys(e, BASE_ERR_IO, rc, BASE_HERE,
                         "cannot run gnuplot: %s (install gnuplot-nox)", strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            base_err_set_sys(e, BASE_ERR_IO, errno, BASE_HERE, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    char first[300] = "";
    FILE *ef = fopen(errfile, "r");
    if (ef != NULL) {
        size_t got = fread(first, 1, sizeof(first) - 1, ef);
        first[got] = '\0';
        fclose(ef);
        for (char *p = first; *p != '\0'; p++) {
            if (*p == '\n') {
                *p = ' ';
            }
        }
    }
    BASE_FAIL(e, BASE_ERR_IO, "gnuplot failed (status %d): %s",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, first);
    return -1;
}

/* Copies the <svg> element of |path| into |f| with every id prefixed by |pfx| (ids stay unique). */
/* A plot larger than this is not inlined (gnuplot's SVGs are a few hundred KiB). */
#define SVG_MAX ((size_t)256 << 20)

static int inline_svg(FILE *f, const char *path, const char *pfx)
{
    char *buf = NULL;
    if (base_file_read(path, SVG_MAX, 0, &buf, NULL, NULL) != 0) {
        return -1;
    }
    const char *s = strstr(buf, "<svg");
    if (s == NULL) {
        free(buf);
        return -1;
    }
    static const char *const pats[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
    while (*s != '\0') {
        size_t hit = 0;
        for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]) && hit == 0; i++) {
            size_t pl = strlen(pats[i]);
            if (strncmp(s, pats[i], pl) == 0 &&
                (s == buf || s[-1] == ' ' || s[-1] == '\t' || s[-1] == '\n' || pats[i][0] == 'u' ||
                 s[-1] == ':')) {
                hit = pl;
            }
        }
        if (hit > 0) {
            fwrite(s, 1, hit, f);
            fputs(pfx, f);
            s += hit;
        } else {
            fputc(*s, f);
            s++;
        }
    }
    free(buf);
    return 0;
}

static int plot_counter;

static int embed(struct rep_doc *d, const char *name, const char *title, const char *script_text)
{
    char gp[4300], svg[4300], errf[4300];
    struct base_err e = BASE_ERR_INIT;
    snprintf(gp, sizeof(gp), "%s/%s.gp", d->plot_dir, name);
    snprintf(svg, sizeof(svg), "%s/%s.svg", d->plot_dir, name);
    snprintf(errf, sizeof(errf), "%s/.gnuplot-%s.err", d->plot_dir, name);
    FILE *f = fopen(gp, "w");
    int rc = -1;
    if (f == NULL) {
        base_err_set_sys(&e, BASE_ERR_IO, errno, BASE_HERE, "cannot write %s: %s", gp,
                         strerror(errno));
    } else {
        int werr = fputs(script_text, f) < 0;
        if (fclose(f) != 0 || werr) {
            BASE_FAIL(&e, BASE_ERR_IO, "cannot write %s", gp);
        } else {
            rc = run_gnuplot(gp, errf, &e);
        }
    }
    unlink(errf);
    if (rc == 0) {
        char pfx[32];
        snprintf(pfx, sizeof(pfx), "p%d_", ++plot_counter);
        fprintf(d->html, "<figure>\n");
        if (inline_svg(d->html, svg, pfx) != 0) {
            fprintf(d->html, "<p class=\"missing\">plot %s could not be read back</p>", name);
        }
        fprintf(d->html, "\n<figcaption>");
        rep_fput_xml(d->html, title);
        fprintf(d->html, " (plots/%s.svg)</figcaption>\n</figure>\n", name);
        fprintf(d->md, "![%s](%s/%s.svg)\n", title, d->plot_rel, name);
        return 0;
    }
    if (d->warn != NULL) {
        fprintf(d->warn, "cmk-report: warning: plot %s not drawn: %s\n", name, e.msg);
    }
    char text[5200];
    snprintf(text, sizeof(text), "Plot '%s' not drawn: %s.", title, e.msg);
    fprintf(d->html, "<p class=\"missing\">");
    rep_fput_xml(d->html, text);
    fprintf(d->html, "</p>\n");
    fprintf(d->md, "> %s\n\n", text);
    return -1;
}

static void bytes_label(char *out, size_t out_len, double b)
{
    char u[32];
    rep_unit_str(u, sizeof(u), b);
    /* "8KiB" -> "8 KiB" for axis labels */
    size_t i = 0;
    while (u[i] >= '0' && u[i] <= '9') {
        i++;
    }
    snprintf(out, out_len, "%.*s %s", (int)i, u, u + i);
}

/* Opens a gnuplot script in memory (*text, freed by the caller) with the common header; NULL when
 * plots are off. */
static FILE *script_begin(const struct rep_doc *d, const char *name, const char *title, char **text,
                          size_t *len)
{
    *text = NULL;
    if (!d->plots) {
        return NULL;
    }
    FILE *f = open_memstream(text, len);
    if (f == NULL) {
        return NULL;
    }
    char svg[4300];
    snprintf(svg, sizeof(svg), "%s/%s.svg", d->plot_dir, name);
    gp_header(f, svg, title, 720, 430);
    return f;
}

int rep_doc_plot(struct rep_doc *d, struct rep_plot *p)
{
    char *text;
    size_t text_len;
    FILE *f = script_begin(d, p->name, p->title, &text, &text_len);
    if (f == NULL) {
        return -1;
    }
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < p->ns; i++) {
        fprintf(f, "$s%zu << EOD\n", i);
        for (size_t k = 0; k < p->s[i].n; k++) {
            fprintf(f, "%.17g %.17g %.17g %.17g\n", p->s[i].x[k], p->s[i].y[k], p->s[i].lo[k],
                    p->s[i].hi[k]);
            xmin = fmin(xmin, p->s[i].x[k]);
            xmax = fmax(xmax, p->s[i].x[k]);
        }
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set xlabel ");
    gp_str(f, p->xlabel);
    fprintf(f, "\nset ylabel ");
    gp_str(f, p->ylabel);
    fprintf(f, "\n");
    if (p->logx && xmin > 0) {
        fprintf(f, "set logscale x 2\nset xrange [%.17g:%.17g]\n", xmin / 1.6, xmax * 1.6);
    } else if (isfinite(xmin)) {
        double pad = xmax > xmin ? (xmax - xmin) * 0.06 : 0.5;
        fprintf(f, "set xrange [%.17g:%.17g]\n", xmin - pad, xmax + pad);
    }
    if (p->bytes_tics || p->logx || p->data_tics) {
        /* tics exactly at the measured x values */
        double xs[REP_PLOT_MAX_POINTS * 2];
        size_t nx = 0;
        for (size_t i = 0; i < p->ns; i++) {
            for (size_t k = 0; k < p->s[i].n; k++) {
                int seen = 0;
                for (size_t j = 0; j < nx; j++) {
                    seen |= xs[j] == p->s[i].x[k];
                }
                if (!seen && nx < sizeof(xs) / sizeof(xs[0])) {
                    xs[nx++] = p->s[i].x[k];
                }
            }
        }
        fprintf(f, "set xtics (");
        for (size_t j = 0; j < nx; j++) {
            char lab[64];
            if (p->bytes_tics) {
                bytes_label(lab, sizeof(lab), xs[j]);
            } else {
                snprintf(lab, sizeof(lab), "%g", xs[j]);
            }
            fprintf(f, "%s'%s' %.17g", j ? ", " : "", lab, xs[j]);
        }
        fprintf(f, ")\n");
    }
    if (p->ymin_zero) {
        fprintf(f, "set yrange [0:*]\n");
    } else if (p->hline_one) {
        /* a ratio: keep 1.0 (parity) in view and leave room around the error bars */
        double lo = 1, hi = 1;
        for (size_t i = 0; i < p->ns; i++) {
            for (size_t k = 0; k < p->s[i].n; k++) {
                lo = fmin(lo, fmin(p->s[i].lo[k], p->s[i].y[k]));
                hi = fmax(hi, fmax(p->s[i].hi[k], p->s[i].y[k]));
            }
        }
        double pad = fmax((hi - lo) * 0.12, 0.02);
        fprintf(f, "set yrange [%.17g:%.17g]\n", lo - pad, hi + pad);
    }
    fprintf(f, "plot ");
    for (size_t i = 0; i < p->ns; i++) {
        fprintf(f, "%s$s%zu using 1:2:3:4 with yerrorlines lw 2 pt %zu ps 0.9 title ",
                i ? ", \\\n     " : "", i, (i % 7) + 1);
        gp_str(f, p->s[i].title);
    }
    if (p->hline_one) {
        fprintf(f, "%s1 with lines dt 2 lw 1.5 lc rgb '#606060' title 'parity (1.0)'",
                p->ns ? ", \\\n     " : "");
    }
    fprintf(f, "\n");
    if (fclose(f) != 0) {
        free(text);
        return -1;
    }
    int rc = embed(d, p->name, p->title, text);
    free(text);
    return rc;
}

int rep_doc_plot_bars(struct rep_doc *d, const char *name, const char *title, const char *ylabel,
                      size_t ncat, const char *const *cats, size_t nval,
                      const char *const *val_names, const double *v)
{
    char *text;
    size_t text_len;
    FILE *f = script_begin(d, name, title, &text, &text_len);
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "$bars << EOD\n");
    for (size_t c = 0; c < ncat; c++) {
        fputc('"', f);
        for (const char *s = cats[c]; *s != '\0'; s++) {
            fputc(*s == '"' ? '\'' : *s, f);
        }
        fputc('"', f);
        for (size_t k = 0; k < nval; k++) {
            double x = v[c * nval + k];
            fprintf(f, isfinite(x) ? " %.17g" : " NaN", x);
        }
        fprintf(f, "\n");
    }
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < ncat * nval; i++) {
        if (isfinite(v[i]) && v[i] > 0) {
            lo = fmin(lo, v[i]);
            hi = fmax(hi, v[i]);
        }
    }
    int logy = hi > 0 && hi / lo > 50;
    fprintf(f,
            "EOD\nset style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
            "set xtics rotate by -25 left\n");
    if (logy) {
        /* bars grow from the bottom of the range: put it below the smallest value */
        fprintf(f, "set logscale y 10\nset yrange [%.17g:%.17g]\n", lo / 2, hi * 2);
    } else {
        fprintf(f, "set yrange [0:*]\n");
    }
    fprintf(f, "set ylabel ");
    char yl[160];
    snprintf(yl, sizeof(yl), "%s%s", ylabel, logy ? ", log scale" : "");
    gp_str(f, yl);
    fprintf(f, "\nplot ");
    for (size_t k = 0; k < nval; k++) {
        fprintf(f, "%s$bars using %zu%s title ", k ? ", " : "", k + 2, k == 0 ? ":xtic(1)" : "");
        gp_str(f, val_names[k]);
    }
    fprintf(f, "\n");
    if (fclose(f) != 0) {
        free(text);
        return -1;
    }
    int rc = embed(d, name, title, text);
    free(text);
    return rc;
}
