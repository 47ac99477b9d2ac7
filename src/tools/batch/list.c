/*
 * Batch manifests (src/tools/batch/batch.h, batch/list.h): reads a JSONL or CSV list of videos into
 * entries, with the project's one JSON parser (src/model/json.c) for JSONL lines and inline
 * prompts.
 *
 * The whole file is read at once (at most 64 MiB) and split into lines; each line becomes an
 * entry whether or not it parses, so entry indices, and with them the shards, do not move when
 * one line is broken. A broken line keeps its message in `error`. Every string and array an
 * entry points to is its own allocation, freed by kat__batch_manifest_destroy.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tools/batch/list.h"
#include "tools/batch/batch.h"
#include "model/json.h"
#include "track/prompts_file.h"

#define MAX_FILE_BYTES ((size_t)64 << 20)
#define MAX_LINES 1000000
#define MAX_ID 64
#define MAX_CSV_COLS 16

struct kat__batch_manifest {
  kat__batch_entry *entries; /* [n] */
  size_t n;
};

typedef struct why_buf {
  char s[512];
} why_buf;

static int why_set(why_buf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int why_set(why_buf *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->s, sizeof w->s, fmt, ap);
  va_end(ap);
  return -1;
}

static void err_put(char *err, size_t size, const char *msg) {
  if (err && size) kat__strlcpy(err, msg, size);
}

/* Reads the whole file into a NUL-terminated buffer (caller frees). */
static int read_all(const char *path, char **out, size_t *len, char *err, size_t err_size) {
  char msg[600];
  FILE *f = fopen(path, "rb");
  if (!f) {
    const int e = errno;
    snprintf(msg, sizeof msg, "cannot open the manifest '%s': %s", path, strerror(e));
    err_put(err, err_size, msg);
    return e == ENOENT ? KAT_ENOENT : KAT_EIO;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = kat__malloc(cap + 1);
  int rc = KAT_OK;
  if (!buf) {
    rc = KAT_ENOMEM;
    goto cleanup;
  }
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_FILE_BYTES) {
        snprintf(msg, sizeof msg, "the manifest '%s' is larger than %zu MiB", path,
                 MAX_FILE_BYTES >> 20);
        err_put(err, err_size, msg);
        rc = KAT_EFORMAT;
        goto cleanup;
      }
      char *nb = kat__realloc(buf, cap * 2 + 1);
      if (!nb) {
        rc = KAT_ENOMEM;
        goto cleanup;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    snprintf(msg, sizeof msg, "cannot read the manifest '%s'", path);
    err_put(err, err_size, msg);
    rc = KAT_EIO;
    goto cleanup;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
cleanup:
  if (rc == KAT_ENOMEM) err_put(err, err_size, "out of memory reading the manifest");
  kat__free(buf);
  fclose(f);
  return rc;
}

/* ---- prompts ---- */

static int box_valid(const double b[4], why_buf *w) {
  for (int k = 0; k < 4; k++)
    if (!isfinite(b[k])) return why_set(w, "the box has a value that is not a finite number");
  if (!(b[2] > 0 && b[3] > 0))
    return why_set(w, "the box [%g, %g, %g, %g] has no area (w and h must be > 0)", b[0], b[1],
                   b[2], b[3]);
  return 0;
}

static int json_box(const kat__json *v, double box[4], why_buf *w) {
  if (kat__json_type(v) != KAT_JSON_ARRAY || kat__json_len(v) != 4)
    return why_set(w, "\"box\" must be [x, y, w, h]");
  for (size_t k = 0; k < 4; k++)
    if (!kat__json_double(kat__json_at(v, k), &box[k]))
      return why_set(w, "\"box\" must be [x, y, w, h] of numbers");
  return box_valid(box, w);
}

/* Appends click (x, y, label) to p; -1 when p is full or the values are bad. */
static int add_point(kat_prompt *p, const double xyl[3]) {
  if (p->n_points >= KAT_MAX_PROMPT_POINTS || !isfinite(xyl[0]) || !isfinite(xyl[1]) ||
      (xyl[2] != 0.0 && xyl[2] != 1.0))
    return -1;
  p->points[p->n_points][0] = xyl[0];
  p->points[p->n_points][1] = xyl[1];
  p->labels[p->n_points] = (int)xyl[2];
  p->n_points++;
  return 0;
}

/* A line's "points": [[x, y, label], ...] (label defaults to 1 in [x, y]) into p's clicks. */
static int json_points(const kat__json *v, kat_prompt *p, why_buf *w) {
  const size_t len = kat__json_len(v);
  if (kat__json_type(v) != KAT_JSON_ARRAY || len == 0 || len > KAT_MAX_PROMPT_POINTS)
    return why_set(w, "\"points\" must be a list of 1 to %d [x, y, label] points",
                   KAT_MAX_PROMPT_POINTS);
  for (size_t i = 0; i < len; i++) {
    const kat__json *pt = kat__json_at(v, i);
    const size_t k = kat__json_len(pt);
    double xyl[3] = {0, 0, 1};
    int ok = kat__json_type(pt) == KAT_JSON_ARRAY && (k == 2 || k == 3);
    for (size_t j = 0; ok && j < k; j++) ok = kat__json_double(kat__json_at(pt, j), &xyl[j]);
    if (!ok || add_point(p, xyl))
      return why_set(w, "point %zu must be [x, y] or [x, y, label] with label 0 or 1", i);
  }
  return 0;
}

/* ---- entries ---- */

/* Joins a relative path to the manifest's folder; URLs and absolute paths stay as written. */
static char *resolve(const char *base, const char *s) {
  if (!base || s[0] == '/' || strstr(s, "://")) return kat__strdup(s);
  size_t n = strlen(base) + strlen(s) + 2;
  char *r = kat__malloc(n);
  if (r) snprintf(r, n, "%s/%s", base, s);
  return r;
}

static int id_valid(const char *id, why_buf *w) {
  size_t n = strlen(id);
  if (n == 0 || n > MAX_ID || id[0] == '.')
    return why_set(w, "the id '%.80s' must be 1 to %d characters and not start with '.'", id,
                   MAX_ID);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)id[i];
    if (!isalnum(c) && c != '.' && c != '_' && c != '-')
      return why_set(w, "the id '%.80s' may hold only letters, digits, '.', '_' and '-'", id);
  }
  return 0;
}

