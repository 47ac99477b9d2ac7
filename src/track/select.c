/*
 * Candidate choice: mirrors sam2_base.py `_forward_sam_heads` (samurai_mode and plain branches,
 * object-score gating, object pointer mixing) and mask_decoder.py
 * `_dynamic_multimask_via_stability` / `_get_stability_scores`. See select.h for the dtype
 * conventions.
 */
#include "track/select.h"

#include <math.h>

int kat__argmax_f32(const float *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

void kat__select_samurai(kat__samurai_state *st, const kat__samurai_choice_params *p,
                         const float iou[3], kat__cand_box_fn box_of, void *user,
                         kat__choice *out) {
  const float thr = (float)p->stable_ious_threshold;
  double box[4], xyah[4];
  out->has_kf_score = 0;
  out->kf_score = 0.0f;
  out->has_kf_box = 0;
  out->boxes_computed = 0;
  if (!st->has_kf || st->stable_frames == 0) {
    /* Phase 1: argmax IoU, (re)initiate the filter on its box. */
    out->phase = 1;
    out->cand = kat__argmax_f32(iou, 3);
    box_of(user, out->cand, box);
    out->boxes_computed = 1;
    kat__xyxy_to_xyah(box, xyah);
    kat__kalman_initiate(&st->kf, xyah);
    st->has_kf = 1;
    st->stable_frames += 1;
  } else if (st->stable_frames < p->stable_frames_threshold) {
    /* Phase 2: predict, argmax IoU, update only when the IoU prediction is confident. */
    out->phase = 2;
    kat__kalman_predict(&st->kf);
    out->has_kf_box = 1;
    kat__xyah_to_xyxy(st->kf.mean, out->kf_box);
    out->cand = kat__argmax_f32(iou, 3);
    box_of(user, out->cand, box);
    out->boxes_computed = 1;
    if (iou[out->cand] > thr) {
      kat__xyxy_to_xyah(box, xyah);
      (void)kat__kalman_update(&st->kf, xyah);
      st->stable_frames += 1;
    } else {
      st->stable_frames = 0;
    }
  } else {
    /* Phase 3: predict; score = w * IoU(kf box, candidate box) + (1 - w) * predicted IoU. */
    out->phase = 3;
    kat__kalman_predict(&st->kf);
    double boxes[3][4];
    for (int i = 0; i < 3; i++) box_of(user, i, boxes[i]);
    out->boxes_computed = 3;
    double pred[4];
    kat__xyah_to_xyxy(st->kf.mean, pred);
    out->has_kf_box = 1;
    for (int i = 0; i < 4; i++) out->kf_box[i] = pred[i];
    const float w = (float)p->kf_score_weight;
    const float w1 = (float)(1.0 - p->kf_score_weight);
    float kf_iou[3], weighted[3];
    for (int i = 0; i < 3; i++) {
      kf_iou[i] = (float)kat__kf_box_iou(pred, boxes[i]);
      float a = w * kf_iou[i];
      float b = w1 * iou[i];
      weighted[i] = a + b;
    }
    out->cand = kat__argmax_f32(weighted, 3);
    out->has_kf_score = 1;
    out->kf_score = kf_iou[out->cand];
    if (iou[out->cand] < thr) {
      st->stable_frames = 0;
    } else {
      kat__xyxy_to_xyah(boxes[out->cand], xyah);
      (void)kat__kalman_update(&st->kf, xyah);
    }
  }
}

float kat__stability_score(const float *logits, size_t n, float delta) {
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; i++) {
    inter += logits[i] > delta;
    uni += logits[i] > -delta;
  }
  return uni > 0 ? (float)inter / (float)uni : 1.0f;
}

int kat__select_single_mask(const float *masks, size_t plane, const float iou[4], int dynamic,
                            float delta, float thresh) {
  if (!dynamic) return 0;
  if (kat__stability_score(masks, plane, delta) >= thresh) return 0;
  return 1 + kat__argmax_f32(iou + 1, 3);
}

int kat__object_present(float obj_score, double min_obj_score_logits) {
  return obj_score > (float)min_obj_score_logits;
}

void kat__gate_mask(float *mask, size_t n, int present) {
  if (present) return;
  for (size_t i = 0; i < n; i++) mask[i] = KAT_NO_OBJ_SCORE;
}

void kat__mix_obj_ptr(float *ptr, const float *no_obj_ptr, int c, float obj_score, int present,
                      int pred_obj_scores, int soft, int fixed) {
  if (!pred_obj_scores) return;
  float lambda = soft ? 1.0f / (1.0f + expf(-obj_score)) : (present ? 1.0f : 0.0f);
  float one_minus = 1.0f - lambda;
  for (int i = 0; i < c; i++) {
    float v = ptr[i];
    if (fixed) v = lambda * v;
    float add = one_minus * no_obj_ptr[i];
    ptr[i] = v + add;
  }
}
