/*
 * katana benchmarking: latency statistics and the `katana bench` measurement.
 *
 * kat_bench_run measures one bundle under one execution-provider preset and one mode:
 *   - each ONNX module alone (its own session, inputs of the steady-state tracking shapes, warm:
 *     `warmup` runs discarded, then `iterations` timed runs): min / p50 / p95 / p99;
 *   - the tracker end to end over `frames` synthetic frames: per-frame p50 / p95 / p99, FPS at
 *     the median frame time, wall FPS over the whole loop, the host's share of the frame time;
 *   - tracker creation cold (the first in the process) and warm (the second);
 *   - the process's peak resident set size;
 *   - the machine (CPU model, logical cores).
 * With a clip folder instead of the synthetic clip, the tracked frames are also scored against the
 * clip's ground truth (AUC, precision, mIoU), so speed and accuracy come from the same run.
 * The modes: "exact" (Pillow-exact resize, boxes from upsampled masks, as the reference) and
 * "fast" (bilinear resize, boxes from low-res masks).
 *
 * Thread-safety: the statistics functions are reentrant. kat_bench_run uses the CPU (or the
 * provider) heavily; run one at a time.
 */
#ifndef KATANA_BENCH_H
#define KATANA_BENCH_H

#include <stddef.h>

#include "katana/common.h"
#include "katana/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Summary of a sample of timings (any unit; katana uses milliseconds). */
typedef struct kat_bench_stats {
  size_t count;
  double min, max, mean;
  double p50, p95, p99; /* percentiles by linear interpolation between order statistics (numpy's
                           default): rank = p/100 * (count - 1) */
  double stddev;        /* population standard deviation */
  double cv;            /* stddev / mean (0 when mean is 0) */
  double iqr;           /* p75 - p25 */
} kat_bench_stats;

/* Fills *out from samples[0..n). KAT_EINVAL when n is 0 or a sample is not finite; KAT_ENOMEM. */
KAT_API int kat_bench_stats_compute(const double *samples, size_t n, kat_bench_stats *out);

/*
 * Throttling check over samples in time order: *ratio (if not NULL) = median of the last third /
 * median of the first third. Returns 1 when the ratio exceeds 1.10 (the run slowed down by more
 * than 10%: thermal or power throttling, or other load), 0 when not, or when n < 9 (too few
 * samples to say; *ratio is then 1).
 */
KAT_API int kat_bench_throttle_check(const double *samples, size_t n, double *ratio);

/* Writes "<CPU model>, <N> cores" (and the GPU when one is found) into buf (NUL-terminated). */
KAT_API void kat_bench_machine(char *buf, size_t size);

typedef struct kat_bench_options {
  const char *bundle_dir; /* borrowed for the call */
  const char *preset;     /* execution-provider preset: "cpu", "cuda", "tensorrt", "mac" */
  const char *mode;       /* "exact" (default) or "fast" */
  int intra_op_threads;   /* 0: the preset's value */
  int warmup;             /* discarded runs per module and discarded first frames (default 3) */
  int iterations;         /* timed runs per module (default 20) */
  int frames;             /* synthetic frames tracked end to end (default 60) */
  int width, height;      /* synthetic frame size (default 640 x 360) */
  int skip_modules;       /* 1: do not time the modules alone */
  const char *clip_dir;   /* NULL: the synthetic clip. Else a sequence folder (katana synth,
                             LaSOT-like): img/ frames (PNG/JPEG, natural order), groundtruth.txt
                             (frame 0's box starts the track) and optional masks/; the report
                             then also scores the tracked frames (AUC, P@20, mIoU). Frames are
                             decoded before timing. Borrowed for the call. */
} kat_bench_options;

/* Fills the defaults above (bundle_dir NULL, preset "cpu", mode "exact"). */
KAT_API void kat_bench_options_init(kat_bench_options *o);

typedef struct kat_bench_report {
  char preset[32];
  char mode[16];
  char machine[256];
  int module_ran[KAT_MODULE_COUNT];         /* 1 where the module was timed alone */
  kat_bench_stats module[KAT_MODULE_COUNT]; /* ms per isolated run */
  kat_bench_stats frame;                    /* ms per tracked frame (kat_tracker_step) */
  double fps_p50;                           /* 1000 / frame.p50 */
  double wall_fps;                          /* frames / seconds of the whole tracking loop */
  double init_cold_ms;                      /* first kat_tracker_create in this process */
  double init_warm_ms;                      /* second one */
  double peak_rss_mb;                       /* peak resident set size of the process, MiB */
  double host_overhead_ratio; /* share of the frame time outside the four module runs */
  int throttled;              /* kat_bench_throttle_check on the frame times */
  double throttle_ratio;
  /* With clip_dir: accuracy of the tracked frames (0..frames) against the clip's ground truth,
   * by the rules of katana/eval.h. */
  int has_accuracy;
  size_t scored_frames; /* frames with a present ground-truth box */
  double auc, precision_20, norm_precision, mean_box_iou;
  size_t mask_frames; /* frames with a ground-truth mask (0: no masks/) */
  double miou;        /* NaN without masks */
} kat_bench_report;

/*
 * Runs the measurement described at the top of this file. Returns 0, or a negative status with a
 * message in `err` (a bundle that does not open, a provider that is unavailable, ...).
 */
KAT_API int kat_bench_run(const kat_bench_options *opt, kat_bench_report *out, char *err,
                          size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_BENCH_H */
