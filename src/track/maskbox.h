/*
 * Boxes and masks from low-resolution mask logits, as the reference derives them from a bilinear
 * upsample (torch.nn.functional.interpolate, mode="bilinear", align_corners=False) thresholded at
 * 0, but without materialising the upsampled mask:
 *
 *  - kat__mask_box_exact: [x_min, y_min, x_max, y_max] of (upsample(mask) > 0), [0,0,0,0] if
 *    empty (sam2_base.py `_forward_sam_heads`: torch.argwhere(high_res_masks > 0) min/max; also the
 *    LaSOT output box of scripts/main_inference.py on the video-resolution mask). Only pixels that
 *    can be positive are evaluated (a bilinear value is a sum of non-negative weights times source
 *    logits, so it can be > 0 only next to a positive source logit), and each is computed with the
 *    same float32 operations in the same order as PyTorch's CPU kernel, so the result is identical
 *    to the full upsample.
 *  - kat__mask_box_fast: the box of the positive low-res cells scaled to the output size (an
 *    approximation; tests/test_select.c measures it against the exact box).
 *  - kat__mask_render: the binary mask at an output size (sam2_video_predictor.py
 *    `_get_orig_video_res_output` then > 0), only when the caller wants masks.
 *
 * Thread-safety: a kat__lin_axis is read-only after init; the functions are reentrant.
 */
#ifndef KAT_TRACK_MASKBOX_H
#define KAT_TRACK_MASKBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Source indices and weights of a 1-D bilinear resize from `in` to `out` samples, computed as
 * PyTorch 1.13's CPU upsample_bilinear2d does (UpSample.h): scale = float32(in / out); the source
 * position scale * (dst + 0.5) - 0.5 in double (the 0.5 literals are doubles), clamped at 0;
 * index = its integer part; lambda1 = float32(pos - index), lambda0 = float32(1 - lambda1). */
typedef struct kat__lin_axis {
  int in, out;
  int32_t *i0, *i1; /* [out] */
  float *w0, *w1;   /* [out] */
} kat__lin_axis;

/* Allocates the tables (freed by kat__lin_axis_cleanup, which is a no-op on a zeroed struct).
 * KAT_ENOMEM or KAT_EINVAL (sizes < 1); the struct is left zeroed on failure. */
int kat__lin_axis_init(kat__lin_axis *ax, int in, int out);
void kat__lin_axis_cleanup(kat__lin_axis *ax);

/*
 * PyTorch runs two different CPU kernels for a bilinear resize, with different rounding
 * (engineer B established both bit-exactly against torch 1.13, tools/reference hostmath.py):
 *  - KAT__BILINEAR_MULTI: an input with several channels ([1,3,L,L] multimask candidates in
 *    `_forward_sam_heads`): t_a = fmaf(x_a0, wx0, x_a1 * wx1) per source row a, then
 *    value = fmaf(t_0, wy0, t_1 * wy1) (the kernel is compiled with FMA contraction);
 *  - KAT__BILINEAR_SINGLE: one channel ([1,1,L,L], which is also channels-last contiguous: the
 *    output masks of `_get_orig_video_res_output`): w_ab = float32(wy_a * wx_b), value =
 *    float32(x00*w00 + x01*w01 + x10*w10 + x11*w11 summed in double).
 */
typedef enum kat__bilinear_kernel {
  KAT__BILINEAR_MULTI = 0,
  KAT__BILINEAR_SINGLE = 1
} kat__bilinear_kernel;

/* One upsampled value at output (y, x) of `mask` [ay->in, ax->in] f32 row-major. */
float kat__mask_sample(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax, int y,
                       int x, kat__bilinear_kernel k);

/* Exact box of (upsample(mask) > 0) in output pixels (inclusive max). Returns 1 when not empty,
 * 0 when empty (box = 0,0,0,0). */
int kat__mask_box_exact(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax,
                        kat__bilinear_kernel k, int box[4]);

/* Approximate box from the positive low-res cells, scaled to out_h x out_w. Same return. */
int kat__mask_box_fast(const float *mask, int lh, int lw, int out_h, int out_w, int box[4]);

/* Writes 255 where upsample(mask) > 0 else 0 into `out` [ay->out rows, ax->out cols] with row
 * stride `stride` bytes. */
void kat__mask_render(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax,
                      kat__bilinear_kernel k, uint8_t *out, size_t stride);

#endif /* KAT_TRACK_MASKBOX_H */
