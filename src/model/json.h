/*
 * A small, strict JSON parser (RFC 8259) with a read-only DOM.
 *
 * Strict: no comments, no trailing commas, no leading zeros, no NaN/Infinity, no byte order mark,
 * no control characters in strings, valid UTF-8 only (no overlong forms, no encoded surrogates),
 * \uXXXX escapes with correctly paired surrogates, duplicate object keys rejected. Any value may be
 * the top-level value. Numbers are stored as double; an integer literal that fits int64 is also
 * kept exactly.
 *
 * Bounded: the input size, the nesting depth and the number of values are limited by
 * kat__json_limits; the parser is iterative (an explicit stack of at most max_depth entries), so
 * adversarial nesting cannot exhaust the C stack. Memory is at most about
 * len + max_nodes * sizeof(node) bytes.
 *
 * Errors name the origin (a file name), the line and the column (1-based, in characters):
 * "katana.json:3:17: expected ',' or '}' after an object member".
 *
 * Thread-safety: a parsed document is immutable; it may be read from several threads at once.
 */
#ifndef KAT_MODEL_JSON_H
#define KAT_MODEL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum kat_json_type {
  KAT_JSON_NULL = 0,
  KAT_JSON_BOOL,
  KAT_JSON_NUMBER,
  KAT_JSON_STRING,
  KAT_JSON_ARRAY,
  KAT_JSON_OBJECT
} kat_json_type;

/* Limits; a field of 0 takes the default. */
typedef struct kat__json_limits {
  size_t max_bytes; /* input size, default 4 MiB */
  size_t max_nodes; /* number of values (every scalar, array and object), default 1 << 20 */
  int max_depth;    /* nesting of arrays/objects, default 64 */
} kat__json_limits;

typedef struct kat__json_doc kat__json_doc;
/* One value of a document; borrowed from its kat__json_doc and valid until it is destroyed. */
typedef struct kat__json kat__json;

/*
 * Parses `len` bytes of `text` (need not be NUL-terminated; borrowed for the call only). `origin`
 * (may be NULL) prefixes error messages. `limits` may be NULL for the defaults. On success *out
 * owns the document (free with kat__json_destroy). On failure returns KAT_EFORMAT (syntax, limits),
 * KAT_ENOMEM or KAT_EINVAL with the message in `eb`, and *out is NULL.
 */
int kat__json_parse(const char *text, size_t len, const char *origin,
                    const kat__json_limits *limits, kat__json_doc **out, kat_errbuf *eb);
/* Frees a document and every value in it; NULL is a no-op. */
void kat__json_destroy(kat__json_doc *doc);

/* The top-level value. */
const kat__json *kat__json_root(const kat__json_doc *doc);

/* Type of a value; a NULL value reads as KAT_JSON_NULL. kat__json_type_name: "string", ... */
kat_json_type kat__json_type(const kat__json *v);
const char *kat__json_type_name(kat_json_type t);
/* Line and column (1-based) where the value starts in the input. */
void kat__json_pos(const kat__json *v, int *line, int *col);

/* Member `key` of an object, or NULL when `obj` is not an object or has no such member. */
const kat__json *kat__json_get(const kat__json *obj, const char *key);
/* Number of elements of an array or members of an object; 0 for any other value. */
size_t kat__json_len(const kat__json *v);
/* Element i of an array or the value of member i of an object (input order), or NULL. */
const kat__json *kat__json_at(const kat__json *v, size_t i);
/* The key of an object member value (as returned by kat__json_at/kat__json_get), else NULL. */
const char *kat__json_key(const kat__json *v);

/*
 * Typed getters: false (and *out untouched) when the value has another type.
 * kat__json_int64 accepts a number that is exactly an integer in int64 range (7, 7.0, 7e0).
 * kat__json_string returns the NUL-terminated UTF-8 string (may contain NUL bytes when the input
 * had \u0000; *len, if not NULL, gets the full length), or NULL when `v` is not a string.
 */
bool kat__json_bool(const kat__json *v, bool *out);
bool kat__json_double(const kat__json *v, double *out);
bool kat__json_int64(const kat__json *v, int64_t *out);
const char *kat__json_string(const kat__json *v, size_t *len);
bool kat__json_is_null(const kat__json *v);

#endif /* KAT_MODEL_JSON_H */
