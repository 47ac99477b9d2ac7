/*
 * Input validation shared by every entry point (see core/validate.h). The ranges of the SAMURAI
 * parameters live in one table, so the tracker options and the manifest are held to the same
 * limits; messages name the field, the value and the range.
 */
#include "core/validate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *format_name(kat_pixel_format f) {
  switch (f) {
    case KAT_PIXEL_RGB24: return "RGB24";
    case KAT_PIXEL_BGR24: return "BGR24";
    case KAT_PIXEL_NV12: return "NV12";
    case KAT_PIXEL_GRAY8: return "GRAY8";
  }
  return NULL;
}

int kat__validate_frame(const kat_frame *f, const char *what, kat__errbuf *eb) {
  if (!f) return kat__fail(eb, KAT_EINVAL, "%s: frame is NULL", what);
  const char *name = format_name(f->format);
  if (!name) return kat__fail(eb, KAT_EINVAL, "%s: unknown pixel format %d", what, (int)f->format);
  if (f->width < 1 || f->height < 1)
    return kat__fail(eb, KAT_EINVAL, "%s: frame %s size %dx%d is not positive", what, name,
                     f->width, f->height);
  if (!f->data[0])
    return kat__fail(eb, KAT_EINVAL, "%s: frame %s %dx%d: data[0] is NULL", what, name, f->width,
                     f->height);
  const size_t channels = f->format == KAT_PIXEL_RGB24 || f->format == KAT_PIXEL_BGR24 ? 3 : 1;
  const size_t row = (size_t)f->width * channels;
  if (f->stride[0] < row)
    return kat__fail(eb, KAT_EINVAL, "%s: frame %s %dx%d: stride %zu < width*%zu = %zu", what, name,
                     f->width, f->height, f->stride[0], channels, row);
  size_t bytes;
  if (!kat__size_mul(f->stride[0], (size_t)f->height, &bytes))
    return kat__fail(eb, KAT_EINVAL, "%s: frame %s %dx%d: stride %zu * height overflows", what,
                     name, f->width, f->height, f->stride[0]);
  if (f->format == KAT_PIXEL_NV12) {
    if (f->width % 2 || f->height % 2)
      return kat__fail(eb, KAT_EINVAL, "%s: frame NV12 %dx%d: width and height must be even", what,
                       f->width, f->height);
    if (!f->data[1])
      return kat__fail(eb, KAT_EINVAL, "%s: frame NV12 %dx%d: data[1] (U,V plane) is NULL", what,
                       f->width, f->height);
    if (f->stride[1] < (size_t)f->width)
      return kat__fail(eb, KAT_EINVAL, "%s: frame NV12 %dx%d: stride[1] %zu < width = %d", what,
                       f->width, f->height, f->stride[1], f->width);
    if (!kat__size_mul(f->stride[1], (size_t)f->height / 2, &bytes))
      return kat__fail(eb, KAT_EINVAL, "%s: frame NV12 %dx%d: stride[1] %zu * height overflows",
                       what, f->width, f->height, f->stride[1]);
  }
  return KAT_OK;
}

int kat__validate_box(const double box[4], int width, int height, const char *what, double out[4],
                      int *clipped, kat__errbuf *eb) {
  static const char *const names[4] = {"x", "y", "w", "h"};
  if (clipped) *clipped = 0;
  if (!box) return kat__fail(eb, KAT_EINVAL, "%s: box is NULL", what);
  for (int i = 0; i < 4; i++)
    if (!isfinite(box[i]))
      return kat__fail(eb, KAT_EINVAL, "%s: box %s is not finite (%g)", what, names[i], box[i]);
  if (!(box[2] > 0) || !(box[3] > 0))
    return kat__fail(eb, KAT_EINVAL, "%s: box %g,%g,%g,%g is empty (w and h must be > 0)", what,
                     box[0], box[1], box[2], box[3]);
  double b[4] = {box[0], box[1], box[2], box[3]};
  if (width > 0 && height > 0) {
    /* x + w may overflow to inf for huge values; fmin then still yields the frame edge. */
    const double x0 = fmax(box[0], 0.0), y0 = fmax(box[1], 0.0);
    const double x1 = fmin(box[0] + box[2], (double)width);
    const double y1 = fmin(box[1] + box[3], (double)height);
    if (!(x1 > x0) || !(y1 > y0))
      return kat__fail(eb, KAT_EINVAL, "%s: box %g,%g,%g,%g lies outside the %dx%d frame", what,
                       box[0], box[1], box[2], box[3], width, height);
    /* Only an axis that crosses an edge changes: recomputing w as (x + w) - x could differ from
     * w in the last bit for a box that lies inside. */
    const int clip_x = box[0] < 0 || box[0] + box[2] > (double)width;
    const int clip_y = box[1] < 0 || box[1] + box[3] > (double)height;
    if (clip_x) {
      b[0] = x0;
      b[2] = x1 - x0;
    }
    if (clip_y) {
      b[1] = y0;
      b[3] = y1 - y0;
    }
    /* Only a caller that takes the clip (clipped != NULL) reports it, so a box checked early
     * and used later is logged once. */
    if (clipped && (clip_x || clip_y)) {
      kat__log(KAT_LOG_WARN,
               "%s: box %g,%g,%g,%g extends past the %dx%d frame; clipped to %g,%g,%g,%g", what,
               box[0], box[1], box[2], box[3], width, height, b[0], b[1], b[2], b[3]);
      *clipped = 1;
    }
  }
  if (out) memcpy(out, b, sizeof b);
  return KAT_OK;
}

