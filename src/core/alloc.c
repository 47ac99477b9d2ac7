/*
 * Heap allocation through replaceable hooks (kat_set_allocator), checked size arithmetic and
 * small string helpers. Tests install counting hooks to prove the frame loop allocates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static void *default_malloc(void *user, size_t size) {
  (void)user;
  return malloc(size);
}
static void *default_realloc(void *user, void *ptr, size_t size) {
  (void)user;
  return realloc(ptr, size);
}
static void default_free(void *user, void *ptr) {
  (void)user;
  free(ptr);
}

/* Set once before use (documented in kat_set_allocator); read-only afterwards. */
static kat_allocator g_alloc = {default_malloc, default_realloc, default_free, NULL};

void kat_set_allocator(const kat_allocator *alloc) {
  if (alloc && alloc->malloc_fn && alloc->realloc_fn && alloc->free_fn) {
    g_alloc = *alloc;
  } else {
    g_alloc.malloc_fn = default_malloc;
    g_alloc.realloc_fn = default_realloc;
    g_alloc.free_fn = default_free;
    g_alloc.user = NULL;
  }
}

void *kat__malloc(size_t size) {
  return g_alloc.malloc_fn(g_alloc.user, size ? size : 1);
}

void *kat__calloc(size_t count, size_t size) {
  size_t total;
  if (!kat__size_mul(count, size, &total)) return NULL;
  void *p = kat__malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

void *kat__realloc(void *ptr, size_t size) {
  return g_alloc.realloc_fn(g_alloc.user, ptr, size ? size : 1);
}

void kat__free(void *ptr) {
  if (ptr) g_alloc.free_fn(g_alloc.user, ptr);
}

char *kat__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = kat__malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

bool kat__size_mul(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  *out = a * b;
  return true;
}

bool kat__size_add(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a) return false;
  *out = a + b;
  return true;
}

size_t kat__strlcpy(char *dst, const char *src, size_t dst_size) {
  size_t n = strlen(src);
  if (dst_size > 0) {
    size_t c = n < dst_size - 1 ? n : dst_size - 1;
    memcpy(dst, src, c);
    dst[c] = '\0';
  }
  return n;
}

void kat__assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "katana: assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}
