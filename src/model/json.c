/*
 * Strict, bounded JSON parser (RFC 8259) building a read-only DOM.
 *
 * The parser is a loop over an explicit stack of open containers, so nesting depth costs heap
 * (bounded by max_depth) rather than C stack. Values are appended to one growing node array in
 * document order, each remembering its parent's index; decoded strings go to one pool of len + 1
 * bytes, which is always enough because a decoded string plus its NUL is shorter than its quoted
 * form. After the parse one pass gives every container a slice of a shared child-pointer array,
 * so array indexing is O(1) and object lookup a linear scan (manifests are small). Duplicate keys
 * are found by sorting each object's members (O(n log n), so large adversarial objects stay cheap).
 */
#include "model/json.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define DEFAULT_MAX_NODES ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH 64
#define MAX_DEPTH_LIMIT 100000
#define NUMBER_MAX_CHARS 511
#define NO_PARENT SIZE_MAX

struct kat__json {
  kat_json_type type;
  bool b;      /* KAT_JSON_BOOL */
  bool is_int; /* KAT_JSON_NUMBER written as an integer literal that fits int64 (inum) */
  int line, col;
  int64_t inum;
  double num;
  const char *key; /* member key (in the pool) when the parent is an object, else NULL */
  size_t key_len;
  const char *str; /* KAT_JSON_STRING, NUL-terminated, in the pool */
  size_t str_len;
  kat__json **kids; /* containers: n_kids children in input order */
  size_t n_kids;
  size_t parent; /* index of the parent during the parse; NO_PARENT for the root */
};

struct kat__json_doc {
  kat__json *nodes; /* n_nodes values in document order; nodes[0] is the root */
  size_t n_nodes, cap;
  char *pool; /* decoded strings and keys, each NUL-terminated */
  size_t pool_used, pool_cap;
  kat__json **kids; /* n_nodes - 1 child pointers shared by all containers */
};

typedef struct parser {
  const unsigned char *p, *end;
  int line, col; /* position of *p */
  const char *origin;
  kat__json_doc *doc;
  size_t max_nodes;
  kat_errbuf *eb;
} parser;

static int perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *ps, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return kat__fail(ps->eb, KAT_EFORMAT, "%s:%d:%d: %s", ps->origin ? ps->origin : "json", ps->line,
                   ps->col, msg);
}

/* Describes the byte at p for messages ("'x'", "byte 0x07", "end of input"). */
static void describe(const parser *ps, char *buf, size_t n) {
  if (ps->p >= ps->end) {
    snprintf(buf, n, "end of input");
  } else if (*ps->p >= 0x21 && *ps->p < 0x7f) {
    snprintf(buf, n, "'%c'", *ps->p);
  } else {
    snprintf(buf, n, "byte 0x%02x", *ps->p);
  }
}

static int unexpected(parser *ps, const char *what) {
  char d[32];
  describe(ps, d, sizeof d);
  return perr(ps, "expected %s, found %s", what, d);
}

/* Consumes one byte, keeping line and column (columns count characters, not bytes). */
static void adv(parser *ps) {
  unsigned char c = *ps->p++;
  if (c == '\n') {
    ps->line++;
    ps->col = 1;
  } else if ((c & 0xC0) != 0x80) {
    ps->col++;
  }
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    adv(ps);
}

static int new_node(parser *ps, kat_json_type type, size_t parent, size_t *out) {
  kat__json_doc *d = ps->doc;
  if (d->n_nodes == ps->max_nodes)
    return perr(ps, "too many values (the limit is %zu)", ps->max_nodes);
  if (d->n_nodes == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64, bytes;
    if (cap > ps->max_nodes) cap = ps->max_nodes;
    if (!kat__size_mul(cap, sizeof(kat__json), &bytes))
      return kat__fail(ps->eb, KAT_ENOMEM, "json: node array size overflows");
    kat__json *n = kat__realloc(d->nodes, bytes);
    if (!n) return kat__fail(ps->eb, KAT_ENOMEM, "json: out of memory for %zu values", cap);
    d->nodes = n;
    d->cap = cap;
  }
  kat__json *v = &d->nodes[d->n_nodes];
  memset(v, 0, sizeof *v);
  v->type = type;
  v->line = ps->line;
  v->col = ps->col;
  v->parent = parent;
  *out = d->n_nodes++;
  return KAT_OK;
}

