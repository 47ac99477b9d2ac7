/*
 * Tracking metrics on plain arrays: box and mask IoU, center errors, the success, precision and
 * normalised-precision curves, and the per-sequence box scoring that applies the LaSOT toolkit's
 * rules (absent frames, first frame, held predictions). See docs/internals/eval.md.
 */
#include "tools/eval/metrics.h"

#include <math.h>
#include <string.h>

bool kat__box_valid(const kat__eval_box *b) {
  return isfinite(b->x) && isfinite(b->y) && isfinite(b->w) && isfinite(b->h) && b->w > 0.0 &&
         b->h > 0.0;
}

double kat__box_iou(const kat__eval_box *a, const kat__eval_box *b) {
  if (!kat__box_valid(a) || !kat__box_valid(b)) return 0.0;
  /* Identical boxes are exactly 1 ((x + w) - x need not round back to w). */
  if (a->x == b->x && a->y == b->y && a->w == b->w && a->h == b->h) return 1.0;
  /* LaSOT's calc_rect_int uses right = x + w - 1 and width = right - left + 1; the two 1s
   * cancel, leaving the continuous intersection of [x, x+w). */
  double iw = fmin(a->x + a->w, b->x + b->w) - fmax(a->x, b->x);
  double ih = fmin(a->y + a->h, b->y + b->h) - fmax(a->y, b->y);
  if (iw <= 0.0 || ih <= 0.0) return 0.0;
  double inter = iw * ih;
  double uni = a->w * a->h + b->w * b->h - inter;
  return uni > 0.0 ? inter / uni : 0.0;
}

static void box_center(const kat__eval_box *b, double *cx, double *cy) {
  *cx = b->x + (b->w - 1.0) / 2.0;
  *cy = b->y + (b->h - 1.0) / 2.0;
}

double kat__box_center_error(const kat__eval_box *pred, const kat__eval_box *gt) {
  double px, py, gx, gy;
  box_center(pred, &px, &py);
  box_center(gt, &gx, &gy);
  return hypot(px - gx, py - gy);
}

double kat__box_center_error_norm(const kat__eval_box *pred, const kat__eval_box *gt) {
  double px, py, gx, gy;
  box_center(pred, &px, &py);
  box_center(gt, &gx, &gy);
  return hypot((px - gx) / gt->w, (py - gy) / gt->h);
}

