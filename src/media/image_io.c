/*
 * PNG and JPEG reading and writing, and natural-order image-folder listing.
 *
 * libpng and libjpeg report fatal errors by calling a handler that must not return; ours copy the
 * library's message into a context struct and longjmp back to the setjmp point in the reading or
 * writing function, which then releases everything and returns a status. Locals changed between
 * setjmp and longjmp are volatile. The image buffer is reused across reads (kat__image), so a
 * folder of same-sized frames decodes with no allocation of ours after the first frame.
 */
#include "media/image_io.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define MAX_DIM 32768

void kat__image_cleanup(kat__image *img) {
  if (!img) return;
  kat__free(img->data);
  memset(img, 0, sizeof *img);
}

static int image_reserve(kat__image *img, int w, int h, int channels, kat__errbuf *eb,
                         const char *path) {
  size_t stride, bytes;
  if (!kat__size_mul((size_t)w, (size_t)channels, &stride) ||
      !kat__size_mul(stride, (size_t)h, &bytes))
    return kat__fail(eb, KAT_EFORMAT, "%s: image too large", path);
  if (bytes > img->capacity) {
    uint8_t *p = kat__realloc(img->data, bytes);
    if (!p) return kat__fail(eb, KAT_ENOMEM, "%s: out of memory for %dx%d image", path, w, h);
    img->data = p;
    img->capacity = bytes;
  }
  img->width = w;
  img->height = h;
  img->channels = channels;
  img->stride = stride;
  return KAT_OK;
}

static FILE *open_file(const char *path, const char *mode, kat__errbuf *eb, int *rc) {
  FILE *f = fopen(path, mode);
  if (!f) {
    int e = errno;
    *rc = kat__fail(eb, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", path, strerror(e));
  }
  return f;
}

/* ---- PNG ---- */

typedef struct png_ctx {
  jmp_buf jmp;
  char msg[200];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
  png_ctx *ctx = png_get_error_ptr(png);
  kat__strlcpy(ctx->msg, msg ? msg : "unknown libpng error", sizeof ctx->msg);
  longjmp(ctx->jmp, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  kat__log(KAT_LOG_DEBUG, "libpng: %s", msg);
}

static int png_read_file(const char *path, FILE *f, kat__image *img, kat__errbuf *eb) {
  png_ctx ctx;
  ctx.msg[0] = '\0';
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  volatile int rc = KAT_OK;
  if (!png || !info) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: cannot create libpng reader", path);
    goto done;
  }
  if (setjmp(ctx.jmp)) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s: corrupt or truncated PNG: %s", path, ctx.msg);
    goto done;
  }
  png_init_io(png, f);
  png_set_user_limits(png, MAX_DIM, MAX_DIM);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  int ct = png_get_color_type(png, info);
  png_set_expand(png); /* palette -> RGB, gray < 8 bit -> 8 bit, tRNS -> alpha */
  png_set_strip_16(png);
  if (ct & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_strip_alpha(png);
  if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != (size_t)w * 3) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s: unsupported PNG layout", path);
    goto done;
  }
  rc = image_reserve(img, (int)w, (int)h, 3, eb, path);
  if (rc != KAT_OK) goto done;
  for (int p = 0; p < passes; p++)
    for (png_uint_32 y = 0; y < h; y++)
      png_read_row(png, img->data + (size_t)y * img->stride, NULL);
  png_read_end(png, NULL);
done:
  png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
  return rc;
}

/* Writes rows as they are, or (binarize) gray rows as 0/255 through a stack row. */
static int png_write_impl(const char *path, const uint8_t *data, int width, int height,
                          int channels, size_t stride, int binarize, kat__errbuf *eb) {
  int orc = KAT_OK;
  uint8_t row[MAX_DIM];
  if (!path || !data || width < 1 || height < 1 || (channels != 1 && channels != 3) ||
      (binarize && width > MAX_DIM))
    return kat__fail(eb, KAT_EINVAL, "png write: bad arguments");
  FILE *f = open_file(path, "wb", eb, &orc);
  if (!f) return orc;
  png_ctx ctx;
  ctx.msg[0] = '\0';
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  volatile int rc = KAT_OK;
  if (!png || !info) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: cannot create libpng writer", path);
    goto done;
  }
  if (setjmp(ctx.jmp)) {
    rc = kat__fail(eb, KAT_EIO, "%s: PNG write failed: %s", path, ctx.msg);
    goto done;
  }
  png_init_io(png, f);
  png_set_compression_level(png, 1);
  png_set_filter(png, 0, channels == 1 ? PNG_FILTER_NONE : PNG_FILTER_SUB);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) {
    const uint8_t *src = data + (size_t)y * stride;
    if (binarize) {
      for (int x = 0; x < width; x++) row[x] = src[x] ? 255 : 0;
      src = row;
    }
    png_write_row(png, src);
  }
  png_write_end(png, NULL);
done:
  png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
  if (fclose(f) != 0 && rc == KAT_OK) rc = kat__fail(eb, KAT_EIO, "%s: %s", path, strerror(errno));
  return rc;
}

int kat__png_write(const char *path, const uint8_t *data, int width, int height, int channels,
                   size_t stride, kat__errbuf *eb) {
  return png_write_impl(path, data, width, height, channels, stride, 0, eb);
}

int kat__png_write_mask(const char *path, const uint8_t *mask, int width, int height, size_t stride,
                        kat__errbuf *eb) {
  return png_write_impl(path, mask, width, height, 1, stride, 1, eb);
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
  struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
  jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  cinfo->err->format_message(cinfo, ctx->msg);
  longjmp(ctx->jmp, 1);
}