static int hex4(parser *ps, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    if (ps->p >= ps->end) return perr(ps, "unterminated \\u escape");
    unsigned char c = *ps->p;
    unsigned h;
    if (c >= '0' && c <= '9') {
      h = (unsigned)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      h = (unsigned)(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      h = (unsigned)(c - 'A' + 10);
    } else {
      return unexpected(ps, "a hex digit in a \\u escape");
    }
    v = v * 16 + h;
    adv(ps);
  }
  *out = v;
  return KAT_OK;
}

static size_t put_utf8(char *dst, unsigned cp) {
  if (cp < 0x80) {
    dst[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    dst[0] = (char)(0xE0 | (cp >> 12));
    dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  dst[0] = (char)(0xF0 | (cp >> 18));
  dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  dst[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

/* Parses a string at p (which is '"') into the pool. */
static int parse_string(parser *ps, const char **out, size_t *out_len) {
  kat__json_doc *d = ps->doc;
  char *dst = d->pool + d->pool_used;
  size_t n = 0;
  int line0 = ps->line, col0 = ps->col;
  adv(ps); /* opening quote */
  for (;;) {
    if (ps->p >= ps->end) {
      return kat__fail(ps->eb, KAT_EFORMAT, "%s:%d:%d: unterminated string",
                       ps->origin ? ps->origin : "json", line0, col0);
    }
    /* The pool has len + 1 bytes and this string's output is shorter than its input. */
    KAT_ASSERT(d->pool_used + n + 4 < d->pool_cap);
    unsigned char c = *ps->p;
    if (c == '"') {
      adv(ps);
      break;
    }
    if (c < 0x20) return perr(ps, "control character 0x%02x in a string must be escaped", c);
    if (c == '\\') {
      adv(ps);
      if (ps->p >= ps->end) return perr(ps, "unterminated escape in a string");
      unsigned char e = *ps->p;
      const char *simple = strchr("\"\\/bfnrt", e);
      if (e != 0 && simple) {
        static const char repl[] = "\"\\/\b\f\n\r\t";
        dst[n++] = repl[simple - "\"\\/bfnrt"];
        adv(ps);
        continue;
      }
      if (e != 'u') return unexpected(ps, "an escape character (\" \\ / b f n r t u)");
      adv(ps);
      unsigned cp;
      int rc = hex4(ps, &cp);
      if (rc) return rc;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return perr(ps, "unpaired low surrogate \\u%04X in a string", cp);
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
          return perr(ps, "high surrogate \\u%04X is not followed by a low surrogate", cp);
        adv(ps);
        adv(ps);
        unsigned lo;
        rc = hex4(ps, &lo);
        if (rc) return rc;
        if (lo < 0xDC00 || lo > 0xDFFF)
          return perr(ps, "high surrogate \\u%04X is followed by \\u%04X, not a low surrogate", cp,
                      lo);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      n += put_utf8(dst + n, cp);
      continue;
    }
    if (c < 0x80) {
      dst[n++] = (char)c;
      adv(ps);
      continue;
    }
    size_t k = utf8_seq(ps->p, ps->end);
    if (k == 0) return perr(ps, "invalid UTF-8 byte 0x%02x in a string", c);
    for (size_t i = 0; i < k; i++) {
      dst[n++] = (char)*ps->p;
      adv(ps);
    }
  }
  dst[n] = '\0';
  d->pool_used += n + 1;
  *out = dst;
  *out_len = n;
  return KAT_OK;
}

static int parse_number(parser *ps, kat__json *v) {
  const unsigned char *s = ps->p;
  bool integer = true;
  if (ps->p < ps->end && *ps->p == '-') adv(ps);
  if (ps->p >= ps->end) return unexpected(ps, "a digit");
  if (*ps->p == '0') {
    adv(ps);
    if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      return perr(ps, "leading zeros are not allowed in numbers");
  } else if (*ps->p >= '1' && *ps->p <= '9') {
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
  } else {
    return unexpected(ps, "a digit");
  }
  if (ps->p < ps->end && *ps->p == '.') {
    integer = false;
    adv(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return unexpected(ps, "a digit after the decimal point");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    integer = false;
    adv(ps);
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) adv(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
      return unexpected(ps, "a digit in the exponent");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') adv(ps);
  }
  size_t n = (size_t)(ps->p - s);
  if (n > NUMBER_MAX_CHARS) return perr(ps, "number longer than %d characters", NUMBER_MAX_CHARS);

  if (integer) {
    /* Exact int64 when it fits. */
    const unsigned char *q = s;
    bool neg = *q == '-';
    if (neg) q++;
    uint64_t mag = 0;
    bool fits = true;
    for (; q < ps->p; q++) {
      unsigned dgt = (unsigned)(*q - '0');
      if (mag > (UINT64_MAX - dgt) / 10) {
        fits = false;
        break;
      }
      mag = mag * 10 + dgt;
    }
    if (fits && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
      v->is_int = true;
      v->inum = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    }
  }

  /* strtod follows LC_NUMERIC; give it the current locale's decimal point. */
  char buf[NUMBER_MAX_CHARS + 8];
  memcpy(buf, s, n);
  buf[n] = '\0';
  const struct lconv *lc = localeconv();
  if (lc && lc->decimal_point && lc->decimal_point[0] != '.' && lc->decimal_point[0] != '\0' &&
      lc->decimal_point[1] == '\0') {
    char *dot = strchr(buf, '.');
    if (dot) *dot = lc->decimal_point[0];
  }
  errno = 0;
  char *endp = NULL;
  double x = strtod(buf, &endp);
  if (endp != buf + n) return perr(ps, "cannot convert number '%s'", buf);
  if (errno == ERANGE && (x > 1.0 || x < -1.0))
    return perr(ps, "number '%.40s' is out of the range of a double", buf);
  v->num = x;
  return KAT_OK;
}

static int parse_literal(parser *ps, kat__json *v) {
  static const char *const words[3] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i], n) == 0) {
      for (size_t k = 0; k < n; k++) adv(ps);
      if (i == 2) {
        v->type = KAT_JSON_NULL;
      } else {
        v->type = KAT_JSON_BOOL;
        v->b = i == 0;
      }
      return KAT_OK;
    }
  }
  return unexpected(ps, "a value");
}

static int key_cmp(const void *a, const void *b) {
  const kat__json *x = *(const kat__json *const *)a, *y = *(const kat__json *const *)b;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
  return x < y ? -1 : (x > y); /* document order among equal keys */
}

/* Gives every container its slice of doc->kids and rejects duplicate keys. */
static int link_children(parser *ps) {
  kat__json_doc *d = ps->doc;
  size_t n = d->n_nodes, max_members = 0;
  int rc = KAT_OK;
  kat__json **scratch = NULL;
  if (n > 1) {
    d->kids = kat__calloc(n - 1, sizeof(kat__json *));
    if (!d->kids) return kat__fail(ps->eb, KAT_ENOMEM, "json: out of memory");
  }
  for (size_t i = 1; i < n; i++) d->nodes[d->nodes[i].parent].n_kids++;
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    kat__json *v = &d->nodes[i];
    if (v->n_kids) {
      v->kids = d->kids + off;
      off += v->n_kids;
      if (v->type == KAT_JSON_OBJECT && v->n_kids > max_members) max_members = v->n_kids;
      v->n_kids = 0;
    }
  }
  for (size_t i = 1; i < n; i++) {
    kat__json *p = &d->nodes[d->nodes[i].parent];
    p->kids[p->n_kids++] = &d->nodes[i];
  }
  if (max_members < 2) return KAT_OK;
  scratch = kat__calloc(max_members, sizeof(kat__json *));
  if (!scratch) return kat__fail(ps->eb, KAT_ENOMEM, "json: out of memory");
  for (size_t i = 0; i < n && rc == KAT_OK; i++) {
    kat__json *v = &d->nodes[i];
    if (v->type != KAT_JSON_OBJECT || v->n_kids < 2) continue;
    memcpy(scratch, v->kids, v->n_kids * sizeof(kat__json *));
    qsort(scratch, v->n_kids, sizeof(kat__json *), key_cmp);
    for (size_t k = 1; k < v->n_kids; k++) {
      const kat__json *a = scratch[k - 1], *b = scratch[k];
      if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0) {
        rc = kat__fail(ps->eb, KAT_EFORMAT, "%s:%d:%d: duplicate object key \"%.64s\"",
                       ps->origin ? ps->origin : "json", b->line, b->col, b->key);
        break;
      }
    }
  }
  kat__free(scratch);
  return rc;
}