/* One SAMURAI parameter and its range. */
typedef struct param_range {
  const char *name;
  double lo, hi;
} param_range;

enum { P_STABLE_IOUS, P_MIN_OBJ, P_KF_WEIGHT, P_MB_IOU, P_MB_OBJ, P_MB_KF, P_COUNT };

static const param_range k_ranges[P_COUNT] = {
    [P_STABLE_IOUS] = {"stable_ious_threshold", 0.0, 1.0},
    [P_MIN_OBJ] = {"min_obj_score_logits", -KAT__LOGIT_MAX, KAT__LOGIT_MAX},
    [P_KF_WEIGHT] = {"kf_score_weight", 0.0, 1.0},
    [P_MB_IOU] = {"memory_bank_iou_threshold", 0.0, 1.0},
    [P_MB_OBJ] = {"memory_bank_obj_score_threshold", -KAT__LOGIT_MAX, KAT__LOGIT_MAX},
    [P_MB_KF] = {"memory_bank_kf_score_threshold", 0.0, 1.0},
};

/* `v` must be finite and in its range; `prefix` ("samurai." or "") starts the field name. */
static int check_range(int which, double v, const char *prefix, int status, kat__errbuf *eb) {
  const param_range *r = &k_ranges[which];
  if (!isfinite(v)) return kat__fail(eb, status, "%s%s is not finite (%g)", prefix, r->name, v);
  if (v < r->lo || v > r->hi)
    return kat__fail(eb, status, "%s%s %g out of range [%g,%g]", prefix, r->name, v, r->lo, r->hi);
  return KAT_OK;
}

static int check_stable_frames(long long v, const char *prefix, int status, kat__errbuf *eb) {
  if (v < 0 || v > KAT__STABLE_FRAMES_MAX)
    return kat__fail(eb, status, "%sstable_frames_threshold %lld out of range [0,%d]", prefix, v,
                     KAT__STABLE_FRAMES_MAX);
  return KAT_OK;
}

int kat__validate_samurai_defaults(const kat__samurai_defaults *p, kat__errbuf *eb) {
  if (!p) return kat__fail(eb, KAT_EINVAL, "samurai parameters are NULL");
  const double v[P_COUNT] = {
      [P_STABLE_IOUS] = p->stable_ious_threshold,
      [P_MIN_OBJ] = p->min_obj_score_logits,
      [P_KF_WEIGHT] = p->kf_score_weight,
      [P_MB_IOU] = p->memory_bank_iou_threshold,
      [P_MB_OBJ] = p->memory_bank_obj_score_threshold,
      [P_MB_KF] = p->memory_bank_kf_score_threshold,
  };
  int rc = check_stable_frames(p->stable_frames_threshold, "samurai.", KAT_EMODEL, eb);
  for (int i = 0; i < P_COUNT && !rc; i++) rc = check_range(i, v[i], "samurai.", KAT_EMODEL, eb);
  return rc;
}

