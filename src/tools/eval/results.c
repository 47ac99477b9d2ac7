/*
 * Readers for evaluation inputs and the kat_eval_seq loaders.
 *
 * Box files follow LaSOT's groundtruth.txt: one box per line, x,y,w,h, absent frames as 0,0,0,0
 * or NaN. A katana results folder holds boxes.txt (the same format), results.jsonl (one JSON
 * object per frame; only "frame", "box", "present" and "candidate" are read) and masks/NNNNN.png.
 * A mask folder holds <frame>.png files (DAVIS style). PNGs are decoded with libpng directly.
 */
#include "tools/eval/results.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "tools/eval/metrics.h"

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

/* ---- box files ---- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

/* Parses the four numbers of one NUL-terminated line. Returns 0 or KAT_EFORMAT with a message. */
static int parse_box_line(const char *line, const char *name, size_t lineno, kat_eval_box *out,
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

int kat__boxfile_parse(const char *text, size_t len, const char *name, kat_eval_box **boxes,
                       size_t *count, char *err, size_t err_size) {
  *boxes = NULL;
  *count = 0;
  /* Count lines for the worst-case allocation. */
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  size_t bytes;
  kat_eval_box *out = NULL;
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

/* ---- results.jsonl ---- */

#define RESULTS_STR2(x) #x
#define RESULTS_STR(x) RESULTS_STR2(x)

typedef struct jcur {
  const char *p, *end;
} jcur;

static void jskip_ws(jcur *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

static bool jlit(jcur *c, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) return false;
  c->p += n;
  return true;
}

/* Reads a JSON number. */
static bool jnumber(jcur *c, double *out) {
  char buf[64];
  size_t n = 0;
  while (c->p + n < c->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", c->p[n]) &&
         c->p[n] != '\0')
    n++;
  if (n == 0 || n == sizeof buf - 1) return false;
  memcpy(buf, c->p, n);
  buf[n] = '\0';
  char *e = NULL;
  double v = strtod(buf, &e);
  if (e != buf + n) return false;
  c->p += n;
  *out = v;
  return true;
}

/* Reads a string; copies up to key_size-1 bytes of it (escapes kept raw) into key if not NULL. */
static bool jstring(jcur *c, char *key, size_t key_size) {
  if (c->p >= c->end || *c->p != '"') return false;
  c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != '"') {
    if (*c->p == '\\') {
      if (c->p + 1 >= c->end) return false;
      if (key && n + 1 < key_size) key[n++] = *c->p;
      c->p++;
    }
    if (key && n + 1 < key_size) key[n++] = *c->p;
    c->p++;
  }
  if (c->p >= c->end) return false;
  c->p++;
  if (key) key[n] = '\0';
  return true;
}

/* Skips any JSON value (depth-limited). */
static bool jskip_value(jcur *c, int depth) {
  jskip_ws(c);
  if (c->p >= c->end || depth > 64) return false;
  char ch = *c->p;
  if (ch == '"') return jstring(c, NULL, 0);
  if (ch == '{' || ch == '[') {
    char close = ch == '{' ? '}' : ']';
    c->p++;
    jskip_ws(c);
    if (c->p < c->end && *c->p == close) {
      c->p++;
      return true;
    }
    for (;;) {
      if (ch == '{') {
        jskip_ws(c);
        if (!jstring(c, NULL, 0)) return false;
        jskip_ws(c);
        if (c->p >= c->end || *c->p != ':') return false;
        c->p++;
      }
      if (!jskip_value(c, depth + 1)) return false;
      jskip_ws(c);
      if (c->p >= c->end) return false;
      if (*c->p == ',') {
        c->p++;
        continue;
      }
      if (*c->p == close) {
        c->p++;
        return true;
      }
      return false;
    }
  }
  if (jlit(c, "true") || jlit(c, "false") || jlit(c, "null")) return true;
  double d;
  return jnumber(c, &d);
}

static int jerr(char *err, size_t err_size, const char *name, size_t lineno, const char *what) {
  return kat__eval_error(err, err_size, KAT_EFORMAT, "%s:%zu: %s", name, lineno, what);
}

static int parse_jsonl_line(jcur *c, const char *name, size_t lineno, long long default_frame,
                            kat__jsonl_record *r, char *err, size_t err_size) {
  r->frame = default_frame;
  r->has_box = false;
  r->box.x = r->box.y = r->box.w = r->box.h = NAN;
  r->candidate = -1;
  bool present = true;
  jskip_ws(c);
  if (c->p >= c->end || *c->p != '{')
    return jerr(err, err_size, name, lineno, "expected a JSON object");
  c->p++;
  jskip_ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
  } else {
    for (;;) {
      char key[32];
      jskip_ws(c);
      if (!jstring(c, key, sizeof key)) return jerr(err, err_size, name, lineno, "expected a key");
      jskip_ws(c);
      if (c->p >= c->end || *c->p != ':')
        return jerr(err, err_size, name, lineno, "expected ':' after a key");
      c->p++;
      jskip_ws(c);
      if (strcmp(key, "frame") == 0) {
        double v;
        if (!jnumber(c, &v) || v < 0 || v > KAT_EVAL_MAX_FRAME || v != floor(v))
          return jerr(err, err_size, name, lineno,
                      "\"frame\" must be an integer from 0 to " RESULTS_STR(KAT_EVAL_MAX_FRAME));
        r->frame = (long long)v;
      } else if (strcmp(key, "candidate") == 0) {
        double v;
        if (jlit(c, "null")) {
          r->candidate = -1;
        } else if (!jnumber(c, &v) || v < -1 || v > 1000 || v != floor(v)) {
          return jerr(err, err_size, name, lineno, "\"candidate\" must be a small integer");
        } else {
          r->candidate = (int)v;
        }
      } else if (strcmp(key, "present") == 0) {
        if (jlit(c, "true")) {
          present = true;
        } else if (jlit(c, "false")) {
          present = false;
        } else {
          return jerr(err, err_size, name, lineno, "\"present\" must be true or false");
        }
      } else if (strcmp(key, "box") == 0) {
        if (jlit(c, "null")) {
          r->has_box = true;
        } else {
          double v[4];
          if (c->p >= c->end || *c->p != '[')
            return jerr(err, err_size, name, lineno, "\"box\" must be [x,y,w,h] or null");
          c->p++;
          for (int i = 0; i < 4; i++) {
            jskip_ws(c);
            if (jlit(c, "null")) {
              v[i] = NAN;
            } else if (!jnumber(c, &v[i])) {
              return jerr(err, err_size, name, lineno, "\"box\" must hold 4 numbers");
            }
            jskip_ws(c);
            if (c->p >= c->end || *c->p != (i < 3 ? ',' : ']'))
              return jerr(err, err_size, name, lineno, "\"box\" must be [x,y,w,h]");
            c->p++;
          }
          r->has_box = true;
          r->box.x = v[0];
          r->box.y = v[1];
          r->box.w = v[2];
          r->box.h = v[3];
        }
      } else if (!jskip_value(c, 0)) {
        return jerr(err, err_size, name, lineno, "malformed JSON value");
      }
      jskip_ws(c);
      if (c->p < c->end && *c->p == ',') {
        c->p++;
        continue;
      }
      if (c->p < c->end && *c->p == '}') {
        c->p++;
        break;
      }
      return jerr(err, err_size, name, lineno, "expected ',' or '}'");
    }
  }
  jskip_ws(c);
  if (c->p != c->end) return jerr(err, err_size, name, lineno, "text after the JSON object");
  if (!present) r->box.x = r->box.y = r->box.w = r->box.h = NAN;
  return KAT_OK;
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
    jcur c = {text + pos, text + end};
    pos = end + 1;
    jskip_ws(&c);
    if (c.p == c.end) continue;
    int status = parse_jsonl_line(&c, name, lineno, (long long)n, &out[n], err, err_size);
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

/* ---- mask PNGs ---- */

void kat__mask_buf_cleanup(kat__mask_buf *mb) {
  if (!mb) return;
  kat__free(mb->data);
  kat__free(mb->raw);
  kat__free(mb->rows);
  memset(mb, 0, sizeof *mb);
}

static bool grow(void **buf, size_t *cap, size_t need) {
  if (*cap >= need) return true;
  void *nb = kat__realloc(*buf, need);
  if (!nb) return false;
  *buf = nb;
  *cap = need;
  return true;
}

typedef struct png_err_ctx {
  jmp_buf jmp;
  char msg[200];
} png_err_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
  png_err_ctx *ctx = png_get_error_ptr(png);
  kat__strlcpy(ctx->msg, msg ? msg : "libpng error", sizeof ctx->msg);
  longjmp(ctx->jmp, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

int kat__mask_read_png(const char *path, int object_id, kat__mask_buf *mb, char *err,
                       size_t err_size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return kat__eval_error(err, err_size, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", path,
                           strerror(e));
  }
  unsigned char sig[8];
  if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    fclose(f);
    return kat__eval_error(err, err_size, KAT_EFORMAT, "%s: not a PNG file", path);
  }
  png_err_ctx ctx;
  ctx.msg[0] = '\0';
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
    fclose(f);
    return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
  }
  /* Nothing below changes a local variable that is read after a longjmp except through `mb`
   * and `ctx`, which live outside this frame. */
  if (setjmp(ctx.jmp)) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return kat__eval_error(err, err_size, KAT_EFORMAT, "%s: %s", path, ctx.msg);
  }
  png_init_io(png, f);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (depth < 8) png_set_packing(png); /* one byte per sample, values unscaled */
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  size_t channels = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  bool is_color = (color & PNG_COLOR_MASK_COLOR) && color != PNG_COLOR_TYPE_PALETTE;
  int status = KAT_OK;
  size_t npix, raw_bytes, rows_bytes;
  if (is_color && object_id > 0) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s: an object id needs a palette or grayscale mask, not RGB", path);
    goto done;
  }
  if (!kat__size_mul(w, h, &npix) || !kat__size_mul(rowbytes, h, &raw_bytes) ||
      !kat__size_mul(h, sizeof(void *), &rows_bytes) || rowbytes < channels * w) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: image too large", path);
    goto done;
  }
  if (!grow((void **)&mb->data, &mb->data_cap, npix) ||
      !grow((void **)&mb->raw, &mb->raw_cap, raw_bytes) ||
      !grow((void **)&mb->rows, &mb->rows_cap, rows_bytes)) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  for (size_t y = 0; y < h; y++) mb->rows[y] = mb->raw + y * rowbytes;
  png_read_image(png, (png_bytepp)mb->rows);
  png_read_end(png, NULL);
  for (size_t y = 0; y < h; y++) {
    const uint8_t *src = mb->raw + y * rowbytes;
    uint8_t *dst = mb->data + y * (size_t)w;
    for (size_t x = 0; x < w; x++) {
      const uint8_t *px = src + x * channels;
      if (is_color) {
        dst[x] = (px[0] | px[1] | px[2]) != 0;
      } else {
        dst[x] = object_id > 0 ? px[0] == object_id : px[0] != 0;
      }
    }
  }
  mb->w = w;
  mb->h = h;
