/*
 * The katana tracker: SAMURAI (or plain SAM 2) video tracking of 0..N objects from box, point
 * and mask prompts, over a loaded model (katana/model.h) run by ONNX Runtime.
 *
 * Single object: kat_tracker_options_init, set options, kat_tracker_create(bundle folder), then
 * kat_tracker_start on the first frame with the object's box, kat_tracker_step on each following
 * frame in order, kat_tracker_destroy. kat_tracker_start may be called again to track a new object
 * or a new video with the same model (the memory is cleared).
 *
 * Several objects (docs/internals/track.md): kat_tracker_create_on_model (one loaded model shared
 * by any number of trackers), kat_tracker_reset(width, height) for a new video, then any number
 * of kat_tracker_add_prompt (an object id chosen by the caller, a frame, a box, points, box plus
 * points, or a mask), kat_tracker_remove_object and kat_tracker_reseed between
 * kat_tracker_track calls, one per frame in order. Each frame runs the image encoder once, then
 * memory attention, the mask decoder and the memory encoder per object, one object after
 * another (the exported modules have batch 1); each object's result is exactly what a
 * single-object tracker gives for it. Prompt rules follow the official SAM 2.1 video predictor
 * (docs/internals/prompts.md): a prompt on a frame an object was never tracked on starts it (a
 * conditioning frame without memory); a prompt for a frame it is tracked on is a correction,
 * applied after that frame was tracked (memory-conditioned features, the frame's low-res logits
 * as the mask input), and the corrected frame becomes a conditioning frame
 * (add_all_frames_to_correct_as_cond = true). Corrections and mask prompts need a bundle whose
 * mask decoder takes a mask input (format 2); on format 1 they are refused with KAT_ENOTSUP.
 *
 * Presence rule (kat_track_result.presence): a frame is TRACKED when the object score logit is
 * above the selection's threshold (min_obj_score_logits: -1 in SAMURAI, 0 in SAM 2: the same test
 * that decides whether the model's masks are kept); otherwise OCCLUDED, and LOST once the object
 * has been absent for `lost_after_frames` consecutive frames (until it is present again).
 *
 * Thread-safety: a kat_tracker is used by one thread at a time (every function taking a tracker
 * must not run concurrently with another on the same tracker), except kat_tracker_add_prompt,
 * kat_tracker_reseed and kat_tracker_remove_object, which take the tracker's prompt lock and may
 * be called from any thread while another thread tracks (the stream uses this). Different
 * trackers are independent and may run on different threads, also on one shared model.
 */
#ifndef KATANA_TRACKER_H
#define KATANA_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"
#include "katana/media.h"
#include "katana/model.h"
#include "katana/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kat_tracker kat_tracker;

typedef enum kat_selection {
  KAT_SELECTION_SAMURAI = 0, /* motion-aware choice and memory selection (SAMURAI) */
  KAT_SELECTION_SAM2 = 1     /* the official SAM 2 / EfficientTAM video predictor */
} kat_selection;

typedef enum kat_box_mode {
  KAT_BOX_EXACT = 0, /* boxes of the bilinear-upsampled masks, identical to the reference */
  KAT_BOX_FAST = 1   /* boxes of the low-res masks scaled (about 1 px off; not reference-exact) */
} kat_box_mode;

typedef enum kat_presence {
  KAT_PRESENCE_TRACKED = 0,
  KAT_PRESENCE_OCCLUDED = 1,
  KAT_PRESENCE_LOST = 2
} kat_presence;

/* Returns "tracked", "occluded", "lost" (static). */
KAT_API const char *kat_presence_name(kat_presence p);
/* Parses "samurai" / "sam2"; -1 if unknown. */
KAT_API int kat_selection_parse(const char *name);

/*
 * Tracker options. kat_tracker_options_init fills the released defaults. SAMURAI parameters left
 * at their "unset" value (NAN for doubles, -1 for stable_frames_threshold) take the bundle's
 * manifest values (the released SAMURAI config: 15, 0.3, -1.0, 0.25, 0.5, 0.0, 0.0).
 */