static int parse_all(parser *ps, int max_depth) {
  kat__json_doc *d = ps->doc;
  size_t *stack = kat__calloc((size_t)max_depth, sizeof(size_t));
  int depth = 0, rc = KAT_OK;
  const char *key = NULL;
  size_t key_len = 0;
  if (!stack) return kat__fail(ps->eb, KAT_ENOMEM, "json: out of memory");

  if (ps->end - ps->p >= 3 && ps->p[0] == 0xEF && ps->p[1] == 0xBB && ps->p[2] == 0xBF) {
    rc = perr(ps, "a byte order mark is not allowed");
    goto done;
  }
  for (;;) {
    /* A value is expected here. */
    skip_ws(ps);
    size_t parent = depth ? stack[depth - 1] : NO_PARENT, idx = 0;
    if (ps->p >= ps->end) {
      rc = unexpected(ps, "a value");
      goto done;
    }
    unsigned char c = *ps->p;
    kat_json_type type = c == '{'   ? KAT_JSON_OBJECT
                         : c == '[' ? KAT_JSON_ARRAY
                         : c == '"' ? KAT_JSON_STRING
                                    : KAT_JSON_NUMBER; /* literals fix their type below */
    if ((rc = new_node(ps, type, parent, &idx))) goto done;
    kat__json *v = &d->nodes[idx];
    v->key = key;
    v->key_len = key_len;
    key = NULL;
    key_len = 0;
    if (c == '{' || c == '[') {
      if (depth == max_depth) {
        rc = perr(ps, "nesting deeper than %d levels", max_depth);
        goto done;
      }
      stack[depth++] = idx;
      adv(ps);
      skip_ws(ps);
      unsigned char close = c == '{' ? '}' : ']';
      if (ps->p < ps->end && *ps->p == close) {
        adv(ps);
        depth--;
      } else if (c == '{') {
        goto member_key;
      } else {
        continue;
      }
    } else if (c == '"') {
      if ((rc = parse_string(ps, &v->str, &v->str_len))) goto done;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      if ((rc = parse_number(ps, v))) goto done;
    } else {
      if ((rc = parse_literal(ps, v))) goto done;
    }

    /* After a complete value: close containers or move to the next element. */
    for (;;) {
      skip_ws(ps);
      if (depth == 0) {
        if (ps->p < ps->end) {
          rc = unexpected(ps, "end of input after the top-level value");
          goto done;
        }
        rc = KAT_OK;
        goto done;
      }
      const kat__json *top = &d->nodes[stack[depth - 1]];
      bool obj = top->type == KAT_JSON_OBJECT;
      if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
        adv(ps);
        depth--;
        continue;
      }
      if (ps->p < ps->end && *ps->p == ',') {
        adv(ps);
        if (obj) {
          skip_ws(ps);
          goto member_key;
        }
        break; /* next array element */
      }
      rc = unexpected(
          ps, obj ? "',' or '}' after an object member" : "',' or ']' after an array element");
      goto done;
    }
    continue;

  member_key:
    if (ps->p >= ps->end || *ps->p != '"') {
      rc = unexpected(ps, "a string key");
      goto done;
    }
    if ((rc = parse_string(ps, &key, &key_len))) goto done;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      rc = unexpected(ps, "':' after an object key");
      goto done;
    }
    adv(ps);
  }