done:
  png_destroy_read_struct(&png, &info, NULL);
  fclose(f);
  return status;
}

/* ---- mask folders ---- */

void kat__mask_paths_free(char **paths, size_t frames) {
  if (!paths) return;
  for (size_t i = 0; i < frames; i++) kat__free(paths[i]);
  kat__free(paths);
}

/* Frame number of "<digits>.png" (case-insensitive extension), or -1. */
static long long mask_name_frame(const char *name) {
  size_t d = 0;
  long long v = 0;
  while (name[d] >= '0' && name[d] <= '9') {
    if (d >= 9) return -1; /* more than 9 digits: not a frame number we accept */
    v = v * 10 + (name[d] - '0');
    d++;
  }
  if (d == 0 || strlen(name + d) != 4 || name[d] != '.') return -1;
  const char *ext = name + d + 1;
  if ((ext[0] | 0x20) != 'p' || (ext[1] | 0x20) != 'n' || (ext[2] | 0x20) != 'g') return -1;
  return v;
}

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = kat__malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t n = a;
  if (a && dir[a - 1] != '/') p[n++] = '/';
  memcpy(p + n, name, b + 1);
  return p;
}

int kat__mask_dir_list(const char *dir, char ***paths, size_t *frames, size_t *count, char *err,
                       size_t err_size) {
  *paths = NULL;
  *frames = 0;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    return kat__eval_error(err, err_size, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", dir,
                           strerror(e));
  }
  /* Pass 1: the highest frame number. Pass 2: the paths. */
  long long maxf = -1;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    long long fr = mask_name_frame(ent->d_name);
    if (fr > KAT_EVAL_MAX_FRAME) {
      int st = kat__eval_error(err, err_size, KAT_EFORMAT, "%s/%s: frame number above %d", dir,
                               ent->d_name, KAT_EVAL_MAX_FRAME);
      closedir(d);
      return st;
    }
    if (fr > maxf) maxf = fr;
  }
  if (maxf < 0) {
    closedir(d);
    return KAT_OK;
  }
  size_t n = (size_t)maxf + 1;
  char **out = kat__calloc(n, sizeof *out);
  int status = KAT_OK;
  size_t found = 0;
  if (!out) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", dir);
    goto done;
  }
  rewinddir(d);
  while ((ent = readdir(d)) != NULL) {
    long long fr = mask_name_frame(ent->d_name);
    if (fr < 0 || (size_t)fr >= n) continue;
    if (out[fr]) {
      status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: two mask files for frame %lld (%s)",
                               dir, fr, ent->d_name);
      goto done;
    }
    out[fr] = path_join(dir, ent->d_name);
    if (!out[fr]) {
      status = kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", dir);
      goto done;
    }
    found++;
  }
