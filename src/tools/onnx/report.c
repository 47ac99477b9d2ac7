/*
 * A growable text buffer for reports (kat__sb). On allocation failure it stops growing and
 * remembers it; kat__sb_take then returns NULL.
 */
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"

void kat__sb_printf(kat__sb *b, const char *fmt, ...) {
  if (!b || b->oom) return;
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    char *p = kat__realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

char *kat__sb_take(kat__sb *b) {
  char *p = b->oom ? NULL : b->p;
  if (b->oom) kat__free(b->p);
  if (p == NULL && !b->oom) p = kat__strdup("");
  memset(b, 0, sizeof *b);
  return p;
}