/* What one line says, before it becomes an entry (strings borrowed from the line or the DOM). */
typedef struct line_fields {
  const char *id, *source, *prompts_file, *groundtruth, *selection;
  int64_t max_frames;
  kat_prompt_list *prompts; /* owned until moved into the entry */
} line_fields;

static int check_fields(line_fields *f, int n_prompt_sources, why_buf *w) {
  if (!f->source || !f->source[0]) return why_set(w, "no \"source\"");
  if (n_prompt_sources != 1)
    return why_set(w, "needs exactly one of \"box\", \"points\" and \"prompts\" (has %d)",
                   n_prompt_sources);
  if (f->selection && strcmp(f->selection, "samurai") && strcmp(f->selection, "sam2"))
    return why_set(w, "\"selection\" must be samurai or sam2, not '%.40s'", f->selection);
  if (f->id && id_valid(f->id, w)) return -1;
  return 0;
}

/* Makes f's prompts the one entry `p` (frame 0, object 0), unless it has prompts already. */
static int one_prompt(line_fields *f, const kat_prompt *p, why_buf *w) {
  if (f->prompts) return 0;
  f->prompts = kat__calloc(1, sizeof *f->prompts);
  if (f->prompts) f->prompts->entries = kat__calloc(1, sizeof *f->prompts->entries);
  if (!f->prompts || !f->prompts->entries) {
    kat_prompts_free(f->prompts);
    f->prompts = NULL;
    return why_set(w, "out of memory");
  }
  f->prompts->count = 1;
  f->prompts->entries[0].prompt = *p;
  return 0;
}