done:
  closedir(d);
  if (status != KAT_OK) {
    kat__mask_paths_free(out, n);
    return status;
  }
  *paths = out;
  *frames = n;
  *count = found;
  return KAT_OK;
}

/* ---- sequences ---- */

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void kat_eval_seq_destroy(kat_eval_seq *seq) {
  if (!seq) return;
  kat__free(seq->boxes);
  kat__mask_paths_free(seq->mask_paths, seq->frames);
  kat__free(seq->candidates);
  kat__free(seq);
}

static kat_eval_seq *seq_new(void) {
  kat_eval_seq *s = kat__calloc(1, sizeof *s);
  if (s) s->box_source = "none";
  return s;
}

/* Grows every per-frame array of `s` to `frames` entries (new boxes NaN, candidates -1). */
static int seq_resize(kat_eval_seq *s, size_t frames) {
  if (frames <= s->frames) return KAT_OK;
  size_t old = s->frames;
  if (s->boxes) {
    kat_eval_box *nb = kat__realloc(s->boxes, frames * sizeof *nb);
    if (!nb) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) nb[i].x = nb[i].y = nb[i].w = nb[i].h = NAN;
    s->boxes = nb;
  }
  if (s->mask_paths) {
    char **np = kat__realloc(s->mask_paths, frames * sizeof *np);
    if (!np) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) np[i] = NULL;
    s->mask_paths = np;
  }
  if (s->candidates) {
    int *nc = kat__realloc(s->candidates, frames * sizeof *nc);
    if (!nc) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) nc[i] = -1;
    s->candidates = nc;
  }
  s->frames = frames;
  return KAT_OK;
}

