/*
 * The evaluation API (src/tools/eval/eval.h): sequence accessors, scoring a run against
 * ground truth and comparing two runs frame by frame. The metrics live in eval/metrics.c, the
 * readers in results.h (boxfile.c, jsonl.c, mask.c, seq.c). Mask files are decoded one pair at a
 * time into two reused buffers, so memory stays at two frames whatever the sequence length.
 */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "tools/eval/metrics.h"
#include "tools/eval/results.h"

void kat__eval_options_default(kat__eval_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->first_frame_gt = 1;
  opt->hold_last_box = 1;
  opt->absent_as_failure = 0;
  opt->worst_count = 10;
}

size_t kat__eval_seq_frames(const kat__eval_seq *seq) {
  return seq ? seq->frames : 0;
}
int kat__eval_seq_has_boxes(const kat__eval_seq *seq) {
  return seq && seq->boxes;
}
int kat__eval_seq_has_masks(const kat__eval_seq *seq) {
  return seq && seq->mask_paths;
}
int kat__eval_seq_has_candidates(const kat__eval_seq *seq) {
  return seq && seq->candidates;
}
size_t kat__eval_seq_absent_flags(const kat__eval_seq *seq) {
  return seq ? seq->absent_flags : 0;
}
const char *kat__eval_seq_box_source(const kat__eval_seq *seq) {
  return seq ? seq->box_source : "none";
}

int kat__eval_seq_box(const kat__eval_seq *seq, size_t frame, kat__eval_box *out) {
  if (!seq || frame >= seq->frames) return KAT_ERANGE;
  if (!seq->boxes) {
    out->x = out->y = out->w = out->h = NAN;
    return 0;
  }
  *out = seq->boxes[frame];
  if (kat__box_valid(out)) return 1;
  out->x = out->y = out->w = out->h = NAN;
  return 0;
}

const char *kat__eval_seq_mask_path(const kat__eval_seq *seq, size_t frame) {
  if (!seq || !seq->mask_paths || frame >= seq->frames) return NULL;
  return seq->mask_paths[frame];
}

int kat__eval_seq_candidate(const kat__eval_seq *seq, size_t frame) {
  if (!seq || !seq->candidates || frame >= seq->frames) return -1;
  return seq->candidates[frame];
}

double kat__eval_box_iou(const kat__eval_box *a, const kat__eval_box *b) {
  return kat__box_iou(a, b);
}

static size_t count_foreground(const kat__mask_buf *mb) {
  size_t n = 0, total = mb->w * mb->h;
  for (size_t i = 0; i < total; i++) n += mb->data[i] != 0;
  return n;
}

/*
 * Mask IoU of frame f between path_a and path_b (either may be NULL: an empty mask of the other's
 * size). Both NULL is not a call this file makes.
 */
static int pair_mask_iou(const char *path_a, const char *path_b, int object_id_a, int object_id_b,
                         kat__mask_buf *ma, kat__mask_buf *mb, double *iou, char *err,
                         size_t err_size) {
  int status;
  if (path_a) {
    status = kat__mask_read_png(path_a, object_id_a, ma, err, err_size);
    if (status != KAT_OK) return status;
  }
  if (path_b) {
    status = kat__mask_read_png(path_b, object_id_b, mb, err, err_size);
    if (status != KAT_OK) return status;
  }
  if (!path_a || !path_b) {
    *iou = count_foreground(path_a ? ma : mb) ? 0.0 : 1.0;
    return KAT_OK;
  }
  if (ma->w != mb->w || ma->h != mb->h)
    return kat__eval_error(err, err_size, KAT_EFORMAT, "%s is %zux%zu but %s is %zux%zu", path_a,
                           ma->w, ma->h, path_b, mb->w, mb->h);
  *iou = kat__mask_iou(ma->data, mb->data, ma->w * ma->h, NULL, NULL);
  return KAT_OK;
}

static size_t worst_cap(const kat__eval_options *opt) {
  return opt->worst_count < KAT_EVAL_WORST_MAX ? opt->worst_count : KAT_EVAL_WORST_MAX;
}

