/*
 * katana evaluation: score a tracking run against ground truth, or compare two runs.
 *
 * A kat__eval_seq holds what one source says about each frame of one sequence: a box per frame
 * and, when the source has them, a binary mask file and the SAMURAI candidate index per frame.
 * Sources:
 *   - a LaSOT-style box file (one "x,y,w,h" per line; comma, space or tab separated; NaN or a
 *     zero/negative width or height marks the target absent; LaSOT's full_occlusion.txt and
 *     out_of_view.txt beside it, if present, mark more frames absent),
 *   - a katana results folder (boxes.txt, results.jsonl, masks/NNNNN.png), or a sequence folder
 *     (LaSOT or `katana synth`: groundtruth.txt with its flag files, and masks/ if present),
 *   - a folder of mask PNGs named by frame number (00000.png, ...), e.g. DAVIS annotations.
 * Boxes are x,y,w,h in pixels, top-left corner, as LaSOT writes them.
 *
 * Conventions (docs/internals/eval.md has the details):
 *   - Ground-truth frames whose box is absent (NaN, w <= 0 or h <= 0) are left out of success,
 *     precision and normalised precision, numerator and denominator, as the LaSOT toolkit does
 *     with its absent flags (optionally counted as failures, as pytracking does by default).
 *   - Frame 0's prediction is replaced by the ground truth, and an invalid prediction (NaN,
 *     w <= 0 or h <= 0) by the previous prediction, as the LaSOT toolkit does (both optional).
 *   - Success: fraction of frames whose IoU is > t for t = 0, 0.05, ..., 1 (21 points); AUC is
 *     the mean of those 21 values. Precision: center error <= t px, t = 0..50; reported at 20 px.
 *     Normalised precision: center error divided per axis by the ground-truth w and h, <= t for
 *     t = 0, 0.01, ..., 0.5; reported at 0.2 (pytracking) and as the curve mean (LaSOT).
 *   - Mask IoU of two empty masks is 1 (DAVIS convention).
 *
 * Thread-safety: a kat__eval_seq is read-only after loading; several threads may score the same
 * sequences at once. The functions keep no global state.
 *
 * UNSTABLE: an internal header of katana_tools (the CLI and the tests), not installed and not part
 * of libkatana's API; it changes without notice.
 */
#ifndef KAT_TOOLS_EVAL_EVAL_H
#define KAT_TOOLS_EVAL_EVAL_H

#include <stddef.h>

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An axis-aligned box in pixels: top-left corner (x, y), width w, height h. */
typedef struct kat__eval_box {
  double x, y, w, h;
} kat__eval_box;

#define KAT_EVAL_SUCCESS_POINTS 21        /* overlap thresholds 0:0.05:1 */
#define KAT_EVAL_PRECISION_POINTS 51      /* center-error thresholds 0:1:50 px */
#define KAT_EVAL_NORM_PRECISION_POINTS 51 /* normalised thresholds 0:0.01:0.5 */
#define KAT_EVAL_WORST_MAX 64             /* most worst frames a report holds */

/* Per-frame data of one sequence (ground truth or a run). Opaque; read-only once loaded. */
typedef struct kat__eval_seq kat__eval_seq;

/*
 * Loads a sequence from `path`, guessing the kind: a regular file is a box file; a folder with
 * boxes.txt, groundtruth.txt, results.jsonl or masks/ is a results or sequence folder (boxes from
 * boxes.txt, else groundtruth.txt, else results.jsonl, else the masks); any other folder is read
 * as a folder of mask PNGs. `object_id` selects which mask pixels are foreground: 0 means any
 * non-zero pixel, N > 0 pixels whose value (palette index or gray level) equals N. On success *out
 * is a new sequence the caller destroys with kat__eval_seq_destroy(). On failure *out is NULL, a
 * message naming the file (and line, for text files) is written to `err` (if not NULL, truncated to
 * `err_size`), and KAT_ENOENT, KAT_EFORMAT, KAT_EIO or KAT_ENOMEM is returned.
 */
int kat__eval_seq_load(const char *path, int object_id, kat__eval_seq **out, char *err,
                       size_t err_size);
/* The same with the kind fixed: a box file, a katana results folder, a mask PNG folder. */
int kat__eval_seq_load_boxes(const char *path, kat__eval_seq **out, char *err, size_t err_size);
int kat__eval_seq_load_results(const char *dir, int object_id, kat__eval_seq **out, char *err,
                               size_t err_size);
int kat__eval_seq_load_masks(const char *dir, int object_id, kat__eval_seq **out, char *err,
                             size_t err_size);
/* Frees the sequence; a no-op on NULL. */
void kat__eval_seq_destroy(kat__eval_seq *seq);

/* Number of frames (the highest frame index known plus one). */
size_t kat__eval_seq_frames(const kat__eval_seq *seq);
/* Whether the sequence has boxes, masks, and SAMURAI candidate indices (results.jsonl). */
int kat__eval_seq_has_boxes(const kat__eval_seq *seq);
int kat__eval_seq_has_masks(const kat__eval_seq *seq);
int kat__eval_seq_has_candidates(const kat__eval_seq *seq);
/*
 * Copies frame `frame`'s box to *out. Returns 1 if the box is valid (finite, w > 0, h > 0), 0 if
 * the frame has no valid box (absent target or no data; *out is then NaN), KAT_ERANGE past the
 * end.
 */
