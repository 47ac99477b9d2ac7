/*
 * Frame preprocessing for the image encoder: resize a frame to S x S and convert it to the model
 * input [1,3,S,S] f32 NCHW, (x/255 - mean)/std per channel.
 *
 * KAT__RESIZE_EXACT reproduces the reference (sam2/utils/misc.py: _load_img_as_tensor, which calls
 * Pillow 9.x `Image.resize((S, S))` on an RGB image) bit for bit: Pillow's antialiased bicubic
 * (a = -0.5, support 2 scaled by the downscale factor), its coefficients normalised and rounded
 * to 22-bit fixed point, a horizontal pass then a vertical pass, each rounded and clipped to
 * uint8. The float conversion matches torch's: f32(x / 255.0 in double), then (v - mean) / std in
 * f32. KAT__RESIZE_FAST is a plain bilinear (2x2 taps, no antialiasing, half-pixel centres)
 * straight to float; it is not bit-exact and is meant for live input where speed matters more.
 *
 * Inputs: RGB24 and BGR24 with any row stride, NV12 (converted to RGB first, see
 * kat__nv12_to_rgb24), GRAY8 (replicated to three channels).
 *
 * Memory: a kat__resizer is created once for (src_w, src_h, S) and holds every coefficient table
 * and scratch buffer; kat__resizer_run allocates nothing.
 * Thread-safety: one resizer must not run on two threads at once; distinct resizers are
 * independent.
 */
#ifndef KAT_MEDIA_RESIZE_H
#define KAT_MEDIA_RESIZE_H

#include <stdint.h>

#include "core/core.h"
#include "katana/media.h"

typedef enum kat__resize_mode {
  KAT__RESIZE_EXACT = 0, /* Pillow-exact antialiased bicubic, fixed point */
  KAT__RESIZE_FAST = 1   /* bilinear, float, not antialiased */
} kat__resize_mode;

typedef struct kat__resizer kat__resizer;

/*
 * Creates a resizer for frames of src_w x src_h (1..32768) to size x size (1..8192).
 * `mean` and `std` are the per-channel (R,G,B) normalisation of the bundle (std must be > 0).
 * On failure returns KAT_EINVAL or KAT_ENOMEM, writes the reason to `eb` (may be NULL) and
 * leaves *out NULL. The caller owns *out and frees it with kat__resizer_destroy.
 */
int kat__resizer_create(int src_w, int src_h, int size, kat__resize_mode mode, const float mean[3],
                        const float std[3], kat__resizer **out, kat__errbuf *eb);
/* Frees the resizer; a no-op on NULL. */
void kat__resizer_destroy(kat__resizer *r);

/*
 * Resizes `src` (its width/height must equal the resizer's source size) into
 * `dst`: [1,3,S,S] f32 NCHW, caller-owned, S*S*3 floats.
 * Also keeps the resized uint8 image ([S,S,3] u8 HWC RGB) inside the resizer, readable with
 * kat__resizer_rgb until the next run. Returns KAT_OK, or KAT_EINVAL (size or format mismatch,
 * message in the resizer's error buffer).
 */
int kat__resizer_run(kat__resizer *r, const kat_frame *src, float *dst);

/* The uint8 result of the last run: [S,S,3] u8 HWC RGB, owned by the resizer. For EXACT mode it
 * equals np.asarray(Image.resize((S,S))); for FAST mode it is the float result before
 * normalisation, rounded. */
const uint8_t *kat__resizer_rgb(const kat__resizer *r);
/* The message of the last failure (empty if none); owned by the resizer. */
const char *kat__resizer_last_error(const kat__resizer *r);
/* The output side length S. */
int kat__resizer_size(const kat__resizer *r);

/*
 * NV12 -> packed RGB24, close to what FFmpeg's swscale does by default for an unscaled NV12->RGB24
 * conversion: BT.601 limited range (Y 16..235, C 16..240) with swscale's 16.16 coefficients
 * (1.164383, 1.596027, -0.391762, -0.812968, 2.017232); each chroma sample shared by its pair of
 * columns (swscale's packed-RGB output does not interpolate chroma horizontally); vertically the
 * chroma rows are blended 3:1 (MPEG-2 siting, linear, where swscale uses its bicubic filter).
 * Not bit-exact to swscale: tests/test_resize.c measures max 4, mean 0.9 levels on a colour ramp.
 * width and height must be even. `dst` is width*3 bytes per row at dst_stride.
 */
void kat__nv12_to_rgb24(const uint8_t *y, size_t y_stride, const uint8_t *uv, size_t uv_stride,
                        int width, int height, uint8_t *dst, size_t dst_stride);

#endif /* KAT_MEDIA_RESIZE_H */