bool kat__mask_bbox(const uint8_t *mask, size_t w, size_t h, kat__eval_box *out) {
  size_t x0 = w, y0 = h, x1 = 0, y1 = 0;
  bool any = false;
  for (size_t y = 0; y < h; y++) {
    const uint8_t *row = mask + y * w;
    for (size_t x = 0; x < w; x++) {
      if (!row[x]) continue;
      any = true;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  if (!any) {
    out->x = out->y = out->w = out->h = NAN;
    return false;
  }
  out->x = (double)x0;
  out->y = (double)y0;
  out->w = (double)(x1 - x0 + 1);
  out->h = (double)(y1 - y0 + 1);
  return true;
}

double kat__mask_iou(const uint8_t *a, const uint8_t *b, size_t n, size_t *inter, size_t *uni) {
  size_t i_count = 0, u_count = 0;
  for (size_t i = 0; i < n; i++) {
    int fa = a[i] != 0, fb = b[i] != 0;
    i_count += (size_t)(fa & fb);
    u_count += (size_t)(fa | fb);
  }
  if (inter) *inter = i_count;
  if (uni) *uni = u_count;
  return u_count ? (double)i_count / (double)u_count : 1.0;
}

/* Thresholds as exact quotients (i/20 rather than i*0.05) so 0.15 is the double nearest 0.15. */
double kat__success_threshold(size_t i) {
  return (double)i / 20.0;
}
double kat__precision_threshold(size_t i) {
  return (double)i;
}
double kat__norm_precision_threshold(size_t i) {
  return (double)i / 100.0;
}

void kat__success_curve(const double *iou, size_t n, size_t denom,
                        double success[KAT_EVAL_SUCCESS_POINTS]) {
  for (size_t t = 0; t < KAT_EVAL_SUCCESS_POINTS; t++) {
    double thr = kat__success_threshold(t);
    size_t hits = 0;
    for (size_t k = 0; k < n; k++) hits += iou[k] > thr;
    success[t] = denom ? (double)hits / (double)denom : 0.0;
  }
}

void kat__precision_curve(const double *center_err, size_t n, size_t denom,
                          double precision[KAT_EVAL_PRECISION_POINTS]) {
  for (size_t t = 0; t < KAT_EVAL_PRECISION_POINTS; t++) {
    double thr = kat__precision_threshold(t);
    size_t hits = 0;
    for (size_t k = 0; k < n; k++) hits += center_err[k] <= thr;
    precision[t] = denom ? (double)hits / (double)denom : 0.0;
  }
}

void kat__norm_precision_curve(const double *norm_err, size_t n, size_t denom,
                               double norm[KAT_EVAL_NORM_PRECISION_POINTS]) {
  for (size_t t = 0; t < KAT_EVAL_NORM_PRECISION_POINTS; t++) {
    double thr = kat__norm_precision_threshold(t);
    size_t hits = 0;
    for (size_t k = 0; k < n; k++) hits += norm_err[k] <= thr;
    norm[t] = denom ? (double)hits / (double)denom : 0.0;
  }
}

double kat__curve_mean(const double *curve, size_t count) {
  if (!count) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < count; i++) sum += curve[i];
  return sum / (double)count;
}

size_t kat__score_boxes(const kat__eval_box *pred, size_t n_pred, const kat__eval_box *gt,
                        size_t n_gt, const kat__eval_options *opt, double *work, double *iou_out,
                        kat__eval_score *out) {
  double *ious = work;            /* [n_gt] f64: IoU of each scored frame */
  double *cerr = work + n_gt;     /* [n_gt] f64: center error, px (inf: no prediction) */
  double *nerr = work + 2 * n_gt; /* [n_gt] f64: normalised center error */
  const kat__eval_box none = {NAN, NAN, NAN, NAN};
  kat__eval_box held = none;
  size_t scored = 0, absent = 0, invalid = 0;
  double iou_sum = 0.0;

  for (size_t f = 0; f < n_gt; f++) {
    kat__eval_box p = f < n_pred ? pred[f] : none;
    /* LaSOT toolkit: rect_mat(1,:) = rect_anno(1,:); pytracking: pred_bb[0,:] = anno_bb[0,:]. */
    if (f == 0 && opt->first_frame_gt) p = gt[0];
    bool own_valid = kat__box_valid(&p);
    /* LaSOT toolkit: a NaN or non-positive-size prediction takes the previous frame's. */
    if (!own_valid && opt->hold_last_box) p = held;
    if (kat__box_valid(&p)) held = p;

    if (!kat__box_valid(&gt[f])) {
      absent++;
      if (iou_out) iou_out[f] = NAN;
      continue;
    }
    if (!own_valid) invalid++;
    bool usable = kat__box_valid(&p);
    double iou = kat__box_iou(&p, &gt[f]);
    ious[scored] = iou;
    cerr[scored] = usable ? kat__box_center_error(&p, &gt[f]) : INFINITY;
    nerr[scored] = usable ? kat__box_center_error_norm(&p, &gt[f]) : INFINITY;
    iou_sum += iou;
    scored++;
    if (iou_out) iou_out[f] = iou;
  }

  size_t denom = scored + (opt->absent_as_failure ? absent : 0);
  out->frames = n_gt;
  out->box_frames = scored;
  out->absent_frames = absent;
  out->invalid_pred = invalid;
  kat__success_curve(ious, scored, denom, out->success);
  kat__precision_curve(cerr, scored, denom, out->precision);
  kat__norm_precision_curve(nerr, scored, denom, out->norm_precision);
  out->auc = kat__curve_mean(out->success, KAT_EVAL_SUCCESS_POINTS);
  out->mean_box_iou = scored ? iou_sum / (double)scored : 0.0;
  out->precision_20 = out->precision[20];
  out->norm_precision_020 = out->norm_precision[20];
  out->norm_precision_auc = kat__curve_mean(out->norm_precision, KAT_EVAL_NORM_PRECISION_POINTS);
  return scored;
}

/* The lower of the two IoUs where both are numbers, else whichever is; NaN if neither. */
static double frame_key(const kat__eval_frame *f) {
  if (isnan(f->mask_iou)) return f->box_iou;
  if (isnan(f->box_iou)) return f->mask_iou;
  return fmin(f->box_iou, f->mask_iou);
}

void kat__worst_insert(kat__eval_frame *list, size_t *count, size_t cap, const kat__eval_frame *f) {
  double key = frame_key(f);
  /* Frames in full agreement (to rounding) are not "worst" frames. */
  if (isnan(key) || key >= 1.0 - 1e-9 || cap == 0) return;
  /* Position after every entry that sorts before or equal to the new one. */
  size_t pos = *count;
  while (pos > 0) {
    double k = frame_key(&list[pos - 1]);
    if (k < key || (k == key && list[pos - 1].frame <= f->frame)) break;
    pos--;
  }
  if (pos >= cap) return;
  size_t n = *count < cap ? *count : cap - 1;
  memmove(&list[pos + 1], &list[pos], (n - pos) * sizeof *list);
  list[pos] = *f;
  if (*count < cap) (*count)++;
}
