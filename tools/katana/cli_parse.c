/*
 * Command-line number and list parsing shared by every katana subcommand (see cli_parse.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_size, const char *fmt, ...) {
  if (why && why_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int kat_cli_parse_long(const char *s, long lo, long hi, long *out, char *why, size_t why_size) {
  if (!s || !*s) return fail(why, why_size, "an empty value is not an integer");
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end) return fail(why, why_size, "'%s' is not an integer", s);
  if (errno == ERANGE || v < lo || v > hi)
    return fail(why, why_size, "%s is out of range (%ld..%ld)", s, lo, hi);
  *out = v;
  return 0;
}

int kat_cli_parse_int(const char *s, int lo, int hi, int *out, char *why, size_t why_size) {
  long v;
  if (kat_cli_parse_long(s, lo, hi, &v, why, why_size)) return -1;
  *out = (int)v;
  return 0;
}

/* strtod of one number at *p; advances *p. 0 when finite, else -1 with the reason. */
static int real_at(const char **p, double *out, char *why, size_t why_size) {
  char *end = NULL;
  errno = 0;
  double v = strtod(*p, &end);
  if (end == *p) return fail(why, why_size, "'%s' is not a number", *p);
  if (!isfinite(v) || errno == ERANGE)
    return fail(why, why_size, "%.*s is not a finite number in range", (int)(end - *p), *p);
  *p = end;
  *out = v;
  return 0;
}

int kat_cli_parse_double(const char *s, double lo, double hi, double *out, char *why,
                         size_t why_size) {
  if (!s || !*s) return fail(why, why_size, "an empty value is not a number");
  const char *p = s;
  double v;
  if (real_at(&p, &v, why, why_size)) return -1;
  if (*p) return fail(why, why_size, "'%s' is not a number", s);
  if (!(v >= lo && v <= hi)) return fail(why, why_size, "%s is out of range [%g, %g]", s, lo, hi);
  *out = v;
  return 0;
}

static int is_blank(char c) {
  return c == ' ' || c == '\t';
}

int kat_cli_parse_box(const char *s, double box[4], char *why, size_t why_size) {
  static const char *const k_name[4] = {"x", "y", "w", "h"};
  double v[4];
  const char *p = s ? s : "";
  for (int i = 0; i < 4; i++) {
    while (is_blank(*p)) p++;
    if (!*p || *p == '\r' || *p == '\n')
      return fail(why, why_size, "a box needs four numbers x,y,w,h; %s is missing", k_name[i]);
    char inner[160];
    if (real_at(&p, &v[i], inner, sizeof inner))
      return fail(why, why_size, "%s: %s", k_name[i], inner);
    while (is_blank(*p)) p++;
    if (i < 3 && *p == ',') p++;
  }
  while (is_blank(*p) || *p == '\r' || *p == '\n') p++;
  if (*p) return fail(why, why_size, "a box has four numbers x,y,w,h; extra text '%s'", p);
  for (int i = 0; i < 2; i++)
    if (fabs(v[i]) > KAT_CLI_BOX_MAX)
      return fail(why, why_size, "%s = %g is out of range (|%s| <= %g)", k_name[i], v[i], k_name[i],
                  KAT_CLI_BOX_MAX);
  for (int i = 2; i < 4; i++)
    if (!(v[i] > 0) || v[i] > KAT_CLI_BOX_MAX)
      return fail(why, why_size, "%s = %g must be > 0 and <= %g", k_name[i], v[i], KAT_CLI_BOX_MAX);
  memcpy(box, v, sizeof v);
  return 0;
}

int kat_cli_parse_point(const char *s, double xy[2], int *label, char *why, size_t why_size) {
  static const char *const k_name[3] = {"x", "y", "label"};
  double v[3] = {0, 0, 1};
  const char *p = s ? s : "";
  int n = 0;
  for (; n < 3; n++) {
    while (is_blank(*p)) p++;
    if (!*p) {
      if (n > 0) return fail(why, why_size, "a point is x,y[,label]; nothing after the last ','");
      break;
    }
    char inner[160];
    if (real_at(&p, &v[n], inner, sizeof inner))
      return fail(why, why_size, "%s: %s", k_name[n], inner);
    while (is_blank(*p)) p++;
    if (*p == ',') {
      p++;
      if (n == 2) return fail(why, why_size, "a point is x,y[,label]; extra text '%s'", p - 1);
    } else if (*p) {
      return fail(why, why_size, "a point is x,y[,label]; unexpected '%s'", p);
    } else {
      n++;
      break;
    }
  }
  if (n < 2) return fail(why, why_size, "a point needs x,y[,label]; %s is missing", k_name[n]);
  for (int i = 0; i < 2; i++)
    if (fabs(v[i]) > KAT_CLI_BOX_MAX)
      return fail(why, why_size, "%s = %g is out of range (|%s| <= %g)", k_name[i], v[i], k_name[i],
                  KAT_CLI_BOX_MAX);
  if (v[2] != 0 && v[2] != 1)
    return fail(why, why_size, "label = %g must be 1 (positive) or 0 (negative)", v[2]);
  xy[0] = v[0];
  xy[1] = v[1];
  *label = (int)v[2];
  return 0;
}

int kat_cli_parse_size(const char *s, int lo, int hi, int *w, int *h, char *why, size_t why_size) {
  const char *x = s ? strchr(s, 'x') : NULL;
  char wbuf[32];
  size_t wl = x ? (size_t)(x - s) : 0;
  if (!x || wl == 0 || wl >= sizeof wbuf) return fail(why, why_size, "'%s' is not WxH", s ? s : "");
  memcpy(wbuf, s, wl);
  wbuf[wl] = '\0';
  char inner[160];
  int a, b;
  if (kat_cli_parse_int(wbuf, lo, hi, &a, inner, sizeof inner))
    return fail(why, why_size, "width: %s", inner);
  if (kat_cli_parse_int(x + 1, lo, hi, &b, inner, sizeof inner))
    return fail(why, why_size, "height: %s", inner);
  *w = a;
  *h = b;
  return 0;
}

int kat_cli_threads_max(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (cores > 4096) cores = 4096;
  return (int)(4 * cores);
}

int kat_cli_parse_threads(const char *s, int modules, int *values, int *count, char *why,
                          size_t why_size) {
  const int cap = kat_cli_threads_max();
  const char *p = s ? s : "";
  int n = 0;
  int v[64];
  if (modules < 1 || modules > 64) return fail(why, why_size, "bad module count");
  for (;;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    char tok[32], inner[160];
    if (n == modules)
      return fail(why, why_size, "'%s' has more than %d values (one, or one per module)", s,
                  modules);
    if (len == 0 || len >= sizeof tok)
      return fail(why, why_size, "'%s' has an empty or overlong value", s);
    memcpy(tok, p, len);
    tok[len] = '\0';
    if (kat_cli_parse_int(tok, 1, cap, &v[n], inner, sizeof inner))
      return fail(why, why_size, "%s (at most 4 x %d online cores = %d threads per module)", inner,
                  cap / 4, cap);
    n++;
    if (!c) break;
    p = c + 1;
  }
  if (n != 1 && n != modules)
    return fail(why, why_size,
                "'%s' has %d values: give one for every module or exactly %d "
                "(image_encoder,memory_attention,mask_decoder,memory_encoder)",
                s, n, modules);
  memcpy(values, v, (size_t)n * sizeof *v);
  *count = n;
  return 0;
}
