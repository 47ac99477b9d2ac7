/*
 * Candidate choice of the tracker: SAMURAI's motion-aware choice among the three multimask
 * candidates (with its Kalman state), plain SAM 2's argmax of predicted IoU, the frame-0 single
 * mask with dynamic_multimask_via_stability, object-score gating of mask logits, and the object
 * pointer choice with no-object mixing.
 *
 * Arithmetic follows the reference's dtypes: mask logits, IoU predictions, scores and pointers are
 * float32 (thresholds compared in float32, as torch compares a float32 tensor with a Python
 * scalar); the Kalman filter and box IoUs are float64 and the box IoU is rounded to float32 before
 * weighting (torch.tensor of Python floats).
 *
 * Thread-safety: pure functions over caller-owned values.
 */
#ifndef KAT_TRACK_SELECT_H
#define KAT_TRACK_SELECT_H

#include <stddef.h>

#include "track/kalman.h"

/* The reference's NO_OBJ_SCORE: the logit given to every mask pixel of an absent object. */
#define KAT_NO_OBJ_SCORE (-1024.0f)

/* The parameters of SAMURAI's motion-aware candidate choice: the tracker fills them from the
 * bundle's defaults (kat__samurai_defaults) and its options. */
typedef struct kat__samurai_choice_params {
  int stable_frames_threshold;  /* 15 */
  double stable_ious_threshold; /* 0.3 */
  double kf_score_weight;       /* 0.25 in the released configs */
} kat__samurai_choice_params;

/* The motion state SAMURAI keeps between frames (sam2_base.py: kf_mean/kf_covariance,
 * stable_frames). Zero-initialise for a new track. */
typedef struct kat__samurai_state {
  kat__kalman kf;
  int has_kf; /* kf_mean is not None */
  int stable_frames;
} kat__samurai_state;

/* Writes the xyxy box (image_size pixels, integer-valued) of candidate `cand` (0..2). */
typedef void (*kat__cand_box_fn)(void *user, int cand, double xyxy[4]);

typedef struct kat__choice {
  int cand;           /* chosen multimask candidate, 0..2 (decoder token cand + 1) */
  int phase;          /* 1 initiate, 2 warming up (stable_frames < threshold), 3 kf-weighted */
  int has_kf_score;   /* kf_score is set only in phase 3, as in the reference */
  float kf_score;     /* IoU of the predicted box with the chosen candidate's box */
  int has_kf_box;     /* phases 2 and 3: the filter's predicted box of this frame */
  double kf_box[4];   /* xyxy, image_size pixels */
  int boxes_computed; /* how many candidate boxes were asked for (1 or 3) */
} kat__choice;

/*
 * sam2_base.py: _forward_sam_heads, samurai_mode branch with multimask output. `iou` [3] f32 are
 * the multimask IoU predictions (tokens 1..3); `box_of` gives candidate boxes of the gated masks
 * (only the ones needed are asked for). Updates `st` and fills `out`.
 */
void kat__select_samurai(kat__samurai_state *st, const kat__samurai_choice_params *p,
                         const float iou[3], kat__cand_box_fn box_of, void *user, kat__choice *out);

/* Index of the first maximum of v[0..n) (torch.argmax). */
int kat__argmax_f32(const float *v, int n);

/* mask_decoder.py: _get_stability_scores. Fraction area(logit > delta) / area(logit > -delta),
 * 1 when the latter is empty; float32. */
float kat__stability_score(const float *logits, size_t n, float delta);

/*
 * mask_decoder.py: forward with multimask_output=False (the prompted frame). Returns the decoder
 * token whose mask is used: 0 when dynamic stability is off or token 0's stability score >=
 * `thresh`, else 1 + argmax of the multimask IoUs. `masks` [4,plane] f32, `iou` [4] f32.
 */
int kat__select_single_mask(const float *masks, size_t plane, const float iou[4], int dynamic,
                            float delta, float thresh);

/* sam2_base.py: is_obj_appearing = object_score_logits > min_obj_score_logits (float32). */
int kat__object_present(float obj_score, double min_obj_score_logits);

/* sam2_base.py: masks of an absent object become NO_OBJ_SCORE. `mask` [n] f32 in place. */
void kat__gate_mask(float *mask, size_t n, int present);

/*
 * sam2_base.py: _forward_sam_heads, object pointer with occlusion handling. `ptr` [C] f32 in
 * place: lambda = sigmoid(score) if `soft` else present; if `fixed` ptr *= lambda; then
 * ptr += (1 - lambda) * no_obj_ptr. Nothing happens when `pred_obj_scores` is 0.
 */
void kat__mix_obj_ptr(float *ptr, const float *no_obj_ptr, int c, float obj_score, int present,
                      int pred_obj_scores, int soft, int fixed);

#endif /* KAT_TRACK_SELECT_H */