static int load_box_file_into(kat_eval_seq *s, const char *path, char *err, size_t err_size) {
  char *text = NULL;
  size_t len = 0;
  int status = kat__read_file(path, &text, &len, err, err_size);
  if (status != KAT_OK) return status;
  kat_eval_box *boxes = NULL;
  size_t n = 0;
  status = kat__boxfile_parse(text, len, path, &boxes, &n, err, err_size);
  kat__free(text);
  if (status != KAT_OK) return status;
  kat__free(s->boxes);
  s->boxes = NULL;
  if (n > s->frames) {
    /* Grow the other per-frame arrays first; `boxes` already has n entries. */
    status = seq_resize(s, n);
    if (status != KAT_OK) {
      kat__free(boxes);
      return kat__eval_error(err, err_size, status, "%s: out of memory", path);
    }
  } else if (n < s->frames) {
    kat_eval_box *nb = kat__realloc(boxes, s->frames * sizeof *nb);
    if (!nb) {
      kat__free(boxes);
      return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = n; i < s->frames; i++) nb[i].x = nb[i].y = nb[i].w = nb[i].h = NAN;
    boxes = nb;
  }
  s->boxes = boxes;
  return KAT_OK;
}

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

/* Applies LaSOT's full_occlusion.txt and out_of_view.txt beside `path`, if present: flagged
 * frames become absent (NaN boxes). */