/* Parses one JSONL line into f (strings borrowed from *doc, which the caller destroys). */
static int jsonl_line(const char *s, size_t len, const char *origin, const char *base,
                      line_fields *f, kat__json_doc **doc, why_buf *w) {
  kat__errbuf eb;
  if (kat__json_parse(s, len, origin, NULL, doc, &eb)) return why_set(w, "%s", eb.msg);
  const kat__json *o = kat__json_root(*doc);
  if (kat__json_type(o) != KAT_JSON_OBJECT) return why_set(w, "the line is not a JSON object");
  int n_ps = 0;
  for (size_t k = 0; k < kat__json_len(o); k++) {
    const kat__json *v = kat__json_at(o, k);
    const char *key = kat__json_key(v);
    const char **str = !strcmp(key, "id")            ? &f->id
                       : !strcmp(key, "source")      ? &f->source
                       : !strcmp(key, "groundtruth") ? &f->groundtruth
                       : !strcmp(key, "selection")   ? &f->selection
                                                     : NULL;
    if (str) {
      if (!(*str = kat__json_string(v, NULL))) return why_set(w, "\"%s\" must be a string", key);
    } else if (!strcmp(key, "frames")) {
      if (!kat__json_int64(v, &f->max_frames) || f->max_frames < 1 || f->max_frames > 100000000)
        return why_set(w, "\"frames\" must be an integer from 1 to 100000000");
    } else if (!strcmp(key, "box")) {
      kat_prompt p;
      kat_prompt_init(&p);
      p.has_box = 1;
      n_ps++;
      if (json_box(v, p.box, w) || one_prompt(f, &p, w)) return -1;
    } else if (!strcmp(key, "points")) {
      kat_prompt p;
      kat_prompt_init(&p);
      n_ps++;
      if (json_points(v, &p, w) || one_prompt(f, &p, w)) return -1;
    } else if (!strcmp(key, "prompts")) {
      n_ps++;
      if (kat__json_type(v) == KAT_JSON_STRING) {
        f->prompts_file = kat__json_string(v, NULL);
      } else if (!f->prompts) {
        kat__errbuf pb = {{0}};
        if (kat__prompts_from_json(v, "\"prompts\"", base ? base : ".", &f->prompts, &pb))
          return why_set(w, "%s", pb.msg);
      }
    } else {
      return why_set(w, "unknown key \"%s\"", key);
    }
  }
  return check_fields(f, n_ps, w);
}

/* Splits a CSV line (RFC 4180 quotes, no line breaks inside quotes) into fields, in place. */
static int csv_split(char *s, char **fields, int max, int *n, why_buf *w) {
  int k = 0;
  char *p = s;
  for (;;) {
    if (k == max) return why_set(w, "more than %d columns", max);
    char *out = p, *start = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0') return why_set(w, "a quoted field is not closed");
        if (*p == '"' && p[1] == '"') {
          *out++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *out++ = *p++;
        }
      }
      if (*p != ',' && *p != '\0') return why_set(w, "text after a closing quote");
    } else {
      while (*p && *p != ',') p++;
      out = p;
    }
    const char sep = *p;
    *out = '\0';
    fields[k++] = start;
    if (sep == '\0') break;
    p++;
  }
  *n = k;
  return 0;
}

/* Numbers separated by commas and/or spaces: up to max of them into v; *n gets the count. */
static int parse_numbers(const char *s, double *v, int max, int *n) {
  int k = 0;
  for (;;) {
    while (*s == ' ' || *s == ',' || *s == '\t') s++;
    if (!*s) break;
    if (k == max) return -1;
    char *end;
    errno = 0;
    v[k] = strtod(s, &end);
    if (end == s || errno || !isfinite(v[k])) return -1;
    k++;
    s = end;
    if (*s && *s != ' ' && *s != ',' && *s != '\t') return -1;
  }
  *n = k;
  return 0;
}

enum { COL_ID, COL_SOURCE, COL_BOX, COL_POINTS, COL_PROMPTS, COL_GT, COL_FRAMES, COL_SEL, NCOLS };
static const char *const k_cols[NCOLS] = {"id",      "source",      "box",    "points",
                                          "prompts", "groundtruth", "frames", "selection"};

static int csv_line(char *s, const int *colmap, int ncols, line_fields *f, why_buf *w) {
  char *fields[MAX_CSV_COLS];
  int n = 0, n_ps = 0;
  if (csv_split(s, fields, MAX_CSV_COLS, &n, w)) return -1;
  if (n != ncols) return why_set(w, "%d fields, the header has %d", n, ncols);
  for (int i = 0; i < n; i++) {
    const char *v = fields[i];
    if (!v[0]) continue;
    switch (colmap[i]) {
      case COL_ID: f->id = v; break;
      case COL_SOURCE: f->source = v; break;
      case COL_GT: f->groundtruth = v; break;
      case COL_SEL: f->selection = v; break;
      case COL_PROMPTS:
        n_ps++;
        f->prompts_file = v;
        break;
      case COL_FRAMES: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (*end || errno || x < 1 || x > 100000000)
          return why_set(w, "frames '%.40s' must be an integer from 1 to 100000000", v);
        f->max_frames = x;
        break;
      }
      case COL_BOX: {
        kat_prompt pr;
        int k = 0;
        kat_prompt_init(&pr);
        pr.has_box = 1;
        n_ps++;
        if (parse_numbers(v, pr.box, 4, &k) || k != 4)
          return why_set(w, "box '%.80s' must be x,y,w,h", v);
        if (box_valid(pr.box, w) || one_prompt(f, &pr, w)) return -1;
        break;
      }
      case COL_POINTS: {
        kat_prompt pr;
        kat_prompt_init(&pr);
        n_ps++;
        const char *p = v;
        while (*p) {
          char one[256];
          size_t len = strcspn(p, ";");
          int k = 0;
          double xyl[3] = {0, 0, 1};
          if (len >= sizeof one || pr.n_points == KAT_MAX_PROMPT_POINTS)
            return why_set(w, "points '%.80s': more than %d points or too long", v,
                           KAT_MAX_PROMPT_POINTS);
          memcpy(one, p, len);
          one[len] = '\0';
          if (parse_numbers(one, xyl, 3, &k) || k < 2 || add_point(&pr, xyl))
            return why_set(w, "points '%.80s' must be 'x y label;x y label' (label 0 or 1)", v);
          p += len;
          if (*p == ';') p++;
        }
        if (pr.n_points == 0) return why_set(w, "points is empty");
        if (one_prompt(f, &pr, w)) return -1;
        break;
      }
      default: break;
    }
  }
  return check_fields(f, n_ps, w);
}

