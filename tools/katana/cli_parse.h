/*
 * The CLI's one parser for numbers and lists on the command line: integers and reals in a range
 * (finite, the whole string), boxes x,y,w,h, WxH sizes and per-module thread counts. Every
 * subcommand uses these, so "--threads 1000" and "1e308" mean the same thing everywhere.
 *
 * Each returns 0 on success, -1 on failure with a sentence naming the problem in `why` (a
 * caller-owned buffer of why_size bytes; may be NULL). Outputs are written only on success.
 * Thread-safety: pure functions (kat_cli_threads_max reads sysconf).
 */
#ifndef KAT_CLI_PARSE_H
#define KAT_CLI_PARSE_H

#include <stddef.h>

/* The largest |coordinate| and side a box may have, in pixels (larger than any video). */
#define KAT_CLI_BOX_MAX 1e6

/* A base-10 integer in [lo, hi]: the whole string, no overflow. */
int kat_cli_parse_long(const char *s, long lo, long hi, long *out, char *why, size_t why_size);
int kat_cli_parse_int(const char *s, int lo, int hi, int *out, char *why, size_t why_size);
/* A finite real in [lo, hi] (no inf, no nan): the whole string. */
int kat_cli_parse_double(const char *s, double lo, double hi, double *out, char *why,
                         size_t why_size);
/*
 * A box "x,y,w,h" (commas or blanks between the numbers, trailing blanks or a newline allowed):
 * every number finite, |x|, |y| <= KAT_CLI_BOX_MAX, 0 < w, h <= KAT_CLI_BOX_MAX.
 */
int kat_cli_parse_box(const char *s, double box[4], char *why, size_t why_size);
/* "x,y[,label]": a point (|x|, |y| <= KAT_CLI_BOX_MAX) and its label, 1 (positive, the default)
 * or 0 (negative). 0, or -1 with the reason. */
int kat_cli_parse_point(const char *s, double xy[2], int *label, char *why, size_t why_size);
/* "WxH" with lo <= W, H <= hi. */
int kat_cli_parse_size(const char *s, int lo, int hi, int *w, int *h, char *why, size_t why_size);
/* The most intra-op threads one module session may get: 4 x the online cores (at least 4). */
int kat_cli_threads_max(void);
/*
 * --threads: one count for every module, or exactly `modules` comma-separated counts (in module
 * order); each in [1, kat_cli_threads_max()]. values holds `modules` ints; *count is 1 or modules.
 */
int kat_cli_parse_threads(const char *s, int modules, int *values, int *count, char *why,
                          size_t why_size);

#endif /* KAT_CLI_PARSE_H */