/* Warnings are ignored except premature end of data, which Pillow also refuses. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static int jpeg_read_file(const char *path, FILE *f, kat__image *img, kat__errbuf *eb) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  volatile int rc = KAT_OK;
  cinfo.err = jpeg_std_error(&ctx.mgr);
  ctx.mgr.error_exit = jpeg_on_error;
  ctx.mgr.emit_message = jpeg_on_message;
  ctx.msg[0] = '\0';
  if (setjmp(ctx.jmp)) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s: corrupt or truncated JPEG: %s", path, ctx.msg);
    goto done;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.image_width > MAX_DIM || cinfo.image_height > MAX_DIM) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s: JPEG too large (%ux%u)", path, cinfo.image_width,
                   cinfo.image_height);
    goto done;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s: CMYK JPEG is not supported", path);
    goto done;
  }
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  rc = image_reserve(img, (int)cinfo.output_width, (int)cinfo.output_height, 3, eb, path);
  if (rc != KAT_OK) goto done;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img->data + (size_t)cinfo.output_scanline * img->stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
done:
  jpeg_destroy_decompress(&cinfo);
  return rc;
}

int kat__jpeg_write(const char *path, const uint8_t *data, int width, int height, size_t stride,
                    int quality, kat__errbuf *eb) {
  int orc = KAT_OK;
  if (!path || !data || width < 1 || height < 1 || quality < 1 || quality > 100)
    return kat__fail(eb, KAT_EINVAL, "jpeg write: bad arguments");
  FILE *f = open_file(path, "wb", eb, &orc);
  if (!f) return orc;
  struct jpeg_compress_struct cinfo;
  jpeg_ctx ctx;
  volatile int rc = KAT_OK;
  cinfo.err = jpeg_std_error(&ctx.mgr);
  ctx.mgr.error_exit = jpeg_on_error;
  ctx.msg[0] = '\0';
  if (setjmp(ctx.jmp)) {
    rc = kat__fail(eb, KAT_EIO, "%s: JPEG write failed: %s", path, ctx.msg);
    goto done;
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(data + (size_t)cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
done:
  jpeg_destroy_compress(&cinfo);
  if (fclose(f) != 0 && rc == KAT_OK) rc = kat__fail(eb, KAT_EIO, "%s: %s", path, strerror(errno));
  return rc;
}

int kat__image_read(const char *path, kat__image *img, kat__errbuf *eb) {
  int rc = KAT_OK;
  unsigned char magic[8] = {0};
  if (!path || !img) return kat__fail(eb, KAT_EINVAL, "image read: bad arguments");
  FILE *f = open_file(path, "rb", eb, &rc);
  if (!f) return rc;
  size_t n = fread(magic, 1, sizeof magic, f);
  rewind(f);
  if (n >= 8 && png_sig_cmp(magic, 0, 8) == 0)
    rc = png_read_file(path, f, img, eb);
  else if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
    rc = jpeg_read_file(path, f, img, eb);
  else
    rc = kat__fail(eb, KAT_EFORMAT, "%s: not a PNG or JPEG file%s", path, n == 0 ? " (empty)" : "");
  fclose(f);
  return rc;
}

/* ---- Folders ---- */

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

int kat__natural_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (is_digit(*a) && is_digit(*b)) {
      const char *za = a, *zb = b;
      while (*a == '0') a++;
      while (*b == '0') b++;
      const char *sa = a, *sb = b;
      while (is_digit(*a)) a++;
      while (is_digit(*b)) b++;
      size_t la = (size_t)(a - sa), lb = (size_t)(b - sb);
      if (la != lb) return la < lb ? -1 : 1;
      int c = memcmp(sa, sb, la);
      if (c) return c;
      /* Equal value: fewer leading zeros first. */
      size_t ta = (size_t)(a - za), tb = (size_t)(b - zb);
      if (ta != tb) return ta < tb ? -1 : 1;
      continue;
    }
    if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int cmp_paths(const void *x, const void *y) {
  return kat__natural_cmp(*(char *const *)x, *(char *const *)y);
}

static int has_image_ext(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return 0;
  return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
         strcasecmp(dot, ".png") == 0;
}

void kat__file_list_cleanup(kat__file_list *list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; i++) kat__free(list->paths[i]);
  kat__free(list->paths);
  list->paths = NULL;
  list->count = 0;
}

int kat__image_dir_list(const char *dir, kat__file_list *out, kat__errbuf *eb) {
  int rc = KAT_OK;
  size_t cap = 0;
  if (!dir || !out) return kat__fail(eb, KAT_EINVAL, "image folder: bad arguments");
  out->paths = NULL;
  out->count = 0;
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    return kat__fail(eb, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: %s", dir, strerror(e));
  }
  size_t dlen = strlen(dir);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || !has_image_ext(de->d_name)) continue;
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 64, bytes;
      char **np = NULL;
      if (kat__size_mul(ncap, sizeof *np, &bytes)) np = kat__realloc(out->paths, bytes);
      if (!np) goto nomem;
      out->paths = np;
      cap = ncap;
    }
    size_t len = dlen + 1 + strlen(de->d_name) + 1;
    char *p = kat__malloc(len);
    if (!p) goto nomem;
    snprintf(p, len, "%s/%s", dir, de->d_name);
    out->paths[out->count++] = p;
  }
  closedir(d);
  if (out->count > 1) qsort(out->paths, out->count, sizeof *out->paths, cmp_paths);
  return rc;
nomem:
  closedir(d);
  kat__file_list_cleanup(out);
  return kat__fail(eb, KAT_ENOMEM, "%s: out of memory listing images", dir);
}
