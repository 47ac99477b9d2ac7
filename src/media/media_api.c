/*
 * The public media API (katana/media.h): thin, allocation-free-per-frame wrappers over the
 * internal frame sources (decode.c) and writers (encode.c), for the CLI and library users.
 */
#include <string.h>

#include "media/decode.h"
#include "media/encode.h"

struct kat_source {
  kat__source *src; /* owned */
};

struct kat_video_writer {
  kat__video_writer *vw; /* owned */
};

static void copy_err(char *err, size_t n, const char *msg) {
  if (err && n) kat__strlcpy(err, msg ? msg : "", n);
}

void kat_source_options_init(kat_source_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
}

int kat_source_open(const char *uri, const kat_source_options *o, kat_source **out, char *err,
                    size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  if (!out || !uri) {
    copy_err(err, err_size, "kat_source_open: no source given");
    return KAT_EINVAL;
  }
  *out = NULL;
  kat__source_options so;
  kat__source_options_from(&so, o);
  kat_source *s = kat__calloc(1, sizeof *s);
  if (!s) {
    copy_err(err, err_size, "out of memory");
    return KAT_ENOMEM;
  }
  int rc = kat__source_open(uri, &so, &s->src, &eb);
  if (rc) {
    copy_err(err, err_size, eb.msg);
    kat__free(s);
    return rc;
  }
  *out = s;
  return KAT_OK;
}

void kat_source_get_info(const kat_source *s, kat_source_info *info) {
  if (!info) return;
  memset(info, 0, sizeof *info);
  if (!s) return;
  kat__source_info_to_public(s->src, info);
}

int kat_source_next(kat_source *s, kat_frame *frame) {
  if (!s || !frame) return KAT_EINVAL;
  return kat__source_next(s->src, frame);
}

const char *kat_source_last_error(const kat_source *s) {
  return s ? kat__source_last_error(s->src) : "";
}

void kat_source_close(kat_source *s) {
  if (!s) return;
  kat__source_close(s->src);
  kat__free(s);
}

int kat_video_writer_open(const char *path, int width, int height, double fps,
                          kat_video_writer **out, char *err, size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  if (!out) return KAT_EINVAL;
  *out = NULL;
  kat_video_writer *w = kat__calloc(1, sizeof *w);
  if (!w) {
    copy_err(err, err_size, "out of memory");
    return KAT_ENOMEM;
  }
  int rc = kat__video_writer_open(path, width, height, fps, &w->vw, &eb);
  if (rc) {
    copy_err(err, err_size, eb.msg);
    kat__free(w);
    return rc;
  }
  *out = w;
  return KAT_OK;
}

int kat_video_writer_write(kat_video_writer *w, const uint8_t *rgb, size_t stride) {
  if (!w || !rgb) return KAT_EINVAL;
  return kat__video_writer_write(w->vw, rgb, stride);
}

int kat_video_writer_close(kat_video_writer *w, char *err, size_t err_size) {
  if (!w) return KAT_OK;
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  int rc = kat__video_writer_close(w->vw, &eb);
  if (rc) copy_err(err, err_size, eb.msg);
  kat__free(w);
  return rc;
}

void kat_overlay_draw(uint8_t *rgb, size_t stride, int w, int h, const uint8_t *mask,
                      size_t mask_stride, const float box[4], const uint8_t rgb_color[3],
                      float alpha) {
  kat__overlay_draw(rgb, stride, w, h, mask, mask_stride, box, rgb_color, alpha);
}

int kat_mask_png_write(const char *dir, int64_t index, const uint8_t *mask, int w, int h,
                       size_t stride, char *err, size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  int rc = kat__mask_png_write(dir, index, mask, w, h, stride, &eb);
  if (rc) copy_err(err, err_size, eb.msg);
  return rc;
}
