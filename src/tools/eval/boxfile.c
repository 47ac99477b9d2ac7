/*
 * LaSOT text files: box files (groundtruth.txt, boxes.txt: one box per line, x,y,w,h, absent
 * frames as 0,0,0,0 or NaN) and flag files (full_occlusion.txt, out_of_view.txt: 0/1 per frame).
 */
#include "tools/eval/results.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ---- box files ---- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

/* Parses the four numbers of one NUL-terminated line. Returns 0 or KAT_EFORMAT with a message. */
static int parse_box_line(const char *line, const char *name, size_t lineno, kat__eval_box *out,
                          char *err, size_t err_size) {
  double v[4];
  size_t n = 0;
  const char *p = line;
  while (is_blank(*p)) p++;
  while (*p) {
    if (n == 4)
      return kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s:%zu: more than 4 numbers (expected x,y,w,h): \"%s\"", name, lineno,
                             line);
    char *end = NULL;
    errno = 0;
    double x = strtod(p, &end);
    if (end == p)
      return kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s:%zu: expected a number at column %zu: \"%s\"", name, lineno,
                             (size_t)(p - line) + 1, line);
    if (isinf(x))
      return kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: infinite value: \"%s\"", name,
                             lineno, line);
    v[n++] = x;
    p = end;
    /* A separator: blanks, at most one comma, blanks. Anything else is an error. */
    while (is_blank(*p)) p++;
    if (*p == ',') {
      p++;
      while (is_blank(*p)) p++;
      if (*p == '\0' || *p == ',')
        return kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: empty field: \"%s\"", name,
                               lineno, line);
    } else if (*p && p == end) {
      return kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s:%zu: unexpected character '%c' at column %zu: \"%s\"", name,
                             lineno, *p, (size_t)(p - line) + 1, line);
    }
  }
  if (n != 4)
    return kat__eval_error(err, err_size, KAT_EFORMAT,
                           "%s:%zu: expected 4 numbers (x,y,w,h), got %zu: \"%s\"", name, lineno, n,
                           line);
  out->x = v[0];
  out->y = v[1];
  out->w = v[2];
  out->h = v[3];
  return KAT_OK;
}

int kat__boxfile_parse(const char *text, size_t len, const char *name, kat__eval_box **boxes,
                       size_t *count, char *err, size_t err_size) {
  *boxes = NULL;
  *count = 0;
  /* Count lines for the worst-case allocation. */
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  size_t bytes;
  kat__eval_box *out = NULL;
  if (!kat__size_mul(lines, sizeof *out, &bytes) || !(out = kat__malloc(bytes)))
    return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", name);

  size_t n = 0, lineno = 0, first_blank = 0; /* first_blank: line of a pending blank run */
  size_t pos = 0;
  int status = KAT_OK;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    lineno++;
    char line[512];
    size_t ll = end - pos;
    while (ll > 0 && (text[pos + ll - 1] == '\r')) ll--;
    if (ll >= sizeof line) {
      status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: line too long (%zu bytes)",
                               name, lineno, ll);
      goto fail;
    }
    memcpy(line, text + pos, ll);
    line[ll] = '\0';
    pos = end + 1;
    size_t b = 0;
    while (b < ll && is_blank(line[b])) b++;
    if (b == ll) {
      if (!first_blank) first_blank = lineno;
      continue;
    }
    if (first_blank) {
      status = kat__eval_error(err, err_size, KAT_EFORMAT,
                               "%s:%zu: blank line before the last box (frame numbers would "
                               "shift); write 0,0,0,0 or NaN for an absent target",
                               name, first_blank);
      goto fail;
    }
    status = parse_box_line(line, name, lineno, &out[n], err, err_size);
    if (status != KAT_OK) goto fail;
    n++;
  }
  if (n == 0) {
    kat__free(out);
    out = NULL;
  }
  *boxes = out;
  *count = n;
  return KAT_OK;
fail:
  kat__free(out);
  return status;
}

/* ---- flag files ---- */

int kat__flags_parse(const char *text, size_t len, const char *name, uint8_t *flags, size_t count,
                     char *err, size_t err_size) {
  size_t n = 0, lineno = 1;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == '\n') lineno++;
    if (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if ((c != '0' && c != '1') || (i + 1 < len && text[i + 1] >= '0' && text[i + 1] <= '9'))
      return kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: expected 0 or 1 flags", name,
                             lineno);
    if (n == count)
      return kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s: more flags than the %zu frames of the box file", name, count);
    flags[n++] = c == '1';
  }
  if (n != count)
    return kat__eval_error(err, err_size, KAT_EFORMAT,
                           "%s: %zu flags for the %zu frames of the box file", name, n, count);
  return KAT_OK;
}
