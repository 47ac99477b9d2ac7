/*
 * Box and mask of upsampled mask logits without materialising the upsample; see maskbox.h.
 * The bilinear value mirrors PyTorch's CPU upsample_bilinear2d (align_corners=False) with its two
 * kernels (see maskbox.h), which is what sam2_base.py `_forward_sam_heads` (three candidates) and
 * sam2_video_predictor.py `_get_orig_video_res_output` (one mask) threshold at 0. Both are sums of
 * source logits times non-negative weights, so a value can only be > 0 next to a positive logit:
 * that bounds the pixels the exact box has to evaluate.
 */
#include "track/maskbox.h"

#include <math.h>
#include <string.h>

int kat__lin_axis_init(kat__lin_axis *ax, int in, int out) {
  memset(ax, 0, sizeof *ax);
  if (in < 1 || out < 1) return KAT_EINVAL;
  size_t n = (size_t)out;
  ax->i0 = kat__malloc(n * sizeof *ax->i0);
  ax->i1 = kat__malloc(n * sizeof *ax->i1);
  ax->w0 = kat__malloc(n * sizeof *ax->w0);
  ax->w1 = kat__malloc(n * sizeof *ax->w1);
  if (!ax->i0 || !ax->i1 || !ax->w0 || !ax->w1) {
    kat__lin_axis_cleanup(ax);
    return KAT_ENOMEM;
  }
  ax->in = in;
  ax->out = out;
  const double scale = (double)((float)in / (float)out);
  for (int d = 0; d < out; d++) {
    double src = scale * ((double)d + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    int i0 = (int)src;
    if (i0 > in - 1) i0 = in - 1;
    double l = src - (double)i0;
    float l1 = (float)(l < 0.0 ? 0.0 : l > 1.0 ? 1.0 : l);
    ax->i0[d] = i0;
    ax->i1[d] = i0 + (i0 < in - 1 ? 1 : 0);
    ax->w1[d] = l1;
    ax->w0[d] = 1.0f - l1;
  }
  return KAT_OK;
}

void kat__lin_axis_cleanup(kat__lin_axis *ax) {
  kat__free(ax->i0);
  kat__free(ax->i1);
  kat__free(ax->w0);
  kat__free(ax->w1);
  memset(ax, 0, sizeof *ax);
}

float kat__mask_sample(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax, int y,
                       int x, kat__bilinear_kernel k) {
  const float *r0 = mask + (size_t)ay->i0[y] * (size_t)ax->in;
  const float *r1 = mask + (size_t)ay->i1[y] * (size_t)ax->in;
  const int x0 = ax->i0[x], x1 = ax->i1[x];
  const float wx0 = ax->w0[x], wx1 = ax->w1[x], wy0 = ay->w0[y], wy1 = ay->w1[y];
  if (k == KAT__BILINEAR_SINGLE) {
    const float w00 = wy0 * wx0, w01 = wy0 * wx1, w10 = wy1 * wx0, w11 = wy1 * wx1;
    double acc = (double)r0[x0] * w00;
    acc += (double)r0[x1] * w01;
    acc += (double)r1[x0] * w10;
    acc += (double)r1[x1] * w11;
    return (float)acc;
  }
  float b = r0[x1] * wx1;
  float t0 = fmaf(r0[x0], wx0, b);
  float d = r1[x1] * wx1;
  float t1 = fmaf(r1[x0], wx0, d);
  float f = t1 * wy1;
  return fmaf(t0, wy0, f);
}

/* Bounding box of the positive source cells: returns 0 when there is none. */
static int source_box(const float *mask, int lh, int lw, int *r0, int *r1, int *c0, int *c1) {
  int rmin = lh, rmax = -1, cmin = lw, cmax = -1;
  for (int r = 0; r < lh; r++) {
    const float *row = mask + (size_t)r * (size_t)lw;
    int first = -1, last = -1;
    for (int c = 0; c < lw; c++)
      if (row[c] > 0.0f) {
        if (first < 0) first = c;
        last = c;
      }
    if (first < 0) continue;
    if (r < rmin) rmin = r;
    rmax = r;
    if (first < cmin) cmin = first;
    if (last > cmax) cmax = last;
  }
  if (rmax < 0) return 0;
  *r0 = rmin;
  *r1 = rmax;
  *c0 = cmin;
  *c1 = cmax;
  return 1;
}

/* Output range [*lo, *hi] whose source pair touches [s0, s1]; returns 0 when empty. */
static int output_range(const kat__lin_axis *a, int s0, int s1, int *lo, int *hi) {
  int l = 0, h = a->out - 1;
  while (l < a->out && a->i1[l] < s0) l++;
  while (h >= 0 && a->i0[h] > s1) h--;
  if (l > h) return 0;
  *lo = l;
  *hi = h;
  return 1;
}

static int row_has_positive(const float *m, const kat__lin_axis *ay, const kat__lin_axis *ax,
                            kat__bilinear_kernel k, int y, int x0, int x1) {
  for (int x = x0; x <= x1; x++)
    if (kat__mask_sample(m, ay, ax, y, x, k) > 0.0f) return 1;
  return 0;
}

static int col_has_positive(const float *m, const kat__lin_axis *ay, const kat__lin_axis *ax,
                            kat__bilinear_kernel k, int x, int y0, int y1) {
  for (int y = y0; y <= y1; y++)
    if (kat__mask_sample(m, ay, ax, y, x, k) > 0.0f) return 1;
  return 0;
}

int kat__mask_box_exact(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax,
                        kat__bilinear_kernel k, int box[4]) {
  int r0, r1, c0, c1, ylo, yhi, xlo, xhi;
  box[0] = box[1] = box[2] = box[3] = 0;
  if (!source_box(mask, ay->in, ax->in, &r0, &r1, &c0, &c1)) return 0;
  if (!output_range(ay, r0, r1, &ylo, &yhi) || !output_range(ax, c0, c1, &xlo, &xhi)) return 0;
  int ymin = ylo;
  while (ymin <= yhi && !row_has_positive(mask, ay, ax, k, ymin, xlo, xhi)) ymin++;
  if (ymin > yhi) return 0;
  int ymax = yhi;
  while (ymax > ymin && !row_has_positive(mask, ay, ax, k, ymax, xlo, xhi)) ymax--;
  int xmin = xlo;
  while (xmin < xhi && !col_has_positive(mask, ay, ax, k, xmin, ymin, ymax)) xmin++;
  int xmax = xhi;
  while (xmax > xmin && !col_has_positive(mask, ay, ax, k, xmax, ymin, ymax)) xmax--;
  box[0] = xmin;
  box[1] = ymin;
  box[2] = xmax;
  box[3] = ymax;
  return 1;
}

int kat__mask_box_fast(const float *mask, int lh, int lw, int out_h, int out_w, int box[4]) {
  int r0, r1, c0, c1;
  box[0] = box[1] = box[2] = box[3] = 0;
  if (!source_box(mask, lh, lw, &r0, &r1, &c0, &c1)) return 0;
  /* Cell c covers output [c*out/in, (c+1)*out/in): take the positive cells' extent. */
  box[0] = (int)((int64_t)c0 * out_w / lw);
  box[1] = (int)((int64_t)r0 * out_h / lh);
  box[2] = (int)(((int64_t)(c1 + 1) * out_w + lw - 1) / lw) - 1;
  box[3] = (int)(((int64_t)(r1 + 1) * out_h + lh - 1) / lh) - 1;
  if (box[2] > out_w - 1) box[2] = out_w - 1;
  if (box[3] > out_h - 1) box[3] = out_h - 1;
  return 1;
}

void kat__mask_render(const float *mask, const kat__lin_axis *ay, const kat__lin_axis *ax,
                      kat__bilinear_kernel k, uint8_t *out, size_t stride) {
  int r0, r1, c0, c1, ylo = 0, yhi = -1, xlo = 0, xhi = -1;
  int any = source_box(mask, ay->in, ax->in, &r0, &r1, &c0, &c1);
  if (any) any = output_range(ay, r0, r1, &ylo, &yhi) && output_range(ax, c0, c1, &xlo, &xhi);
  for (int y = 0; y < ay->out; y++) {
    uint8_t *row = out + (size_t)y * stride;
    memset(row, 0, (size_t)ax->out);
    if (!any || y < ylo || y > yhi) continue;
    for (int x = xlo; x <= xhi; x++)
      row[x] = kat__mask_sample(mask, ay, ax, y, x, k) > 0.0f ? 255 : 0;
  }
}
