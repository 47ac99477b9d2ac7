/*
 * The pieces every evaluation reader shares: error messages into the caller's buffer, whole-file
 * reads and path joins (results.h).
 */
#include "tools/eval/results.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int kat__eval_error(char *err, size_t err_size, int status, const char *fmt, ...) {
  if (err && err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* ---- whole files ---- */

int kat__read_file(const char *path, char **data, size_t *len, char *err, size_t err_size) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return kat__eval_error(err, err_size, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", path,
                           strerror(e));
  }
  size_t cap = 4096, n = 0;
  char *buf = kat__malloc(cap);
  int status = KAT_OK;
  if (!buf) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  for (;;) {
    if (cap - n < 2) {
      size_t ncap;
      if (!kat__size_mul(cap, 2, &ncap)) {
        status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: file too large", path);
        goto done;
      }
      char *nb = kat__realloc(buf, ncap);
      if (!nb) {
        status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
        goto done;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    status = kat__eval_error(err, err_size, KAT_EIO, "%s: read error", path);
    goto done;
  }
  buf[n] = '\0';
done:
  fclose(f);
  if (status != KAT_OK) {
    kat__free(buf);
    return status;
  }
  *data = buf;
  *len = n;
  return KAT_OK;
}

char *kat__eval_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = kat__malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t n = a;
  if (a && dir[a - 1] != '/') p[n++] = '/';
  memcpy(p + n, name, b + 1);
  return p;
}