done:
  kat__free(stack);
  return rc;
}

int kat__json_parse(const char *text, size_t len, const char *origin,
                    const kat__json_limits *limits, kat__json_doc **out, kat_errbuf *eb) {
  kat__json_doc *d = NULL;
  int rc;
  if (!out) return kat__fail(eb, KAT_EINVAL, "json: out is NULL");
  *out = NULL;
  if (!text && len) return kat__fail(eb, KAT_EINVAL, "json: text is NULL");
  size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
  size_t max_nodes = limits && limits->max_nodes ? limits->max_nodes : DEFAULT_MAX_NODES;
  int max_depth = limits && limits->max_depth > 0 ? limits->max_depth : DEFAULT_MAX_DEPTH;
  if (max_depth > MAX_DEPTH_LIMIT) max_depth = MAX_DEPTH_LIMIT;
  if (len > max_bytes) {
    return kat__fail(eb, KAT_EFORMAT, "%s: input is %zu bytes, more than the limit of %zu",
                     origin ? origin : "json", len, max_bytes);
  }
  d = kat__calloc(1, sizeof *d);
  if (!d) return kat__fail(eb, KAT_ENOMEM, "json: out of memory");
  d->pool_cap = len + 8;
  d->pool = kat__malloc(d->pool_cap);
  if (!d->pool) {
    rc = kat__fail(eb, KAT_ENOMEM, "json: out of memory for %zu bytes", d->pool_cap);
    goto fail;
  }
  parser ps = {(const unsigned char *)text,
               (const unsigned char *)text + len,
               1,
               1,
               origin,
               d,
               max_nodes,
               eb};
  if ((rc = parse_all(&ps, max_depth))) goto fail;
  if ((rc = link_children(&ps))) goto fail;
  *out = d;
  return KAT_OK;
fail:
  kat__json_destroy(d);
  return rc;
}