int kat__validate_tracker_options(const kat_tracker_options *o, kat__errbuf *eb) {
  if (!o) return kat__fail(eb, KAT_EINVAL, "tracker options are NULL");
  if (o->selection != KAT_SELECTION_SAMURAI && o->selection != KAT_SELECTION_SAM2)
    return kat__fail(eb, KAT_EINVAL,
                     "tracker options: selection %d is not KAT_SELECTION_SAMURAI (0) or "
                     "KAT_SELECTION_SAM2 (1)",
                     (int)o->selection);
  if (o->box_mode != KAT_BOX_EXACT && o->box_mode != KAT_BOX_FAST)
    return kat__fail(eb, KAT_EINVAL,
                     "tracker options: box_mode %d is not KAT_BOX_EXACT (0) or KAT_BOX_FAST (1)",
                     (int)o->box_mode);
  int rc;
  if (o->stable_frames_threshold != -1 &&
      (rc = check_stable_frames(o->stable_frames_threshold, "tracker options: ", KAT_EINVAL, eb)))
    return rc;
  const double v[P_COUNT] = {
      [P_STABLE_IOUS] = o->stable_ious_threshold,
      [P_MIN_OBJ] = o->min_obj_score_logits,
      [P_KF_WEIGHT] = o->kf_score_weight,
      [P_MB_IOU] = o->memory_bank_iou_threshold,
      [P_MB_OBJ] = o->memory_bank_obj_score_threshold,
      [P_MB_KF] = o->memory_bank_kf_score_threshold,
  };
  for (int i = 0; i < P_COUNT; i++) /* NAN means "take the bundle's value" */
    if (!isnan(v[i]) && (rc = check_range(i, v[i], "tracker options: ", KAT_EINVAL, eb))) return rc;
  if (o->lost_after_frames < 1)
    return kat__fail(eb, KAT_EINVAL, "tracker options: lost_after_frames %d must be >= 1",
                     o->lost_after_frames);
  if (o->num_frames < 0)
    return kat__fail(eb, KAT_EINVAL, "tracker options: num_frames %lld must be >= 0",
                     (long long)o->num_frames);
  if (o->max_objects < 1 || o->max_objects > 1024)
    return kat__fail(eb, KAT_EINVAL, "tracker options: max_objects %d out of range [1,1024]",
                     o->max_objects);
  if (o->max_cond_frames < 1 || o->max_cond_frames > 64)
    return kat__fail(eb, KAT_EINVAL, "tracker options: max_cond_frames %d out of range [1,64]",
                     o->max_cond_frames);
  if (o->mask_width < 0 || o->mask_height < 0 || (o->mask_width > 0) != (o->mask_height > 0) ||
      o->mask_width > 65536 || o->mask_height > 65536)
    return kat__fail(eb, KAT_EINVAL,
                     "tracker options: mask size %dx%d (both 0 for the source size, or both in "
                     "[1,65536])",
                     o->mask_width, o->mask_height);
  return KAT_OK;
}

int kat__validate_constant(const char *name, const float *values, size_t n, kat__errbuf *eb) {
  if (n && !values) return kat__fail(eb, KAT_EMODEL, "constant '%s' has no data", name);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(values[i]))
      return kat__fail(eb, KAT_EMODEL, "bundle: constant '%s' value [%zu] is not finite (%g)", name,
                       i, (double)values[i]);
  return KAT_OK;
}

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

int kat__open_regular_file(const char *path, const char *what, uint64_t max_bytes, FILE **out,
                           uint64_t *size, kat__errbuf *eb) {
  if (!out) return kat__fail(eb, KAT_EINVAL, "%s: out is NULL", what);
  *out = NULL;
  if (!path) return kat__fail(eb, KAT_EINVAL, "%s: no path", what);
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return kat__fail(eb, e == ENOENT ? KAT_ENOENT : KAT_EIO, "%s %s: %s", what, path, strerror(e));
  }
  struct stat st;
  int rc = KAT_OK;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    rc = kat__fail(eb, KAT_EIO, "%s %s: %s", what, path, strerror(e));
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = kat__fail(eb, KAT_EFORMAT, "%s %s is %s, not a regular file", what, path,
                   file_kind(st.st_mode));
    goto fail;
  }
  if ((uint64_t)st.st_size > max_bytes) {
    rc = kat__fail(eb, KAT_ERANGE, "%s %s is %llu bytes, more than the limit of %llu", what, path,
                   (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    goto fail;
  }
  /* Back to blocking reads for a regular file (O_NONBLOCK has no effect on them, but be plain). */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int e = errno;
    rc = kat__fail(eb, e == ENOMEM ? KAT_ENOMEM : KAT_EIO, "%s %s: %s", what, path, strerror(e));
    goto fail;
  }
  if (size) *size = (uint64_t)st.st_size;
  *out = f;
  return KAT_OK;
fail:
  close(fd);
  return rc;
}