static int apply_absent_flags(kat_eval_seq *s, const char *path, char *err, size_t err_size) {
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  const char *names[] = {"full_occlusion.txt", "out_of_view.txt"};
  uint8_t *flags = kat__malloc(s->frames);
  if (!flags) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  int status = KAT_OK;
  for (size_t k = 0; k < 2 && status == KAT_OK; k++) {
    size_t nl = strlen(names[k]);
    char *fp = kat__malloc(dir_len + nl + 1);
    if (!fp) {
      status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
      break;
    }
    memcpy(fp, path, dir_len);
    memcpy(fp + dir_len, names[k], nl + 1);
    if (is_file(fp)) {
      char *text = NULL;
      size_t len = 0;
      status = kat__read_file(fp, &text, &len, err, err_size);
      if (status == KAT_OK)
        status = kat__flags_parse(text, len, fp, flags, s->frames, err, err_size);
      kat__free(text);
      for (size_t i = 0; status == KAT_OK && i < s->frames; i++) {
        if (!flags[i]) continue;
        if (kat__box_valid(&s->boxes[i])) s->absent_flags++;
        s->boxes[i].x = s->boxes[i].y = s->boxes[i].w = s->boxes[i].h = NAN;
      }
    }
    kat__free(fp);
  }
  kat__free(flags);
  return status;
}

int kat_eval_seq_load_boxes(const char *path, kat_eval_seq **out, char *err, size_t err_size) {
  *out = NULL;
  kat_eval_seq *s = seq_new();
  if (!s) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  int status = load_box_file_into(s, path, err, err_size);
  if (status != KAT_OK) goto fail;
  if (!s->boxes) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: no boxes", path);
    goto fail;
  }
  status = apply_absent_flags(s, path, err, err_size);
  if (status != KAT_OK) goto fail;
  s->box_source = "box file";
  *out = s;
  return KAT_OK;
fail:
  kat_eval_seq_destroy(s);
  return status;
}

/* Attaches a mask folder's files to `s` (no-op if it has none). */
static int attach_masks(kat_eval_seq *s, const char *dir, char *err, size_t err_size) {
  char **paths = NULL;
  size_t frames = 0, count = 0;
  int status = kat__mask_dir_list(dir, &paths, &frames, &count, err, err_size);
  if (status != KAT_OK || !paths) return status;
  size_t total = frames > s->frames ? frames : s->frames;
  status = seq_resize(s, total);
  if (status == KAT_OK && frames < total) {
    char **np = kat__realloc(paths, total * sizeof *np);
    if (!np) {
      status = KAT_ENOMEM;
    } else {
      for (size_t i = frames; i < total; i++) np[i] = NULL;
      paths = np;
    }
  }
  if (status != KAT_OK) {
    kat__mask_paths_free(paths, frames);
    return kat__eval_error(err, err_size, status, "%s: out of memory", dir);
  }
  s->mask_paths = paths;
  s->mask_count = count;
  return KAT_OK;
}

/* Fills s->boxes from the masks' tight bounding boxes (empty or missing mask: NaN). */
static int boxes_from_masks(kat_eval_seq *s, char *err, size_t err_size) {
  if (!s->mask_paths || !s->frames) return KAT_OK;
  kat_eval_box *boxes = kat__malloc(s->frames * sizeof *boxes);
  if (!boxes) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  kat__mask_buf mb = {0};
  int status = KAT_OK;
  for (size_t i = 0; i < s->frames; i++) {
    boxes[i].x = boxes[i].y = boxes[i].w = boxes[i].h = NAN;
    if (!s->mask_paths[i]) continue;
    status = kat__mask_read_png(s->mask_paths[i], s->object_id, &mb, err, err_size);
    if (status != KAT_OK) break;
    kat__mask_bbox(mb.data, mb.w, mb.h, &boxes[i]);
  }
  kat__mask_buf_cleanup(&mb);
  if (status != KAT_OK) {
    kat__free(boxes);
    return status;
  }
  kat__free(s->boxes);
  s->boxes = boxes;
  s->box_source = "masks";
  return KAT_OK;
}