int kat__eval_seq_box(const kat__eval_seq *seq, size_t frame, kat__eval_box *out);
/* The mask file of frame `frame`, borrowed for the sequence's lifetime, or NULL if none. */
const char *kat__eval_seq_mask_path(const kat__eval_seq *seq, size_t frame);
/* The candidate index results.jsonl gave for `frame`, or -1 if none. */
int kat__eval_seq_candidate(const kat__eval_seq *seq, size_t frame);
/*
 * Frames whose box a LaSOT flag file (full_occlusion.txt or out_of_view.txt beside a box file)
 * marked absent although the box itself was valid. A box file loads those flags when they sit in
 * the same folder; flagged frames read as absent.
 */
size_t kat__eval_seq_absent_flags(const kat__eval_seq *seq);
/* Where the boxes came from: "boxes.txt", "groundtruth.txt", "results.jsonl", "masks",
 * "box file", or "none". */
const char *kat__eval_seq_box_source(const kat__eval_seq *seq);

/* Scoring options. Fill with kat__eval_options_default() and change what you need. */
typedef struct kat__eval_options {
  int first_frame_gt;    /* 1: frame 0's prediction := ground truth (LaSOT toolkit, pytracking) */
  int hold_last_box;     /* 1: an invalid prediction := the previous prediction (LaSOT toolkit) */
  int absent_as_failure; /* 1: absent-gt frames stay in the denominator as failures (pytracking's
                            default); 0: they are left out (LaSOT toolkit) */
  size_t worst_count;    /* how many worst frames to list (<= KAT_EVAL_WORST_MAX) */
} kat__eval_options;

/* Defaults: first_frame_gt 1, hold_last_box 1, absent_as_failure 0, worst_count 10. (The mask
 * object id is chosen when a sequence is loaded.) */
void kat__eval_options_default(kat__eval_options *opt);

/* One frame of a worst-frames list. NaN where a value does not apply. */
typedef struct kat__eval_frame {
  size_t frame;
  double box_iou;
  double mask_iou;
  int candidate_a; /* -1 if unknown */
  int candidate_b; /* -1 if unknown */
} kat__eval_frame;

/* A run scored against ground truth. Plain value; fill with kat__eval_score_run(). */
typedef struct kat__eval_score {
  int has_boxes;        /* 1 if both sides had boxes and the box metrics below were computed */
  size_t frames;        /* frames in the ground truth */
  size_t box_frames;    /* frames scored for box metrics (ground truth present) */
  size_t absent_frames; /* frames whose ground-truth box is absent */
  size_t invalid_pred;  /* scored frames whose own prediction was invalid or missing */
  double success[KAT_EVAL_SUCCESS_POINTS];
  double auc;          /* mean of success[], in [0,1] */
  double mean_box_iou; /* average overlap over scored frames */
  double precision[KAT_EVAL_PRECISION_POINTS];
  double precision_20; /* precision[20] */
  double norm_precision[KAT_EVAL_NORM_PRECISION_POINTS];
  double norm_precision_020; /* norm_precision[20], threshold 0.2 */
  double norm_precision_auc; /* mean of norm_precision[] */
  int has_masks;             /* 1 if both sides had masks and mask metrics were computed */
  size_t mask_frames;        /* frames with a ground-truth mask */
  size_t missing_masks;      /* of those, frames without a predicted mask (scored as empty) */
  double miou;               /* mean mask IoU over mask_frames */
  size_t worst_count;
  kat__eval_frame worst[KAT_EVAL_WORST_MAX]; /* lowest min(box IoU, mask IoU) first */
} kat__eval_score;

/*
 * Scores `run` against `gt`. Box metrics need boxes on both sides (a mask ground truth gives
 * boxes from each mask's tight bounding box); mask metrics need masks on both sides, of equal
 * size. Frames past the end of `run` count as invalid predictions. `opt` may be NULL (defaults).
 * Returns 0, or KAT_EINVAL (no ground-truth frame to score), KAT_EFORMAT / KAT_EIO / KAT_ENOMEM
 * (a mask file), with a message in `err`.
 */
int kat__eval_score_run(const kat__eval_seq *run, const kat__eval_seq *gt,
                        const kat__eval_options *opt, kat__eval_score *out, char *err,
                        size_t err_size);

/* Two runs compared frame by frame. Plain value; fill with kat__eval_compare_runs(). */
typedef struct kat__eval_compare {
  size_t frames;       /* frames in both runs */
  size_t box_frames;   /* frames with box data on both sides */
  double mean_box_iou; /* both absent counts 1, one absent 0 */
  double min_box_iou;
  size_t box_agree_90; /* frames with box IoU >= 0.9 */
  int has_masks;
  size_t mask_frames; /* frames where either run has a mask file (the other's counts empty) */
  double mean_mask_iou;
  double min_mask_iou;
  size_t candidate_frames;      /* frames where both runs report a candidate */
  double identical_choice_rate; /* fraction of those with the same candidate; NaN if none */
  size_t worst_count;
  kat__eval_frame worst[KAT_EVAL_WORST_MAX]; /* lowest min(box IoU, mask IoU) first */
} kat__eval_compare;

/*
 * Compares runs `a` and `b` frame by frame over the frames both cover. Returns 0 or an error as
 * kat__eval_score_run() does (KAT_EINVAL when they share no frame).
 */
int kat__eval_compare_runs(const kat__eval_seq *a, const kat__eval_seq *b,
                           const kat__eval_options *opt, kat__eval_compare *out, char *err,
                           size_t err_size);

/* IoU of two boxes (0 when either is invalid); exposed for tools and tests. */
double kat__eval_box_iou(const kat__eval_box *a, const kat__eval_box *b);

#ifdef __cplusplus
}
#endif
#endif /* KAT_TOOLS_EVAL_EVAL_H */