/* Moves what `f` says into entry e (copying strings); 0, or -1 when out of memory. */
static int entry_fill(kat__batch_entry *e, line_fields *f, const char *base) {
  char idbuf[32];
  if (!f->id) {
    snprintf(idbuf, sizeof idbuf, "%06zu", e->index);
    f->id = idbuf;
  }
  e->id = kat__strdup(f->id);
  e->source = f->source ? resolve(base, f->source) : NULL;
  e->prompts_file = f->prompts_file ? resolve(base, f->prompts_file) : NULL;
  e->groundtruth = f->groundtruth ? resolve(base, f->groundtruth) : NULL;
  e->selection = f->selection ? kat__strdup(f->selection) : NULL;
  e->max_frames = f->max_frames;
  e->prompts = f->prompts;
  f->prompts = NULL;
  if (!e->id || (f->source && !e->source) || (f->prompts_file && !e->prompts_file) ||
      (f->groundtruth && !e->groundtruth) || (f->selection && !e->selection))
    return -1;
  return 0;
}

static void entry_free(kat__batch_entry *e) {
  kat__free((void *)e->id);
  kat__free((void *)e->source);
  kat__free((void *)e->prompts_file);
  kat__free((void *)e->groundtruth);
  kat__free((void *)e->selection);
  kat__free((void *)e->error);
  kat_prompts_free((kat_prompt_list *)e->prompts);
}

void kat__batch_manifest_destroy(kat__batch_manifest *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) entry_free(&m->entries[i]);
  kat__free(m->entries);
  kat__free(m);
}

size_t kat__batch_manifest_count(const kat__batch_manifest *m) {
  return m ? m->n : 0;
}

