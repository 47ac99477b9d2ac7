/*
 * Frame -> model input preprocessing: Pillow-exact antialiased bicubic resize (and a fast
 * bilinear variant) fused with the (x/255 - mean)/std conversion to [1,3,S,S] f32 NCHW.
 *
 * The exact path follows the arithmetic of Pillow 9.x's libImaging/Resample.c as the reference
 * uses it (Image.resize((S,S)) on RGB, default filter BICUBIC): per output coordinate a window of
 * source samples centred at (i + 0.5) * scale, weights bicubic((j - centre + 0.5) / filterscale)
 * with filterscale = max(scale, 1), normalised to sum 1 in double, then rounded to int with
 * 22 fractional bits (32 - 8 - 2: headroom for 8-bit samples and negative lobes). Each pass adds
 * half an LSB, shifts right by 22 and clips to 0..255. The horizontal pass runs first over only
 * the source rows the vertical pass will read. Passes whose size does not change are identity
 * (weights 0,1,0,0), so both always run.
 *
 * Layout choices for speed: the horizontal pass writes a planar [3][rows][S] u8 scratch so the
 * vertical pass is a straight multiply-add over contiguous rows (vectorisable); the float output
 * comes from a 256-entry table per channel.
 */
#include "media/resize.h"

#include <math.h>
#include <string.h>

#define PREC_BITS 22 /* Pillow's PRECISION_BITS = 32 - 8 - 2 */
#define MAX_SRC 32768
#define MAX_SIZE 8192

struct kat__resizer {
  int src_w, src_h, size;
  kat__resize_mode mode;
  kat__errbuf eb;
  float lut[3][256]; /* f32((v / 255.0 - mean[c]) / std[c]) computed in float64 */
  /* Exact path. */
  int hk_n, vk_n;       /* taps per output sample (Pillow's ksize) */
  int *hbound, *vbound; /* [S][2]: first source index, tap count */
  int32_t *hk, *vk;     /* [S][k_n] 22-bit fixed-point weights */
  int row_first, rows;  /* source rows the vertical pass reads */
  uint8_t *tmp;         /* [3][rows][S] u8: horizontal pass output, planar */
  int32_t *acc;         /* [S] vertical accumulators */
  /* Fast path. */
  int *fx0;   /* [S] left source column */
  float *fwx; /* [S] weight of the right column */
  int *fy0;   /* [S] top source row */
  float *fwy; /* [S] weight of the bottom row */
  float scale[3], bias[3];
  float *hrow; /* [2][3][S] f32: two horizontally interpolated source rows */
  /* Shared. */
  uint8_t *rgb;  /* [S,S,3] u8: resized image of the last run */
  uint8_t *conv; /* [src_h, src_w*3] u8 RGB scratch for NV12 and GRAY8 inputs */
};

