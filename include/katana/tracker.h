/*
 * The katana tracker: SAMURAI (or plain SAM 2) single-object video tracking from a box prompt,
 * over a model bundle (docs/bundle-format.md) run by ONNX Runtime.
 *
 * Use: kat_tracker_options_init, set options, kat_tracker_create(bundle folder), then
 * kat_tracker_start on the first frame with the object's box, kat_tracker_step on each following
 * frame in order, kat_tracker_destroy. kat_tracker_start may be called again to track a new object
 * or a new video with the same model (the memory is cleared).
 *
 * Presence rule (kat_track_result.presence): a frame is TRACKED when the object score logit is
 * above the selection's threshold (min_obj_score_logits: -1 in SAMURAI, 0 in SAM 2: the same test
 * that decides whether the model's masks are kept); otherwise OCCLUDED, and LOST once the object
 * has been absent for `lost_after_frames` consecutive frames (until it is present again).
 *
 * Thread-safety: a kat_tracker is used by one thread at a time (every function taking a tracker
 * must not run concurrently with another on the same tracker). Different trackers are
 * independent and may run on different threads.
 */
#ifndef KATANA_TRACKER_H
#define KATANA_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"
#include "katana/media.h"
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
  int verify_hashes;     /* 1: check the bundle files' SHA-256 at create (default 1) */
  kat_ep_profile ep;     /* execution providers; default the "cpu" preset */
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
} kat_track_result;

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

/* Frees the tracker and its sessions; NULL is a no-op. Invalidates borrowed result masks. */
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
 * before a successful start. Allocates nothing.
 */
KAT_API int kat_tracker_step(kat_tracker *t, const kat_frame *frame, kat_track_result *result);

/* The message of the last failure on `t` (empty if none); owned by the tracker, valid until the
 * next call on it. */
KAT_API const char *kat_tracker_last_error(const kat_tracker *t);

/* The model's input size S (frames are resized to S x S); KAT_EINVAL (negative) when t is NULL. */
KAT_API int kat_tracker_image_size(const kat_tracker *t);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_TRACKER_H */