int kat_eval_seq_load_masks(const char *dir, int object_id, kat_eval_seq **out, char *err,
                            size_t err_size) {
  *out = NULL;
  kat_eval_seq *s = seq_new();
  if (!s) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  s->object_id = object_id;
  int status = attach_masks(s, dir, err, err_size);
  if (status != KAT_OK) goto fail;
  if (!s->mask_paths) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s: no mask files (expected <frame number>.png)", dir);
    goto fail;
  }
  status = boxes_from_masks(s, err, err_size);
  if (status != KAT_OK) goto fail;
  *out = s;
  return KAT_OK;
fail:
  kat_eval_seq_destroy(s);
  return status;
}

/* Adds results.jsonl's candidates (and boxes, with want_boxes) to s; with check_boxes, s's boxes
 * (from boxes.txt) must agree with the file's: same frame count, same boxes within 0.5 px. */
static int load_jsonl_into(kat_eval_seq *s, const char *path, bool want_boxes, bool check_boxes,
                           char *err, size_t err_size) {
  char *text = NULL;
  size_t len = 0;
  int status = kat__read_file(path, &text, &len, err, err_size);
  if (status != KAT_OK) return status;
  kat__jsonl_record *rec = NULL;
  size_t n = 0;
  status = kat__jsonl_parse(text, len, path, &rec, &n, err, err_size);
  kat__free(text);
  if (status != KAT_OK) return status;
  if (check_boxes && s->boxes) {
    /* boxes.txt and results.jsonl are two views of one run: refuse to score a folder where
     * they disagree (a mix of two runs, or a file edited by hand). */
    if (n != s->frames) {
      status = kat__eval_error(err, err_size, KAT_EFORMAT,
                               "%s: boxes.txt has %zu frames but results.jsonl has %zu; the two "
                               "files are not from the same run",
                               path, s->frames, n);
      kat__free(rec);
      return status;
    }
    for (size_t i = 0; i < n; i++) {
      const kat_eval_box *a = &rec[i].box;
      size_t f = (size_t)rec[i].frame;
      if (!rec[i].has_box || !isfinite(a->x) || !isfinite(a->w) || f >= s->frames) continue;
      const kat_eval_box *b = &s->boxes[f];
      if (fabs(a->x - b->x) > 0.5 || fabs(a->y - b->y) > 0.5 || fabs(a->w - b->w) > 0.5 ||
          fabs(a->h - b->h) > 0.5 || !isfinite(b->x)) {
        status = kat__eval_error(err, err_size, KAT_EFORMAT,
                                 "%s: frame %zu: results.jsonl has box %g,%g,%g,%g but "
                                 "boxes.txt %g,%g,%g,%g; the two files disagree",
                                 path, f, a->x, a->y, a->w, a->h, b->x, b->y, b->w, b->h);
        kat__free(rec);
        return status;
      }
    }
  }
  size_t frames = s->frames;
  bool any_box = false, any_cand = false;
  for (size_t i = 0; i < n; i++) {
    if ((size_t)rec[i].frame + 1 > frames) frames = (size_t)rec[i].frame + 1;
    any_box |= rec[i].has_box;
    any_cand |= rec[i].candidate >= 0;
  }
  if (any_cand && !s->candidates) {
    s->candidates = kat__malloc((s->frames ? s->frames : 1) * sizeof *s->candidates);
    if (!s->candidates) status = KAT_ENOMEM;
    for (size_t i = 0; s->candidates && i < s->frames; i++) s->candidates[i] = -1;
  }
  bool take_boxes = want_boxes && any_box;
  if (status == KAT_OK && take_boxes && !s->boxes) {
    s->boxes = kat__malloc((s->frames ? s->frames : 1) * sizeof *s->boxes);
    if (!s->boxes) status = KAT_ENOMEM;
    for (size_t i = 0; s->boxes && i < s->frames; i++)
      s->boxes[i].x = s->boxes[i].y = s->boxes[i].w = s->boxes[i].h = NAN;
  }
  if (status == KAT_OK) status = seq_resize(s, frames);
  if (status != KAT_OK) {
    kat__free(rec);
    return kat__eval_error(err, err_size, status, "%s: out of memory", path);
  }
  for (size_t i = 0; i < n; i++) {
    size_t f = (size_t)rec[i].frame;
    if (any_cand) s->candidates[f] = rec[i].candidate;
    if (take_boxes && rec[i].has_box) s->boxes[f] = rec[i].box;
  }
  if (take_boxes) s->box_source = "results.jsonl";
  kat__free(rec);
  return KAT_OK;
}