int kat__eval_score_run(const kat__eval_seq *run, const kat__eval_seq *gt,
                        const kat__eval_options *opt, kat__eval_score *out, char *err,
                        size_t err_size) {
  kat__eval_options defaults;
  if (!opt) {
    kat__eval_options_default(&defaults);
    opt = &defaults;
  }
  memset(out, 0, sizeof *out);
  if (!run || !gt || gt->frames == 0)
    return kat__eval_error(err, err_size, KAT_EINVAL, "no ground-truth frame to score");
  size_t n = gt->frames;
  out->frames = n;
  out->miou = NAN;
  double *work = NULL, *iou_box = NULL;
  kat__mask_buf mg = {0}, mp = {0};
  int status = KAT_OK;
  size_t bytes;
  if (!kat__size_mul(n, 4 * sizeof(double), &bytes) || !(work = kat__malloc(bytes))) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    goto done;
  }
  iou_box = work + 3 * n; /* [n] f64: per-frame box IoU (NaN: not scored) */
  for (size_t f = 0; f < n; f++) iou_box[f] = NAN;

  if (gt->boxes && run->boxes) {
    out->has_boxes = 1;
    kat__score_boxes(run->boxes, run->frames, gt->boxes, n, opt, work, iou_box, out);
  } else {
    out->frames = n;
  }

  out->has_masks = gt->mask_paths && run->mask_paths;
  double mask_sum = 0.0;
  size_t cap = worst_cap(opt);
  for (size_t f = 0; f < n; f++) {
    kat__eval_frame fr = {f, iou_box[f], NAN, kat__eval_seq_candidate(run, f), -1};
    if (out->has_masks && gt->mask_paths[f]) {
      const char *pred = f < run->frames ? run->mask_paths[f] : NULL;
      if (!pred) out->missing_masks++;
      status = pair_mask_iou(gt->mask_paths[f], pred, gt->object_id, run->object_id, &mg, &mp,
                             &fr.mask_iou, err, err_size);
      if (status != KAT_OK) goto done;
      mask_sum += fr.mask_iou;
      out->mask_frames++;
    }
    kat__worst_insert(out->worst, &out->worst_count, cap, &fr);
  }
  if (out->mask_frames) out->miou = mask_sum / (double)out->mask_frames;
  if (!out->has_boxes && !out->has_masks)
    status = kat__eval_error(err, err_size, KAT_EINVAL,
                             "nothing to score: the run and the ground truth share neither boxes "
                             "nor masks");
done:
  kat__free(work);
  kat__mask_buf_cleanup(&mg);
  kat__mask_buf_cleanup(&mp);
  return status;
}

int kat__eval_compare_runs(const kat__eval_seq *a, const kat__eval_seq *b,
                           const kat__eval_options *opt, kat__eval_compare *out, char *err,
                           size_t err_size) {
  kat__eval_options defaults;
  if (!opt) {
    kat__eval_options_default(&defaults);
    opt = &defaults;
  }
  memset(out, 0, sizeof *out);
  out->mean_box_iou = out->min_box_iou = NAN;
  out->mean_mask_iou = out->min_mask_iou = NAN;
  out->identical_choice_rate = NAN;
  if (!a || !b) return kat__eval_error(err, err_size, KAT_EINVAL, "two runs are needed");
  size_t n = a->frames < b->frames ? a->frames : b->frames;
  if (n == 0) return kat__eval_error(err, err_size, KAT_EINVAL, "the runs share no frame");
  out->frames = n;
  bool boxes = a->boxes && b->boxes;
  out->has_masks = a->mask_paths && b->mask_paths;
  kat__mask_buf ma = {0}, mb = {0};
  int status = KAT_OK;
  double box_sum = 0.0, mask_sum = 0.0;
  size_t same = 0, cap = worst_cap(opt);
  for (size_t f = 0; f < n; f++) {
    kat__eval_frame fr = {f, NAN, NAN, kat__eval_seq_candidate(a, f),
                          kat__eval_seq_candidate(b, f)};
    if (boxes) {
      bool va = kat__box_valid(&a->boxes[f]), vb = kat__box_valid(&b->boxes[f]);
      /* Agreement: both say "absent" is full agreement, one of them is none. */
      fr.box_iou = (!va && !vb) ? 1.0 : kat__box_iou(&a->boxes[f], &b->boxes[f]);
      box_sum += fr.box_iou;
      if (out->box_frames == 0 || fr.box_iou < out->min_box_iou) out->min_box_iou = fr.box_iou;
      out->box_agree_90 += fr.box_iou >= 0.9;
      out->box_frames++;
    }
    if (out->has_masks && (a->mask_paths[f] || b->mask_paths[f])) {
      status = pair_mask_iou(a->mask_paths[f], b->mask_paths[f], a->object_id, b->object_id, &ma,
                             &mb, &fr.mask_iou, err, err_size);
      if (status != KAT_OK) goto done;
      mask_sum += fr.mask_iou;
      if (out->mask_frames == 0 || fr.mask_iou < out->min_mask_iou) out->min_mask_iou = fr.mask_iou;
      out->mask_frames++;
    }
    if (fr.candidate_a >= 0 && fr.candidate_b >= 0) {
      out->candidate_frames++;
      same += fr.candidate_a == fr.candidate_b;
    }
    kat__worst_insert(out->worst, &out->worst_count, cap, &fr);
  }
  if (out->box_frames) out->mean_box_iou = box_sum / (double)out->box_frames;
  if (out->mask_frames) out->mean_mask_iou = mask_sum / (double)out->mask_frames;
  if (out->candidate_frames)
    out->identical_choice_rate = (double)same / (double)out->candidate_frames;
done:
  kat__mask_buf_cleanup(&ma);
  kat__mask_buf_cleanup(&mb);
  return status;
}
