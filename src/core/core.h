/*
 * Internal core helpers shared by every area: allocation through the installed hooks, the
 * per-handle error buffer, logging, checked size arithmetic and a monotonic clock.
 */
#ifndef KAT_CORE_CORE_H
#define KAT_CORE_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"

/* Programming-error check (never for input errors): logs and aborts. */
#define KAT_ASSERT(cond)                                      \
  do {                                                        \
    if (!(cond)) kat__assert_fail(#cond, __FILE__, __LINE__); \
  } while (0)
void kat__assert_fail(const char *expr, const char *file, int line);

/* Allocation through the hooks of kat_set_allocator(). kat__free(NULL) is a no-op. */
void *kat__malloc(size_t size);
void *kat__calloc(size_t count, size_t size);
void *kat__realloc(void *ptr, size_t size);
void kat__free(void *ptr);
/* Returns a kat__malloc'ed copy of `s` (caller frees with kat__free), or NULL. */
char *kat__strdup(const char *s);

/* Checked size arithmetic: false on overflow, *out untouched then. */
bool kat__size_mul(size_t a, size_t b, size_t *out);
bool kat__size_add(size_t a, size_t b, size_t *out);

/* Per-handle last-error message. Embedded by value in each handle. */
#define KAT_ERRBUF_SIZE KAT_ERROR_SIZE
typedef struct kat__errbuf {
  char msg[KAT_ERRBUF_SIZE];
} kat__errbuf;

/* Formats the message into `eb` (if not NULL), logs it at debug level, and
 * returns `status` so callers can write `return kat__fail(eb, KAT_EINVAL, "...")`. */
int kat__fail(kat__errbuf *eb, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears the message. */
void kat__errbuf_clear(kat__errbuf *eb);

/* Logging through the callback of kat_log_set(). */
void kat__log(kat_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kat__vlog(kat_log_level level, const char *fmt, va_list ap);
/* Delivers an already formatted message from `origin` (used by the ONNX Runtime logger). */
void kat__log_raw(kat_log_level level, const char *origin, const char *msg);

/* Monotonic clock in nanoseconds and milliseconds. */
uint64_t kat__now_ns(void);
double kat__now_ms(void);

/* Bounded string copy that always NUL-terminates (dst_size > 0); returns strlen(src). */
size_t kat__strlcpy(char *dst, const char *src, size_t dst_size);

#endif /* KAT_CORE_CORE_H */
