/*
 * rep_doc.h - a document written twice at once: as HTML (self-contained,
 * plots inline as SVG) and as Markdown (plots referenced as files), so the
 * two always carry the same content; and line plots drawn with gnuplot.
 */
#ifndef REP_DOC_H
#define REP_DOC_H

#include <stddef.h>
#include <stdio.h>

struct rep_doc {
    FILE *html;
    FILE *md;
    char plot_dir[4096]; /* where the .gp and .svg files go */
    char plot_rel[64];   /* the same folder as seen from report.md */
    int plots;           /* 0: plotting disabled */
    FILE *warn;          /* warnings (may be NULL) */
    int figure_open;
};

/* Cell classes for coloured verdicts. */
enum rep_cls { REP_CLS_NONE = 0, REP_CLS_PASS, REP_CLS_FAIL, REP_CLS_NA };

void rep_doc_begin(struct rep_doc *d, const char *title, const char *subtitle);
void rep_doc_end(struct rep_doc *d);
void rep_doc_h2(struct rep_doc *d, const char *title);
/* The anchor id rep_doc_h2 gives a heading: lower case, runs of other characters as one '-'. */
void rep_doc_slug(char *out, size_t out_len, const char *title);
void rep_doc_h3(struct rep_doc *d, const char *title);
/* A paragraph of plain text (escaped for each format). */
void rep_doc_p(struct rep_doc *d, const char *text);
/* A highlighted note saying what is missing or not measured. */
void rep_doc_missing(struct rep_doc *d, const char *text);
void rep_doc_table_begin(struct rep_doc *d, size_t ncols, const char *const *head,
                         const char *align);
void rep_doc_table_row(struct rep_doc *d, size_t ncols, const char *const *cells,
                       const enum rep_cls *cls);
void rep_doc_table_end(struct rep_doc *d);
/* Figures between figures_begin and figures_end are laid out side by side in HTML. */
void rep_doc_figures_begin(struct rep_doc *d);
void rep_doc_figures_end(struct rep_doc *d);

/* A line plot: series of (x, y, ylow, yhigh) points. */
#define REP_PLOT_MAX_POINTS 64
#define REP_PLOT_MAX_SERIES 24

struct rep_series {
    char title[160];
    double x[REP_PLOT_MAX_POINTS], y[REP_PLOT_MAX_POINTS], lo[REP_PLOT_MAX_POINTS],
        hi[REP_PLOT_MAX_POINTS];
    size_t n;
};

struct rep_plot {
    char name[96]; /* file stem: plots/<name>.svg */
    char title[160];
    char xlabel[96];
    char ylabel[96];
    int logx;       /* log2 x axis with tics at the data points (data unit sizes) */
    int bytes_tics; /* label x tics as 512 B, 8 KiB, ... */
    int hline_one;  /* draw y = 1 (parity of a ratio) */
    int ymin_zero;  /* y axis starts at 0 */
    int data_tics;  /* x tics exactly at the data points, labelled with %g (thread counts, DEK
                       counts) */
    struct rep_series s[REP_PLOT_MAX_SERIES];
    size_t ns;
};

/* rep_series_add appends a point to the series |title| of |p| (created on first use); drops
 * overflow. */
void rep_series_add(struct rep_plot *p, const char *title, double x, double y, double lo,
                    double hi);

/*
 * rep_doc_plot draws |p| with gnuplot into plot_dir/<name>.svg and embeds it
 * (inline SVG in HTML, an image link in Markdown). When gnuplot fails the
 * document says so and a warning is printed; returns 0 or -1 (not drawn).
 */
int rep_doc_plot(struct rep_doc *d, struct rep_plot *p);

/*
 * rep_doc_plot_bars draws clustered bars: |ncat| categories (x labels) by
 * |nval| values each (legend |val_names|), |v| row-major [cat][val].
 * When the positive values span more than a factor of 50 the y axis is
 * logarithmic (its label says so), so that small bars stay readable.
 */
int rep_doc_plot_bars(struct rep_doc *d, const char *name, const char *title, const char *ylabel,
                      size_t ncat, const char *const *cats, size_t nval,
                      const char *const *val_names, const double *v);

#endif
