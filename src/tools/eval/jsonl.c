/*
 * The results.jsonl reader: one JSON object per frame (only "frame", "box", "present" and
 * "candidate" are read), each line parsed by the one JSON parser (model/json.h).
 */
#include "tools/eval/results.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/json.h"

/* ---- results.jsonl ---- */

#define RESULTS_STR2(x) #x
#define RESULTS_STR(x) RESULTS_STR2(x)

static int jerr(char *err, size_t err_size, const char *name, size_t lineno, const char *what) {
  return kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: %s", name, lineno, what);
}

/* One box coordinate: a number, or null (NaN). */
static bool box_coord(const kat__json *v, double *out) {
  if (kat__json_is_null(v)) {
    *out = NAN;
    return true;
  }
  return kat__json_double(v, out);
}

/* Reads the members this reader knows from one line's object into r. */
static int read_record(const kat__json *obj, const char *name, size_t lineno, kat__jsonl_record *r,
                       char *err, size_t err_size) {
  double v;
  const kat__json *m = kat__json_get(obj, "frame");
  if (m) {
    if (!kat__json_double(m, &v) || v < 0 || v > KAT_EVAL_MAX_FRAME || v != floor(v))
      return jerr(err, err_size, name, lineno,
                  "\"frame\" must be an integer from 0 to " RESULTS_STR(KAT_EVAL_MAX_FRAME));
    r->frame = (long long)v;
  }
  if ((m = kat__json_get(obj, "candidate")) && !kat__json_is_null(m)) {
    if (!kat__json_double(m, &v) || v < -1 || v > 1000 || v != floor(v))
      return jerr(err, err_size, name, lineno, "\"candidate\" must be a small integer");
    r->candidate = (int)v;
  }
  bool present = true;
  if ((m = kat__json_get(obj, "present")) && !kat__json_bool(m, &present))
    return jerr(err, err_size, name, lineno, "\"present\" must be true or false");
  if ((m = kat__json_get(obj, "box"))) {
    double b[4];
    if (!kat__json_is_null(m)) {
      if (kat__json_type(m) != KAT_JSON_ARRAY)
        return jerr(err, err_size, name, lineno, "\"box\" must be [x,y,w,h] or null");
      if (kat__json_len(m) != 4)
        return jerr(err, err_size, name, lineno, "\"box\" must be [x,y,w,h]");
      for (size_t i = 0; i < 4; i++)
        if (!box_coord(kat__json_at(m, i), &b[i]))
          return jerr(err, err_size, name, lineno, "\"box\" must hold 4 numbers");
      r->box.x = b[0];
      r->box.y = b[1];
      r->box.w = b[2];
      r->box.h = b[3];
    }
    r->has_box = true;
  }
  if (!present) r->box.x = r->box.y = r->box.w = r->box.h = NAN;
  return KAT_OK;
}

/* Parses one non-blank line (text[0..len)) into r. */
static int parse_jsonl_line(const char *text, size_t len, const char *name, size_t lineno,
                            long long default_frame, kat__jsonl_record *r, char *err,
                            size_t err_size) {
  r->frame = default_frame;
  r->has_box = false;
  r->box.x = r->box.y = r->box.w = r->box.h = NAN;
  r->candidate = -1;
  char origin[512];
  snprintf(origin, sizeof origin, "%s:%zu", name, lineno);
  kat__errbuf eb = {{0}};
  kat__json_doc *doc = NULL;
  int status = kat__json_parse(text, len, origin, NULL, &doc, &eb);
  if (status != KAT_OK) return kat__eval_error(err, err_size, status, "%s", eb.msg);
  const kat__json *root = kat__json_root(doc);
  if (kat__json_type(root) != KAT_JSON_OBJECT)
    status = jerr(err, err_size, name, lineno, "expected a JSON object");
  else
    status = read_record(root, name, lineno, r, err, err_size);
  kat__json_destroy(doc);
  return status;
}

int kat__jsonl_parse(const char *text, size_t len, const char *name, kat__jsonl_record **records,
                     size_t *count, char *err, size_t err_size) {
  *records = NULL;
  *count = 0;
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  size_t bytes;
  if (!kat__size_mul(lines, sizeof(kat__jsonl_record), &bytes))
    return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: too many lines", name);
  kat__jsonl_record *out = kat__malloc(bytes);
  if (!out) return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", name);
  size_t n = 0, lineno = 0, pos = 0;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    lineno++;
    size_t start = pos;
    pos = end + 1;
    while (start < end && (text[start] == ' ' || text[start] == '\t' || text[start] == '\r'))
      start++;
    if (start == end) continue;
    int status = parse_jsonl_line(text + start, end - start, name, lineno, (long long)n, &out[n],
                                  err, err_size);
    if (status != KAT_OK) {
      kat__free(out);
      return status;
    }
    n++;
  }
  if (n == 0) {
    kat__free(out);
    out = NULL;
  }
  *records = out;
  *count = n;
  return KAT_OK;
}