const kat__batch_entry *kat__batch_manifest_entry(const kat__batch_manifest *m, size_t i) {
  return m && i < m->n ? &m->entries[i] : NULL;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_id(const void *a, const void *b) {
  const kat__batch_entry *x = *(const kat__batch_entry *const *)a;
  const kat__batch_entry *y = *(const kat__batch_entry *const *)b;
  int c = strcmp(x->id, y->id);
  return c ? c : (x->index < y->index ? -1 : x->index > y->index);
}

/* Marks every entry whose id an earlier entry already has. */
static int mark_duplicates(kat__batch_manifest *m) {
  if (m->n < 2) return 0;
  const kat__batch_entry **v = kat__malloc(m->n * sizeof *v);
  if (!v) return -1;
  for (size_t i = 0; i < m->n; i++) v[i] = &m->entries[i];
  qsort(v, m->n, sizeof *v, cmp_id);
  size_t first = 0; /* the group's first entry (lowest index) keeps the id */
  for (size_t i = 1; i < m->n; i++) {
    if (strcmp(v[i]->id, v[first]->id)) {
      first = i;
      continue;
    }
    kat__batch_entry *e = &m->entries[v[i]->index];
    char msg[200];
    snprintf(msg, sizeof msg, "the id '%s' is also the id of line %lld", e->id,
             (long long)v[first]->line);
    /* The line's ERROR must not land in the folder of the line that owns the id. */
    char dup[32];
    snprintf(dup, sizeof dup, "dup-%06zu", e->index);
    char *id = kat__strdup(dup);
    if (!id || (!e->error && !(e->error = kat__strdup(msg)))) {
      kat__free(id);
      kat__free(v);
      return -1;
    }
    kat__free((void *)e->id);
    e->id = id;
  }
  kat__free(v);
  return 0;
}

int kat__batch_manifest_parse(char *text, size_t len, const char *path, kat__batch_manifest **out,
                              char *err, size_t err_size) {
  char *base = NULL;
  char msg[700];
  kat__batch_manifest *m = NULL;
  int colmap[MAX_CSV_COLS], ncols = 0;
  int rc = KAT_ENOMEM;
  *out = NULL;
  const char *slash = strrchr(path, '/');
  if (slash) {
    size_t n = (size_t)(slash - path);
    if (!(base = kat__malloc(n + 2))) goto cleanup;
    memcpy(base, path, n ? n : 1);
    base[n ? n : 1] = '\0';
  }
  size_t n_lines = 1;
  for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
  if (n_lines > MAX_LINES) {
    snprintf(msg, sizeof msg, "the manifest '%s' has more than %d lines", path, MAX_LINES);
    err_put(err, err_size, msg);
    rc = KAT_EFORMAT;
    goto cleanup;
  }
  if (!(m = kat__calloc(1, sizeof *m))) goto cleanup;
  if (!(m->entries = kat__calloc(n_lines, sizeof *m->entries))) goto cleanup;
  int jsonl;
  if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json")) {
    jsonl = 1;
  } else if (ends_with(path, ".csv")) {
    jsonl = 0;
  } else {
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) p++;
    jsonl = *p == '{';
  }
  int have_header = jsonl;
  char *line = text;
  for (int64_t lineno = 1; line && line < text + len + 1; lineno++) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    if (nl) *nl = '\0';
    size_t ll = strlen(line);
    if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '#') goto next;
    if (!have_header) {
      why_buf w;
      char *cols[MAX_CSV_COLS];
      if (csv_split(line, cols, MAX_CSV_COLS, &ncols, &w)) {
        snprintf(msg, sizeof msg, "%s:%lld: bad CSV header: %s", path, (long long)lineno, w.s);
        goto bad_header;
      }
      int seen[NCOLS] = {0};
      for (int c = 0; c < ncols; c++) {
        const char *name = cols[c];
        while (*name == ' ') name++;
        colmap[c] = -1;
        for (int k = 0; k < NCOLS; k++)
          if (!strcmp(name, k_cols[k])) colmap[c] = k;
        if (colmap[c] < 0 || seen[colmap[c]]++) {
          snprintf(msg, sizeof msg,
                   "%s:%lld: bad CSV header: column '%.40s' is unknown or repeated (columns: id, "
                   "source, box, points, prompts, groundtruth, frames, selection)",
                   path, (long long)lineno, name);
          goto bad_header;
        }
      }
      if (!seen[COL_SOURCE]) {
        snprintf(msg, sizeof msg, "%s:%lld: bad CSV header: no 'source' column", path,
                 (long long)lineno);
        goto bad_header;
      }
      have_header = 1;
      goto next;
    }
    {
      kat__batch_entry *e = &m->entries[m->n];
      line_fields f;
      why_buf w;
      kat__json_doc *doc = NULL;
      memset(&f, 0, sizeof f);
      e->index = m->n;
      e->line = lineno;
      int bad = jsonl ? jsonl_line(line, ll, NULL, base, &f, &doc, &w)
                      : csv_line(line, colmap, ncols, &f, &w);
      if (bad) {
        /* Keep the id if the line gave a valid one, so its ERROR lands in its own folder. */
        why_buf w2;
        if (f.id && id_valid(f.id, &w2)) f.id = NULL;
        f.source = f.prompts_file = f.groundtruth = f.selection = NULL;
        kat_prompts_free(f.prompts);
        f.prompts = NULL;
      }
      int fill = entry_fill(e, &f, base);
      kat_prompts_free(f.prompts);
      kat__json_destroy(doc);
      m->n++;
      if (fill || (bad && !(e->error = kat__strdup(w.s)))) goto cleanup;
    }
  next:
    line = nl ? nl + 1 : NULL;
  }
  if (mark_duplicates(m)) goto cleanup;
  *out = m;
  m = NULL;
  rc = KAT_OK;
  goto cleanup;
bad_header:
  err_put(err, err_size, msg);
  rc = KAT_EFORMAT;
cleanup:
  if (rc == KAT_ENOMEM) err_put(err, err_size, "out of memory reading the manifest");
  kat__batch_manifest_destroy(m);
  kat__free(base);
  return rc;
}

int kat__batch_manifest_read(const char *path, kat__batch_manifest **out, char *err,
                             size_t err_size) {
  char *text = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = read_all(path, &text, &len, err, err_size);
  if (rc) return rc;
  rc = kat__batch_manifest_parse(text, len, path, out, err, err_size);
  kat__free(text);
  return rc;
}
