/*
 * The tracker's frame step split into its three pipeline stages, for src/pipeline: preprocess
 * (resize + normalise), the image encoder, and everything after it (memory attention, mask
 * decoder, selection, memory encoder, bank). kat_tracker_start/step run the same three functions
 * in sequence on the tracker's own buffers, so the pipelined and sequential modes compute the
 * same values bit for bit.
 *
 * Threads: preprocess uses only the resizer, encode only the image encoder session, consume the
 * other sessions and the bank; the three may run on three threads at once for different frames,
 * each stage on one thread at a time. kat__tracker_begin_video must not overlap any of them.
 * Each stage writes its failure message into its own buffer, read on the stage's thread:
 * begin_video and preprocess into kat__tracker_preprocess_error, encode into
 * kat__tracker_encode_error, consume into kat_tracker_last_error.
 */
#ifndef KAT_TRACK_TRACKER_INTERNAL_H
#define KAT_TRACK_TRACKER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "katana/tracker.h"

/* One frame's image-encoder outputs, in buffers owned by the caller (pipeline slots). */
typedef struct kat__features {
  float *vision; /* [1,C,H,W] f32: vision_feats */
  float *hr0;    /* [1,C/8,4H,4W] f32 (SAM 2.1 only, else NULL) */
  float *hr1;    /* [1,C/4,2H,2W] f32 (SAM 2.1 only, else NULL) */
} kat__features;

/* Buffer sizes in floats: the preprocessed image, and each feature tensor (0 when absent). */
size_t kat__tracker_image_floats(const kat_tracker *t);
void kat__tracker_feature_floats(const kat_tracker *t, size_t *vision, size_t *hr0, size_t *hr1);

/* Prepares the per-video buffers (resizer, output mask) for frames of width x height. */
int kat__tracker_begin_video(kat_tracker *t, int width, int height);

/* Stage 1: `frame` -> `image` [1,3,S,S] f32 (caller-owned). */
int kat__tracker_preprocess(kat_tracker *t, const kat_frame *frame, float *image);
/* Stage 1's message (begin_video, preprocess); owned by the tracker, read on stage 1's thread. */
const char *kat__tracker_preprocess_error(const kat_tracker *t);

/* Stage 2: image encoder on `image` into `f`; *ms gets the run time. */
int kat__tracker_encode(kat_tracker *t, float *image, const kat__features *f, double *ms);
/* Stage 2's message (ONNX Runtime's, on a failed run); owned by the tracker, read on stage 2's
 * thread. */
const char *kat__tracker_encode_error(const kat_tracker *t);

/*
 * Stage 3: the rest of the frame on `f` for every object: applies the frame's queued prompts
 * and removals, then tracks. Fills results[0..capacity-1] (see kat_tracker_track; *count may
 * exceed capacity) except the preprocess and image-encoder timings, which the caller adds. A
 * failure ends the video (KAT_ESTATE afterwards, until a new video).
 */
int kat__tracker_consume(kat_tracker *t, const kat__features *f, kat_track_result *results,
                         int capacity, int *count);

/* Opens a new video of a size not known yet (a stream's): drops every object and prompt; the
 * size comes with kat__tracker_begin_video. Not concurrent with any stage. */
void kat__tracker_open_video(kat_tracker *t);

/* kat_tracker_add_prompt for frame `frame` (thread-safe against stage 3). */
int kat__tracker_add_prompt_at(kat_tracker *t, int obj_id, int64_t frame, const kat_prompt *p);

/* Queues the removal of `obj_id` before frame `frame` (or the next frame with `next_frame`);
 * thread-safe against stage 3. KAT_ENOENT, KAT_ERANGE as kat_tracker_remove_object. */
int kat__tracker_remove_at(kat_tracker *t, int obj_id, int64_t frame, int next_frame);

#endif /* KAT_TRACK_TRACKER_INTERNAL_H */