typedef struct kat_tracker_options {
  kat_selection selection;                /* default SAMURAI */
  int stable_frames_threshold;            /* -1: bundle (15) */
  double stable_ious_threshold;           /* NAN: bundle (0.3) */
  double min_obj_score_logits;            /* NAN: bundle (-1.0); SAM 2 selection always uses 0 */
  double kf_score_weight;                 /* NAN: bundle (0.25, the released configs) */
  double memory_bank_iou_threshold;       /* NAN: bundle (0.5) */
  double memory_bank_obj_score_threshold; /* NAN: bundle (0.0) */
  double memory_bank_kf_score_threshold;  /* NAN: bundle (0.0) */
  int lost_after_frames; /* consecutive absent frames before LOST (default 30; >= 1) */
  int want_masks;        /* 1: results carry the mask at source resolution (default 0) */
  kat_box_mode box_mode; /* default EXACT */
  int fast_resize;       /* 1: bilinear preprocessing instead of the Pillow-exact resize */
  int64_t num_frames;    /* video length when known (the reference limits pointers of videos
                            shorter than 16 frames by it); 0 = unknown (default) */
  int verify_hashes;     /* 1: check the bundle files' SHA-256 at create (default 1); unused by
                            kat_tracker_create_on_model (the model's options apply) */
  kat_ep_profile ep;     /* execution providers; default the "cpu" preset; unused by
                            kat_tracker_create_on_model */
  int max_objects;       /* objects one tracker holds at once (default 16; 1..1024) */
  int max_cond_frames;   /* conditioning frames (prompted or corrected frames) per object
                            (default 8; 1..64); each holds one memory-feature map */
  int want_logits;       /* 1: results carry the chosen low-res mask logits (default 0) */
  int mask_width, mask_height; /* with want_masks: the mask's size; 0, 0 = the source size */
} kat_tracker_options;

/* Fills `o` with the defaults above. */
KAT_API void kat_tracker_options_init(kat_tracker_options *o);

/* Milliseconds spent per stage in the last start/step. */
typedef struct kat_track_timings {
  double preprocess_ms;               /* resize + normalisation */
  double module_ms[KAT_MODULE_COUNT]; /* per module run (memory_attention 0 on the first frame) */
  double host_ms; /* everything else: memory assembly, selection, boxes, masks */
  double total_ms;
} kat_track_timings;

typedef struct kat_track_result {
  int64_t frame_index; /* 0 for the start frame, then 1, 2, ... */
  double box[4];       /* x, y, w, h in source pixels (LaSOT convention: w = x_max - x_min of
                          the mask's pixels); 0,0,0,0 when the mask is empty */
  int box_valid;       /* 1 when the mask is not empty. presence TRACKED with box_valid 0 is
                          common with weak models: the object score is above the presence
                          threshold but no mask pixel is (an empty mask); the CLI reports it
                          as "empty_mask": true in results.jsonl */
  float object_score;  /* object score logit */
  kat_presence presence;
  int absent_frames; /* consecutive absent frames up to this one (0 when tracked) */
  int candidate;     /* mask decoder token used: 0 single-mask, 1..3 multimask */
  float iou_pred;    /* predicted IoU of the chosen mask */
  int has_kf_score;  /* SAMURAI stable phase only */
  float kf_score;    /* IoU of the Kalman prediction with the chosen mask's box */
  int has_kf_box;    /* SAMURAI after the first tracking frame */
  double kf_box[4];  /* Kalman predicted box of this frame, x, y, w, h in source pixels */
  int kf_phase;      /* SAMURAI: 1 (re)initiate, 2 warming up, 3 motion-weighted; else 0 */
  kat_track_timings timings;
  /* Streams (katana/stream.h): the frame's index in its source, and how many source frames were
   * dropped (live input, drop-oldest) since the previous result. The tracker alone sets
   * source_index = frame_index and dropped_before = 0. */
  int64_t source_index;
  int64_t dropped_before;
  /* With want_masks: [mask_height, mask_width] u8, 255 = object, row stride mask_stride bytes.
   * Borrowed from the tracker, valid until its next start/step/destroy. NULL otherwise. */
  const uint8_t *mask;
  int mask_width, mask_height;
  size_t mask_stride;
  /* Start frame only (0 on later frames): the prompt box actually used, x, y, w, h in source
   * pixels, and 1 in prompt_clipped when the given box extended past the frame and was clipped
   * to it (also logged at KAT_LOG_WARN). */
  double prompt_box[4];
  int prompt_clipped;
  /* Several objects: the object's id (0 for kat_tracker_start's object), 1 in is_cond when this
   * frame is one of the object's conditioning frames (it was prompted on it), 1 in correction
   * when the prompt corrected a tracked result. */
  int obj_id;
  int is_cond;
  int correction;
  /* With want_logits: [low_res_size, low_res_size] f32, the chosen low-res mask logits (after
   * object-score gating), borrowed from the tracker until its next start/step/track/destroy.
   * NULL otherwise. */
  const float *low_res;
  int low_res_size;
} kat_track_result;

