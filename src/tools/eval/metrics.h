/*
 * Tracking metrics on plain arrays: box IoU, center errors, mask IoU, success / precision curves
 * and their summaries. No I/O; every function is pure and thread-safe. The conventions (which
 * frames count, strict vs inclusive thresholds) are those of the LaSOT toolkit and pytracking and
 * are written down in docs/internals/eval.md.
 */
#ifndef KAT_EVAL_METRICS_H
#define KAT_EVAL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/eval/eval.h"

/* True if the box is finite with w > 0 and h > 0 (a present target / a usable prediction). */
bool kat__box_valid(const kat__eval_box *b);

/*
 * IoU of two boxes, 0 if either is invalid. Boxes cover [x, x+w) x [y, y+h); this equals the
 * LaSOT toolkit's pixel-inclusive formula (right = x + w - 1, width = right - left + 1), so boxes
 * that only touch along an edge have IoU 0.
 */
double kat__box_iou(const kat__eval_box *a, const kat__eval_box *b);

/* Euclidean distance between the centers (x + (w-1)/2, y + (h-1)/2), in pixels. */
double kat__box_center_error(const kat__eval_box *pred, const kat__eval_box *gt);

/*
 * Center error with each axis divided by the ground truth's size: sqrt(((cxp-cxg)/wg)^2 +
 * ((cyp-cyg)/hg)^2), as LaSOT's normalised precision. `gt` must be valid.
 */
double kat__box_center_error_norm(const kat__eval_box *pred, const kat__eval_box *gt);

/* Tight bounding box of the non-zero bytes of a [h,w] u8 mask; false (box NaN) when empty. */
bool kat__mask_bbox(const uint8_t *mask, size_t w, size_t h, kat__eval_box *out);

/*
 * IoU of two [n] u8 masks (non-zero = foreground). Both empty gives 1 (DAVIS). `inter` and
 * `uni`, if not NULL, receive the pixel counts.
 */
double kat__mask_iou(const uint8_t *a, const uint8_t *b, size_t n, size_t *inter, size_t *uni);

/* The threshold sets: overlap 0:0.05:1, center 0:1:50 px, normalised 0:0.01:0.5. */
double kat__success_threshold(size_t i);
double kat__precision_threshold(size_t i);
double kat__norm_precision_threshold(size_t i);

/*
 * Per-frame values of the scored frames go in; curves come out, each value divided by `denom`
 * (>= n; larger when absent frames count as failures; 0 gives all-zero curves).
 *   success[i]   = #{iou[k] > overlap_threshold(i)} / denom           (strict, as OTB/LaSOT)
 *   precision[i] = #{center_err[k] <= precision_threshold(i)} / denom (inclusive)
 *   norm[i]      = #{norm_err[k] <= norm_precision_threshold(i)} / denom
 * Any of the input/output pointers may be NULL to skip that curve.
 */
void kat__success_curve(const double *iou, size_t n, size_t denom,
                        double success[KAT_EVAL_SUCCESS_POINTS]);
void kat__precision_curve(const double *center_err, size_t n, size_t denom,
                          double precision[KAT_EVAL_PRECISION_POINTS]);
void kat__norm_precision_curve(const double *norm_err, size_t n, size_t denom,
                               double norm[KAT_EVAL_NORM_PRECISION_POINTS]);

/* Mean of a curve (the AUC of OTB/LaSOT success plots); 0 for count 0. */
double kat__curve_mean(const double *curve, size_t count);

/*
 * Box metrics of one sequence. pred[0..n_pred) and gt[0..n_gt) are per-frame boxes (NaN or
 * invalid for absent / missing). Applies the options' first-frame, hold-last-box and
 * absent-frame rules, fills the box fields of *out (frames, box_frames, absent_frames,
 * invalid_pred, curves, auc, mean_box_iou, precision_20, norm_precision_*), and writes each
 * frame's IoU to iou_out[0..n_gt) if not NULL (NaN on absent-gt frames). `work` is scratch of
 * 3 * n_gt doubles. Returns the number of scored frames.
 */
size_t kat__score_boxes(const kat__eval_box *pred, size_t n_pred, const kat__eval_box *gt,
                        size_t n_gt, const kat__eval_options *opt, double *work, double *iou_out,
                        kat__eval_score *out);

/*
 * Keeps the `cap` frames with the lowest key, ordered by key then frame number. The key is the
 * lower of box IoU and mask IoU where both are numbers, else whichever is; frames with neither,
 * and frames whose key is 1 (to 1e-9: full agreement), never enter. `list` holds
 * *count entries; call once per frame.
 */
void kat__worst_insert(kat__eval_frame *list, size_t *count, size_t cap, const kat__eval_frame *f);

#endif /* KAT_EVAL_METRICS_H */
