/*
 * The synthetic clip renderer behind tools/synth/synth.h: a clip is planned once from its seed (all
 * trajectories, events and textures), then any frame t is rendered on demand as a pure function
 * of the plan and t.
 *
 * Memory: the clip owns a pre-rendered background (with a pan margin); rendering writes into
 * caller buffers and allocates nothing. Thread-safety: a clip may render on one thread at a time.
 */
#ifndef KAT_MEDIA_SYNTH_H
#define KAT_MEDIA_SYNTH_H

#include <stdint.h>

#include "core/core.h"
#include "tools/synth/synth.h"

typedef struct kat__synth_clip kat__synth_clip;

/* What happened to the target in one frame. */
typedef struct kat__synth_info {
  int box[4];         /* x, y, w, h of the visible mask's bounding box; zeros if not visible */
  int visible_px;     /* target pixels visible in the frame */
  int drawn_px;       /* target pixels inside the frame before occlusion */
  int out_of_view;    /* 1: no target pixel inside the frame */
  int full_occlusion; /* 1: inside the frame but no pixel visible */
} kat__synth_info;

/* 64-bit mixing PRNG step (splitmix64): advances *state and returns the next value. */
uint64_t kat__splitmix64(uint64_t *state);

/*
 * Plans a clip of `frames` frames at width x height (32..4096) for `suite` from `seed`.
 * Returns KAT_OK, KAT_EINVAL or KAT_ENOMEM (message in eb); *out is NULL on failure and owned by
 * the caller otherwise (kat__synth_clip_destroy).
 */
int kat__synth_clip_create(kat__synth_suite suite, uint64_t seed, int width, int height, int frames,
                           kat__synth_clip **out, kat__errbuf *eb);
/* Frees the clip; a no-op on NULL. */
void kat__synth_clip_destroy(kat__synth_clip *clip);

/*
 * Renders frame t (0 <= t < frames): `rgb` [height, width*3] u8 packed RGB, `mask` [height, width]
 * u8 (255 where the target is visible, else 0), both caller-owned and tightly packed, and fills
 * `info`. Returns KAT_OK or KAT_EINVAL (t out of range).
 */
int kat__synth_clip_render(kat__synth_clip *clip, int t, uint8_t *rgb, uint8_t *mask,
                           kat__synth_info *info);

#endif /* KAT_MEDIA_SYNTH_H */