/* The most points one prompt carries. */
#define KAT_MAX_PROMPT_POINTS 16

/*
 * One prompt for one object on one frame (kat_prompt_init, then fill): a box, points, a box plus
 * points, or a mask (alone). Points: x, y in source pixels inside the frame, labels 1 (positive)
 * or 0 (negative). A box is x, y, w, h in source pixels (clipped to the frame as in
 * kat_tracker_start) and is encoded as the first two points (labels 2, 3). `append` adds the
 * points to the frame's earlier prompt for that object (no box then). The mask (nonzero =
 * object, row stride mask_stride bytes) must have the frame's size and at least one object pixel.
 * Everything is copied by kat_tracker_add_prompt.
 */
typedef struct kat_prompt {
  int has_box;
  double box[4];
  int n_points;
  double points[KAT_MAX_PROMPT_POINTS][2];
  int labels[KAT_MAX_PROMPT_POINTS];
  int append;
  const uint8_t *mask;
  int mask_width, mask_height;
  size_t mask_stride;
} kat_prompt;

/* Clears `p` (no box, no points, no mask). */
KAT_API void kat_prompt_init(kat_prompt *p);

/*
 * Opens the bundle folder `bundle_dir` and creates the four module sessions with opt->ep
 * (`opt` may be NULL for the defaults). On success *out owns a new tracker. On failure returns a
 * negative status, *out is NULL, nothing stays allocated, and a message is written to `err`
 * (`err_size` bytes, may be NULL/0; KAT_ERROR_SIZE never truncates). KAT_EINVAL when `out` or
 * `bundle_dir` is NULL, or an option is out of range: selection and box_mode must be known enum
 * values; stable_frames_threshold -1 or in [0,1000000]; each SAMURAI double NAN (bundle) or
 * finite with stable_ious_threshold, kf_score_weight, memory_bank_iou_threshold,
 * memory_bank_kf_score_threshold in [0,1] and min_obj_score_logits,
 * memory_bank_obj_score_threshold in [-100,100]; lost_after_frames >= 1; num_frames >= 0. The
 * bundle's own SAMURAI values are held to the same ranges (KAT_EMODEL), and its files must be
 * regular files (KAT_EFORMAT for a FIFO or device) with finite constants (KAT_EMODEL).
 */
KAT_API int kat_tracker_create(const char *bundle_dir, const kat_tracker_options *opt,
                               kat_tracker **out, char *err, size_t err_size);

/*
 * Creates a tracker on the loaded model `model` (katana/model.h): no bundle is read and no
 * session created; the tracker holds a reference to the model (released by kat_tracker_destroy)
 * and binds its own buffers, so trackers on one model may run on different threads. opt->ep and
 * opt->verify_hashes are not used (the model's apply). Statuses and `err` as kat_tracker_create;
 * KAT_EINVAL when `model` is NULL or max_objects / max_cond_frames is out of range.
 */
KAT_API int kat_tracker_create_on_model(kat_model *model, const kat_tracker_options *opt,
                                        kat_tracker **out, char *err, size_t err_size);

/* The tracker's model (borrowed, valid while the tracker lives); NULL when t is NULL. */
KAT_API kat_model *kat_tracker_model(const kat_tracker *t);

/* Frees the tracker and its buffers and drops its model reference; NULL is a no-op. Invalidates
 * borrowed result masks. */
KAT_API void kat_tracker_destroy(kat_tracker *t);

/*
 * Starts a track on `frame` (the conditioning frame, index 0) with the object's box `box_xywh`
 * (x, y, w, h in the frame's pixels; the frame is borrowed for the call) and fills `result` for
 * it. Clears any previous track. Frames of a track must all have this frame's size. Allocates
 * the per-video buffers (resizer, mask) when the size changes. KAT_EINVAL (message in
 * kat_tracker_last_error) on a NULL tracker, frame, box or result; on a bad frame (unknown
 * format, size <= 0, odd NV12 size, NULL plane, stride < width * bytes per pixel); on a box with
 * a non-finite value, w or h <= 0, or no area inside the frame. A box partly outside the frame is
 * clipped to it: result->prompt_box holds the box used and result->prompt_clipped is 1.
 * Runtime errors as KAT_ERUNTIME with the message in kat_tracker_last_error.
 */
KAT_API int kat_tracker_start(kat_tracker *t, const kat_frame *frame, const double box_xywh[4],
                              kat_track_result *result);