/* Pillow's BICUBIC kernel, a = -0.5, support 2. */
static double bicubic(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

/* Fills bounds [out][2] and fixed-point weights [out][ksize] for resampling in_size -> out_size;
 * `dw` is double scratch of out_size*ksize. Returns ksize. */
static int filter_taps(int in_size, int out_size, int ksize, int *bounds, int32_t *kk, double *dw) {
  double scale = (double)(float)in_size / out_size; /* Pillow's box edges are floats */
  double fscale = scale < 1.0 ? 1.0 : scale;
  double support = 2.0 * fscale;
  for (int i = 0; i < out_size; i++) {
    double centre = (i + 0.5) * scale;
    double inv = 1.0 / fscale, sum = 0.0;
    int lo = (int)(centre - support + 0.5);
    int hi = (int)(centre + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in_size) hi = in_size;
    int n = hi - lo;
    double *w = dw + (size_t)i * ksize;
    for (int j = 0; j < n; j++) {
      w[j] = bicubic((j + lo - centre + 0.5) * inv);
      sum += w[j];
    }
    for (int j = 0; j < n; j++)
      if (sum != 0.0) w[j] /= sum;
    int32_t *k = kk + (size_t)i * ksize;
    for (int j = 0; j < ksize; j++) {
      double v = j < n ? w[j] * (1 << PREC_BITS) : 0.0;
      k[j] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
    }
    /* Taps whose fixed-point weight rounded to 0 add nothing: drop them at both ends (exact,
     * and fewer multiply-adds). */
    int first = 0;
    while (n > 1 && k[first] == 0) first++, n--;
    while (n > 1 && k[first + n - 1] == 0) n--;
    if (first) memmove(k, k + first, sizeof *k * (size_t)n);
    for (int j = n; j < ksize; j++) k[j] = 0;
    bounds[2 * i] = lo + first;
    bounds[2 * i + 1] = n;
  }
  return ksize;
}

static inline uint8_t clip_fixed(int32_t v) {
  if (v < 0) return 0;
  v >>= PREC_BITS;
  return v > 255 ? 255 : (uint8_t)v;
}

void kat__resizer_destroy(kat__resizer *r) {
  if (!r) return;
  kat__free(r->hbound);
  kat__free(r->vbound);
  kat__free(r->hk);
  kat__free(r->vk);
  kat__free(r->tmp);
  kat__free(r->acc);
  kat__free(r->fx0);
  kat__free(r->fwx);
  kat__free(r->fy0);
  kat__free(r->fwy);
  kat__free(r->hrow);
  kat__free(r->rgb);
  kat__free(r->conv);
  kat__free(r);
}

/* Packed 3-byte source view with channel offsets for R, G, B. */
typedef struct src_view {
  const uint8_t *p;
  size_t stride;
  int ro, go, bo;
} src_view;

static void *alloc_array(size_t n, size_t elem, bool *ok) {
  size_t bytes;
  if (!kat__size_mul(n, elem, &bytes)) {
    *ok = false;
    return NULL;
  }
  void *p = kat__malloc(bytes);
  if (!p) *ok = false;
  return p;
}

static void fast_taps(int in_size, int out_size, int *i0, float *w1) {
  double scale = (double)in_size / out_size;
  for (int i = 0; i < out_size; i++) {
    double s = (i + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > in_size - 1) s = in_size - 1;
    int f = (int)s;
    if (f > in_size - 2) f = in_size >= 2 ? in_size - 2 : 0;
    i0[i] = f;
    w1[i] = in_size >= 2 ? (float)(s - f) : 0.0f;
  }
}

int kat__resizer_create(int src_w, int src_h, int size, kat__resize_mode mode, const float mean[3],
                        const float std[3], kat__resizer **out, kat__errbuf *eb) {
  int rc = KAT_ENOMEM;
  double *dw = NULL;
  kat__resizer *r = NULL;
  bool ok = true;
  if (!out) return kat__fail(eb, KAT_EINVAL, "resizer: out is NULL");
  *out = NULL;
  if (src_w < 1 || src_h < 1 || src_w > MAX_SRC || src_h > MAX_SRC || size < 1 || size > MAX_SIZE)
    return kat__fail(eb, KAT_EINVAL, "resizer: unsupported sizes %dx%d -> %d", src_w, src_h, size);
  if (mode != KAT__RESIZE_EXACT && mode != KAT__RESIZE_FAST)
    return kat__fail(eb, KAT_EINVAL, "resizer: unknown mode %d", (int)mode);
  if (!mean || !std) return kat__fail(eb, KAT_EINVAL, "resizer: mean/std are NULL");
  for (int c = 0; c < 3; c++)
    if (!(std[c] > 0.0f)) return kat__fail(eb, KAT_EINVAL, "resizer: std[%d] must be > 0", c);

  r = kat__calloc(1, sizeof *r);
  if (!r) goto fail;
  r->src_w = src_w;
  r->src_h = src_h;
  r->size = size;
  r->mode = mode;
  for (int c = 0; c < 3; c++) {
    for (int v = 0; v < 256; v++) {
      /* As the LaSOT evaluation loads frames (samurai scripts/main_inference.py with
       * async_loading_frames: sam2/utils/misc.py AsyncVideoFrameLoader): u8 / 255.0, -= mean and
       * /= std in float64 (float32 mean/std promoted), then cast to float32 by the model. The
       * synchronous loader normalises in float32 instead: at most 1 ulp apart. */
      double x = (double)v / 255.0;
      r->lut[c][v] = (float)((x - (double)mean[c]) / (double)std[c]);
    }
    r->scale[c] = 1.0f / (255.0f * std[c]);
    r->bias[c] = -mean[c] / std[c];
  }
  size_t s = (size_t)size;
  r->rgb = alloc_array(s * s, 3, &ok);
  r->conv = alloc_array((size_t)src_w * src_h, 3, &ok);
  if (!ok) goto fail;

  if (mode == KAT__RESIZE_EXACT) {
    double hf = (double)src_w / size, vf = (double)src_h / size;
    r->hk_n = (int)ceil(2.0 * (hf < 1 ? 1 : hf)) * 2 + 1;
    r->vk_n = (int)ceil(2.0 * (vf < 1 ? 1 : vf)) * 2 + 1;
    int kmax = r->hk_n > r->vk_n ? r->hk_n : r->vk_n;
    r->hbound = alloc_array(s, 2 * sizeof(int), &ok);
    r->vbound = alloc_array(s, 2 * sizeof(int), &ok);
    r->hk = alloc_array(s * (size_t)r->hk_n, sizeof(int32_t), &ok);
    r->vk = alloc_array(s * (size_t)r->vk_n, sizeof(int32_t), &ok);
    r->acc = alloc_array(s, sizeof(int32_t), &ok);
    dw = alloc_array(s * (size_t)kmax, sizeof(double), &ok);
    if (!ok) goto fail;
    filter_taps(src_w, size, r->hk_n, r->hbound, r->hk, dw);
    filter_taps(src_h, size, r->vk_n, r->vbound, r->vk, dw);
    r->row_first = r->vbound[0];
    r->rows = r->vbound[2 * (size - 1)] + r->vbound[2 * (size - 1) + 1] - r->row_first;
    for (int i = 0; i < size; i++) r->vbound[2 * i] -= r->row_first;
    r->tmp = alloc_array((size_t)r->rows * s, 3, &ok);
    if (!ok) goto fail;
  } else {
    r->fx0 = alloc_array(s, sizeof(int), &ok);
    r->fwx = alloc_array(s, sizeof(float), &ok);
    r->fy0 = alloc_array(s, sizeof(int), &ok);
    r->fwy = alloc_array(s, sizeof(float), &ok);
    r->hrow = alloc_array(s * 6, sizeof(float), &ok);
    if (!ok) goto fail;
    fast_taps(src_w, size, r->fx0, r->fwx);
    fast_taps(src_h, size, r->fy0, r->fwy);
  }
  kat__free(dw);
  *out = r;
  return KAT_OK;
fail:
  kat__free(dw);
  kat__resizer_destroy(r);
  return kat__fail(eb, rc, "resizer: out of memory for %dx%d -> %d", src_w, src_h, size);
}

/* Horizontal pass over one source row: src (packed, 3 bytes per pixel, channel offsets ro/go/bo)
 * -> three planar u8 rows. Inlined with constant offsets for RGB and BGR. */
static inline void hpass_row(const uint8_t *restrict row, int ro, int go, int bo, int S, int kn,
                             const int *restrict bound, const int32_t *restrict kk,
                             uint8_t *restrict t0, uint8_t *restrict t1, uint8_t *restrict t2) {
  for (int xx = 0; xx < S; xx++) {
    const int32_t *restrict k = kk + (size_t)xx * kn;
    const uint8_t *restrict p = row + (size_t)bound[2 * xx] * 3;
    const int n = bound[2 * xx + 1];
    int32_t s0 = 1 << (PREC_BITS - 1), s1 = s0, s2 = s0;
    for (int j = 0; j < n; j++) {
      s0 += p[3 * j + ro] * k[j];
      s1 += p[3 * j + go] * k[j];
      s2 += p[3 * j + bo] * k[j];
    }
    t0[xx] = clip_fixed(s0);
    t1[xx] = clip_fixed(s1);
    t2[xx] = clip_fixed(s2);
  }
}

static void run_exact(kat__resizer *r, const src_view *sv, float *restrict dst) {
  const int S = r->size, rows = r->rows, first = r->row_first, hkn = r->hk_n, vkn = r->vk_n;
  const size_t plane = (size_t)rows * S, stride = sv->stride;
  const int *restrict hb = r->hbound;
  const int32_t *restrict hk = r->hk;
  uint8_t *restrict tmp = r->tmp;
  const int bgr = sv->ro == 2;
  /* Horizontal pass: source rows [row_first, row_first + rows) -> tmp [3][rows][S]. */
  for (int y = 0; y < rows; y++) {
    const uint8_t *row = sv->p + (size_t)(y + first) * stride;
    uint8_t *t0 = tmp + (size_t)y * S;
    if (bgr)
      hpass_row(row, 2, 1, 0, S, hkn, hb, hk, t0, t0 + plane, t0 + 2 * plane);
    else
      hpass_row(row, 0, 1, 2, S, hkn, hb, hk, t0, t0 + plane, t0 + 2 * plane);
  }
  /* Vertical pass per channel, fused with the float conversion. */
  const size_t SS = (size_t)S * S;
  int32_t *restrict acc = r->acc;
  uint8_t *restrict rgb = r->rgb;
  for (int yy = 0; yy < S; yy++) {
    const int32_t *k = r->vk + (size_t)yy * vkn;
    const int y0 = r->vbound[2 * yy], n = r->vbound[2 * yy + 1];
    for (int c = 0; c < 3; c++) {
      const uint8_t *base = tmp + c * plane + (size_t)y0 * S;
      for (int xx = 0; xx < S; xx++) acc[xx] = 1 << (PREC_BITS - 1);
      for (int j = 0; j < n; j++) {
        const uint8_t *restrict row = base + (size_t)j * S;
        const int32_t kj = k[j];
        for (int xx = 0; xx < S; xx++) acc[xx] += row[xx] * kj;
      }
      uint8_t *o = rgb + (size_t)yy * S * 3 + c;
      float *restrict d = dst + c * SS + (size_t)yy * S;
      const float *restrict lut = r->lut[c];
      for (int xx = 0; xx < S; xx++) {
        uint8_t v = clip_fixed(acc[xx]);
        o[(size_t)xx * 3] = v;
        d[xx] = lut[v];
      }
    }
  }
}

/* Horizontal bilinear of source row y into hrow [3][S] f32 planar. */
static void fast_row(const kat__resizer *r, const src_view *sv, int y, float *hrow) {
  const int S = r->size;
  const uint8_t *row = sv->p + (size_t)y * sv->stride;
  const int step = r->src_w < 2 ? 0 : 3;
  float *h0 = hrow, *h1 = hrow + S, *h2 = hrow + 2 * (size_t)S;
  for (int xx = 0; xx < S; xx++) {
    const uint8_t *a = row + (size_t)r->fx0[xx] * 3, *b = a + step;
    float wx = r->fwx[xx], vx = 1.0f - wx;
    h0[xx] = a[sv->ro] * vx + b[sv->ro] * wx;
    h1[xx] = a[sv->go] * vx + b[sv->go] * wx;
    h2[xx] = a[sv->bo] * vx + b[sv->bo] * wx;
  }
}

static void run_fast(kat__resizer *r, const src_view *sv, float *dst) {
  const int S = r->size;
  const size_t SS = (size_t)S * S;
  float *rows[2] = {r->hrow, r->hrow + 3 * (size_t)S};
  int have[2] = {-1, -1}; /* source row held by rows[i] */
  for (int yy = 0; yy < S; yy++) {
    int y0 = r->fy0[yy], y1 = r->src_h < 2 ? y0 : y0 + 1;
    /* Reuse rows computed for the previous output row (upscaling shares most of them). */
    if (have[0] != y0) {
      if (have[1] == y0) {
        float *t = rows[0];
        rows[0] = rows[1];
        rows[1] = t;
        have[0] = y0;
        have[1] = -1;
      } else {
        fast_row(r, sv, y0, rows[0]);
        have[0] = y0;
      }
    }
    if (have[1] != y1) {
      fast_row(r, sv, y1, rows[1]);
      have[1] = y1;
    }
    float wy = r->fwy[yy], vy = 1.0f - wy;
    for (int c = 0; c < 3; c++) {
      const float *a = rows[0] + (size_t)c * S, *b = rows[1] + (size_t)c * S;
      float *d = dst + c * SS + (size_t)yy * S;
      float sc = r->scale[c], bi = r->bias[c];
      uint8_t *o = r->rgb + (size_t)yy * S * 3 + c;
      for (int xx = 0; xx < S; xx++) {
        float v = a[xx] * vy + b[xx] * wy;
        d[xx] = v * sc + bi;
        o[(size_t)xx * 3] = (uint8_t)(v + 0.5f);
      }
    }
  }
}

static inline uint8_t clamp_u8(int v) {
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

void kat__nv12_to_rgb24(const uint8_t *y, size_t y_stride, const uint8_t *uv, size_t uv_stride,
                        int width, int height, uint8_t *dst, size_t dst_stride) {
  /* BT.601 limited range in 16.16 fixed point (FFmpeg's ff_yuv2rgb_coeffs for ITU-R 601). */
  const int cy = 76309, crv = 104597, cgu = 25675, cgv = 53279, cbu = 132201;
  const int ch = height / 2;
  for (int j = 0; j < height; j++) {
    /* Chroma rows sit between luma rows: luma row j sees chroma at j/2 - 0.25, so blend the
     * nearest chroma row 3:1 with its other neighbour (clamped at the edges). */
    int c0 = j / 2, c1 = (j & 1) ? c0 + 1 : c0 - 1;
    if (c1 < 0) c1 = 0;
    if (c1 > ch - 1) c1 = ch - 1;
    const uint8_t *yr = y + (size_t)j * y_stride;
    const uint8_t *ra = uv + (size_t)c0 * uv_stride, *rb = uv + (size_t)c1 * uv_stride;
    uint8_t *o = dst + (size_t)j * dst_stride;
    for (int i = 0; i < width; i++) {
      int k = (i / 2) * 2;
      /* u, v in 1/4 units (3:1 blend), so the coefficients take 14 fractional bits less two. */
      int u4 = 3 * ra[k] + rb[k] - 512, v4 = 3 * ra[k + 1] + rb[k + 1] - 512;
      int yv = (yr[i] - 16) * cy + (1 << 15);
      o[3 * i + 0] = clamp_u8((yv + ((crv * v4) >> 2)) >> 16);
      o[3 * i + 1] = clamp_u8((yv - ((cgu * u4 + cgv * v4) >> 2)) >> 16);
      o[3 * i + 2] = clamp_u8((yv + ((cbu * u4) >> 2)) >> 16);
    }
  }
}

int kat__resizer_run(kat__resizer *r, const kat_frame *src, float *dst) {
  if (!r || !src || !dst) return KAT_EINVAL;
  if (src->width != r->src_w || src->height != r->src_h)
    return kat__fail(&r->eb, KAT_EINVAL, "resizer: frame is %dx%d, resizer was made for %dx%d",
                     src->width, src->height, r->src_w, r->src_h);
  if (!src->data[0]) return kat__fail(&r->eb, KAT_EINVAL, "resizer: frame has no pixels");
  src_view sv = {src->data[0], src->stride[0], 0, 1, 2};
  const size_t conv_stride = (size_t)r->src_w * 3;
  switch (src->format) {
    case KAT_PIXEL_RGB24: break;
    case KAT_PIXEL_BGR24:
      sv.ro = 2;
      sv.bo = 0;
      break;
    case KAT_PIXEL_NV12:
      if (!src->data[1] || (r->src_w & 1) || (r->src_h & 1))
        return kat__fail(&r->eb, KAT_EINVAL, "resizer: NV12 needs a UV plane and even sizes");
      kat__nv12_to_rgb24(src->data[0], src->stride[0], src->data[1], src->stride[1], r->src_w,
                         r->src_h, r->conv, conv_stride);
      sv.p = r->conv;
      sv.stride = conv_stride;
      break;
    case KAT_PIXEL_GRAY8:
      for (int j = 0; j < r->src_h; j++) {
        const uint8_t *g = src->data[0] + (size_t)j * src->stride[0];
        uint8_t *o = r->conv + (size_t)j * conv_stride;
        for (int i = 0; i < r->src_w; i++) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = g[i];
      }
      sv.p = r->conv;
      sv.stride = conv_stride;
      break;
    default:
      return kat__fail(&r->eb, KAT_EINVAL, "resizer: unknown pixel format %d", (int)src->format);
  }
  if (r->mode == KAT__RESIZE_EXACT)
    run_exact(r, &sv, dst);
  else
    run_fast(r, &sv, dst);
  return KAT_OK;
}

const uint8_t *kat__resizer_rgb(const kat__resizer *r) {
  return r ? r->rgb : NULL;
}
const char *kat__resizer_last_error(const kat__resizer *r) {
  return r ? r->eb.msg : "";
}
int kat__resizer_size(const kat__resizer *r) {
  return r ? r->size : 0;
}