int kat_eval_seq_load_results(const char *dir, int object_id, kat_eval_seq **out, char *err,
                              size_t err_size) {
  *out = NULL;
  char *boxes = path_join(dir, "boxes.txt");
  char *gtbox = path_join(dir, "groundtruth.txt");
  char *jsonl = path_join(dir, "results.jsonl");
  char *masks = path_join(dir, "masks");
  kat_eval_seq *s = seq_new();
  int status = KAT_OK;
  if (!boxes || !gtbox || !jsonl || !masks || !s) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    goto fail;
  }
  s->object_id = object_id;
  bool has_boxes = is_file(boxes), has_jsonl = is_file(jsonl), has_masks = is_dir(masks);
  bool has_gt = !has_boxes && is_file(gtbox);
  if (!has_boxes && !has_gt && !has_jsonl && !has_masks) {
    status = kat__eval_error(err, err_size, KAT_ENOENT,
                             "%s: neither a katana results folder nor a sequence folder (no "
                             "boxes.txt, groundtruth.txt, results.jsonl or masks/)",
                             dir);
    goto fail;
  }
  if (has_boxes) {
    status = load_box_file_into(s, boxes, err, err_size);
    if (status != KAT_OK) goto fail;
    if (s->boxes) s->box_source = "boxes.txt";
  } else if (has_gt) {
    /* A sequence folder (LaSOT, katana synth): groundtruth.txt and its flag files. */
    status = load_box_file_into(s, gtbox, err, err_size);
    if (status == KAT_OK && s->boxes) status = apply_absent_flags(s, gtbox, err, err_size);
    if (status != KAT_OK) goto fail;
    if (s->boxes) s->box_source = "groundtruth.txt";
  }
  if (has_jsonl) {
    status = load_jsonl_into(s, jsonl, s->boxes == NULL, has_boxes, err, err_size);
    if (status != KAT_OK) goto fail;
  }
  if (has_masks) {
    status = attach_masks(s, masks, err, err_size);
    if (status != KAT_OK) goto fail;
    if (!s->boxes) {
      status = boxes_from_masks(s, err, err_size);
      if (status != KAT_OK) goto fail;
    }
  }
  if (s->frames == 0) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: the results hold no frame", dir);
    goto fail;
  }
  *out = s;
  goto done;
fail:
  kat_eval_seq_destroy(s);
done:
  kat__free(boxes);
  kat__free(gtbox);
  kat__free(jsonl);
  kat__free(masks);
  return status;
}

int kat_eval_seq_load(const char *path, int object_id, kat_eval_seq **out, char *err,
                      size_t err_size) {
  *out = NULL;
  if (is_file(path)) return kat_eval_seq_load_boxes(path, out, err, err_size);
  if (!is_dir(path)) return kat__eval_error(err, err_size, KAT_ENOENT, "%s: no such file", path);
  const char *names[] = {"boxes.txt", "groundtruth.txt", "results.jsonl", "masks"};
  for (size_t i = 0; i < 4; i++) {
    char *p = path_join(path, names[i]);
    if (!p) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    bool hit = i < 3 ? is_file(p) : is_dir(p);
    kat__free(p);
    if (hit) return kat_eval_seq_load_results(path, object_id, out, err, err_size);
  }
  return kat_eval_seq_load_masks(path, object_id, out, err, err_size);
}