void kat__json_destroy(kat__json_doc *doc) {
  if (!doc) return;
  kat__free(doc->nodes);
  kat__free(doc->pool);
  kat__free(doc->kids);
  kat__free(doc);
}

const kat__json *kat__json_root(const kat__json_doc *doc) {
  return doc && doc->n_nodes ? &doc->nodes[0] : NULL;
}

kat_json_type kat__json_type(const kat__json *v) {
  return v ? v->type : KAT_JSON_NULL;
}

const char *kat__json_type_name(kat_json_type t) {
  switch (t) {
    case KAT_JSON_NULL: return "null";
    case KAT_JSON_BOOL: return "boolean";
    case KAT_JSON_NUMBER: return "number";
    case KAT_JSON_STRING: return "string";
    case KAT_JSON_ARRAY: return "array";
    case KAT_JSON_OBJECT: return "object";
  }
  return "unknown";
}

void kat__json_pos(const kat__json *v, int *line, int *col) {
  if (line) *line = v ? v->line : 0;
  if (col) *col = v ? v->col : 0;
}

const kat__json *kat__json_get(const kat__json *obj, const char *key) {
  if (!obj || obj->type != KAT_JSON_OBJECT || !key) return NULL;
  size_t n = strlen(key);
  for (size_t i = 0; i < obj->n_kids; i++) {
    const kat__json *m = obj->kids[i];
    if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
  }
  return NULL;
}

size_t kat__json_len(const kat__json *v) {
  return v && (v->type == KAT_JSON_ARRAY || v->type == KAT_JSON_OBJECT) ? v->n_kids : 0;
}

const kat__json *kat__json_at(const kat__json *v, size_t i) {
  if (!v || (v->type != KAT_JSON_ARRAY && v->type != KAT_JSON_OBJECT) || i >= v->n_kids)
    return NULL;
  return v->kids[i];
}

const char *kat__json_key(const kat__json *v) {
  return v ? v->key : NULL;
}

bool kat__json_bool(const kat__json *v, bool *out) {
  if (!v || v->type != KAT_JSON_BOOL) return false;
  *out = v->b;
  return true;
}

bool kat__json_double(const kat__json *v, double *out) {
  if (!v || v->type != KAT_JSON_NUMBER) return false;
  *out = v->num;
  return true;
}

bool kat__json_int64(const kat__json *v, int64_t *out) {
  if (!v || v->type != KAT_JSON_NUMBER) return false;
  if (v->is_int) {
    *out = v->inum;
    return true;
  }
  /* 2^63 is exactly representable; the range is [-2^63, 2^63). */
  double x = v->num;
  if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return false;
  int64_t i = (int64_t)x;
  if ((double)i != x) return false;
  *out = i;
  return true;
}

const char *kat__json_string(const kat__json *v, size_t *len) {
  if (!v || v->type != KAT_JSON_STRING) return NULL;
  if (len) *len = v->str_len;
  return v->str;
}

bool kat__json_is_null(const kat__json *v) {
  return v && v->type == KAT_JSON_NULL;
}
