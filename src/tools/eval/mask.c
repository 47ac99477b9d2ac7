/*
 * Mask PNGs (decoded with libpng directly: 8-bit gray or palette) and mask folders of
 * <frame>.png files (DAVIS style).
 */
#include "tools/eval/results.h"

#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

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
    out[fr] = kat__eval_path_join(dir, ent->d_name);
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