/*
 * Tracks the object into the next `frame` (borrowed for the call) and fills `result`.
 * KAT_EINVAL on a NULL tracker, frame or result, a bad frame (as in kat_tracker_start) or a frame
 * of another size: such a refused call changes nothing and the track goes on. Runtime errors as
 * in kat_tracker_start. A step that fails once the frame is being tracked ends the track (its
 * memory may hold part of the failed frame): every later step returns KAT_ESTATE, with a message
 * naming the frame and status that ended it, until the next kat_tracker_start. KAT_ESTATE also
 * before a successful start. Allocates nothing. With several objects it is kat_tracker_track
 * with capacity 1: `result` gets the first object's record (KAT_ESTATE when no object has one).
 */
KAT_API int kat_tracker_step(kat_tracker *t, const kat_frame *frame, kat_track_result *result);

/*
 * Begins a new video of width x height pixels with no object: every object and queued prompt is
 * dropped and the next frame is frame 0. KAT_EINVAL on a NULL tracker or a size < 1. Allocates
 * the per-video buffers when the size changes.
 */
KAT_API int kat_tracker_reset(kat_tracker *t, int width, int height);

/*
 * Queues prompt `p` (copied) for object `obj_id` (>= 0, chosen by the caller) on frame `frame`
 * of the current video; it applies when kat_tracker_track reaches that frame (see the top of
 * this file for the rules). A new id adds an object (at most max_objects). Thread-safe against a
 * concurrent kat_tracker_track (the prompt lock). Errors, with the message in
 * kat_tracker_last_error (read on the calling thread only when no other call runs):
 * KAT_EINVAL for a NULL tracker or prompt, a negative id, an empty prompt, a mask with a box or
 * points, a box with append, more than KAT_MAX_PROMPT_POINTS points, a label other than 0/1, a
 * non-finite value, a point outside the frame, a box with no area in the frame, a mask of
 * another size than the frame or with no object pixel; KAT_ESTATE before kat_tracker_reset or
 * kat_tracker_start; KAT_ERANGE for a frame that has already reached the tracker (the message
 * names it and the next frame), the (max_objects + 1)-th object, an object whose conditioning
 * frames would exceed max_cond_frames, or a full prompt queue (256 waiting prompts);
 * KAT_ENOTSUP for a mask prompt, a correction or a second prompt on one frame of an object on a
 * bundle without a mask input (format 1). A refused prompt changes nothing.
 */
KAT_API int kat_tracker_add_prompt(kat_tracker *t, int obj_id, int64_t frame, const kat_prompt *p);

/*
 * Re-seeds object `obj_id` (typically LOST) with `box` (x, y, w, h source pixels) on the next
 * frame to track: a correction of that frame's result (needs a mask input, format 2). KAT_ENOENT
 * when no such object is tracked; otherwise as kat_tracker_add_prompt. Thread-safe as
 * kat_tracker_add_prompt.
 */
KAT_API int kat_tracker_reseed(kat_tracker *t, int obj_id, const double box[4]);

/*
 * Removes object `obj_id` and its queued prompts before the next frame is tracked (the stream's
 * kat_stream_remove_object names the frame). KAT_ENOENT when the id is neither tracked nor
 * prompted. Thread-safe as kat_tracker_add_prompt.
 */
KAT_API int kat_tracker_remove_object(kat_tracker *t, int obj_id);

/*
 * Tracks the next frame of the video for every object (borrowed frame, of the video's size):
 * applies the prompts queued for this frame, and writes one record per object that exists on
 * this frame (started now or earlier), in the order the objects were added, into
 * results[0 .. capacity-1]; *count gets the number of records (which may exceed `capacity`:
 * the rest are not written, their objects are tracked all the same). Masks and logits are
 * borrowed until the next call. Errors as kat_tracker_step (a frame that fails while tracking
 * ends the video: KAT_ESTATE until kat_tracker_reset or kat_tracker_start). Allocates nothing
 * on frames without a new object.
 */
KAT_API int kat_tracker_track(kat_tracker *t, const kat_frame *frame, kat_track_result *results,
                              int capacity, int *count);

/* The objects the tracker holds now (started or waiting for their first prompt frame); -1 when
 * t is NULL. Not thread-safe against kat_tracker_track. */
KAT_API int kat_tracker_object_count(const kat_tracker *t);

/* The message of the last failure on `t` (empty if none); owned by the tracker, valid until the
 * next call on it. */
KAT_API const char *kat_tracker_last_error(const kat_tracker *t);

/* The model's input size S (frames are resized to S x S); KAT_EINVAL (negative) when t is NULL. */
KAT_API int kat_tracker_image_size(const kat_tracker *t);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_TRACKER_H */
