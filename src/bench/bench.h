/*
 * katana benchmarking: latency statistics, the `katana bench` measurement and its reports.
 *
 * UNSTABLE: an internal header of katana_tools (the CLI and the tests), not installed and not part
 * of libkatana's API; it changes without notice.
 *
 * kat__bench_run measures one bundle under one execution-provider preset, one execution mode
 * ("seq": every stage on the caller's thread; "pipe": the three-stage pipelined stream of
 * katana/stream.h) and one preprocessing choice:
 *   - each ONNX module alone (its own session, inputs of the steady-state tracking shapes, warm:
 *     `warmup` runs discarded, then `iterations` timed runs): min / p50 / p95 / p99;
 *   - the stream end to end over `frames` frames (synthetic, or a clip folder), `repeat` times:
 *     per-frame time p50 / p95 / p99, FPS at the median frame time, wall FPS, per-frame latency,
 *     each stage's share of the frame's compute, run-to-run spread of the FPS;
 *   - session creation (kat_stream_open) cold (the first in the process) and warm (the second);
 *   - the process's peak resident set size;
 *   - the machine (CPU model, logical cores, GPU or "none").
 * Frame time: "seq" mode, the time from handing a frame in to getting its result (= its latency);
 * "pipe" mode, the interval between consecutive results (1000 / throughput FPS), since stages of
 * different frames overlap; the per-frame latency (push to result, queue waits included) is
 * reported separately as `latency` in both modes.
 * With a clip folder instead of the synthetic clip, the tracked frames are also scored against the
 * clip's ground truth (AUC, precision, mIoU), so speed and accuracy come from the same run.
 * Preprocessing: "exact" (Pillow-exact resize, boxes from upsampled masks, as the reference) and
 * "fast" (bilinear resize, boxes from low-res masks).
 *
 * Thread-safety: the statistics and report writers are reentrant. kat__bench_run uses the CPU (or
 * the provider) heavily; run one at a time.
 */
#ifndef KAT_BENCH_BENCH_H
#define KAT_BENCH_BENCH_H

#include <stddef.h>
#include <stdio.h>

#include "katana/common.h"
#include "katana/runtime.h"

#include "core/stats.h" /* kat__percentile_sorted: the one percentile definition */

#ifdef __cplusplus
extern "C" {
#endif

/* Summary of a sample of timings (any unit; katana uses milliseconds). */
typedef struct kat__bench_stats {
  size_t count;
  double min, max, mean;
  double p50, p95, p99; /* percentiles by linear interpolation between order statistics (numpy's
                           default): rank = p/100 * (count - 1) */
  double stddev;        /* population standard deviation */
  double cv;            /* stddev / mean (0 when mean is 0) */
  double iqr;           /* p75 - p25 */
} kat__bench_stats;

/* Fills *out from samples[0..n). KAT_EINVAL when n is 0 or a sample is not finite; KAT_ENOMEM. */
int kat__bench_stats_compute(const double *samples, size_t n, kat__bench_stats *out);

/*
 * Throttling check over samples in time order: *ratio (if not NULL) = median of the last third /
 * median of the first third. Returns 1 when the ratio exceeds 1.10 (the run slowed down by more
 * than 10%: thermal or power throttling, or other load), 0 when not, or when n < 9 (too few
 * samples to say; *ratio is then 1).
 */
int kat__bench_throttle_check(const double *samples, size_t n, double *ratio);

/* Writes "<CPU model>, <N> cores, GPU: <name or none>" into buf (NUL-terminated). */
void kat__bench_machine(char *buf, size_t size);

/* Stages of a frame, for the per-stage shares: preprocessing, the four modules, host work. */
enum {
  KAT_BENCH_STAGE_PREPROCESS = 0,
  /* 1 + kat_module: image_encoder, memory_attention, mask_decoder, memory_encoder */
  KAT_BENCH_STAGE_HOST = KAT_MODULE_COUNT + 1,
  KAT_BENCH_STAGE_COUNT
};
/* "preprocess", the module names, "host"; "?" out of range. Static string. */
const char *kat__bench_stage_name(int stage);

/*
 * Progress of a run: `phase` ("init", "frames", "modules"), `done` of `total` units. Called on
 * the thread that called kat__bench_run, often (throttle the display yourself).
 */
typedef void (*kat__bench_progress_fn)(void *user, const char *phase, size_t done, size_t total);

#define KAT_BENCH_MAX_REPEAT 64
#define KAT_BENCH_MAX_OBJECTS 64

typedef struct kat__bench_options {
  const char *bundle_dir; /* borrowed for the call */
  const char *model_name; /* label in reports (NULL: the bundle folder's last component) */
  const char *preset;     /* execution-provider preset: "cpu", "cuda", "tensorrt", "mac" */
  const char *mode;       /* execution: "seq" (default) or "pipe" */
  const char *prep;       /* preprocessing: "exact" (default) or "fast" */
  int intra_op_threads;   /* 0: the preset's value; in "pipe" mode on the CPU, half the logical
                             cores per session (as katana track does) */
  int warmup;             /* discarded runs per module and discarded first frames (default 3) */
  int iterations;         /* timed runs per module (default 20) */
  int frames;             /* frames timed end to end per repeat (default 60) */
  int repeat;             /* end-to-end runs, each on a fresh stream (default 1, at most
                             KAT_BENCH_MAX_REPEAT) */
  int width, height;      /* synthetic frame size (default 640 x 360) */
  int skip_modules;       /* 1: do not time the modules alone */
  const char *clip_dir;   /* NULL: the synthetic clip. Else a sequence folder (katana synth,
                             LaSOT-like): frames in img/ or frames/ (PNG/JPEG, natural order),
                             groundtruth.txt (frame 0's box starts the track) and optional
                             masks/; the report then also scores the tracked frames (AUC, P@20,
                             mIoU). Frames and masks are decoded before timing. Borrowed for
                             the call. */
  int objects; /* objects tracked at once (default 1, at most KAT_BENCH_MAX_OBJECTS): object 0
                  as above, objects 1.. from boxes spread over the frame, all prompted on frame 0
                  and tracked on one image-encoder pass per frame (katana/stream.h
                  kat_stream_next_objects); the stage shares then sum every object's modules */
  kat__bench_progress_fn progress; /* NULL: none */
  void *progress_user;
} kat__bench_options;

/* Fills the defaults above (bundle_dir NULL, preset "cpu", mode "seq", prep "exact"). */
void kat__bench_options_init(kat__bench_options *o);

typedef struct kat__bench_report {
  char model[128];
  char bundle[512];
  char clip[512]; /* "" for the synthetic clip */
  char preset[32];
  char mode[16]; /* "seq" or "pipe" */
  char prep[16]; /* "exact" or "fast" */
  char machine[256];
  char threads[64];    /* intra-op threads per module session, "IE,MA,MD,ME" (0: ORT's default) */
  char precision[256]; /* per-module precision from the manifest (kat__onnx_bundle_precision) */
  int frames, iterations, warmup, repeat, width, height;
  int objects;                      /* objects tracked per frame (kat__bench_options.objects) */
  int module_ran[KAT_MODULE_COUNT]; /* 1 where the module was timed alone */
  kat__bench_stats module[KAT_MODULE_COUNT]; /* ms per isolated run */
  kat__bench_stats frame;   /* ms per frame, all repeats pooled (see the top of this file) */
  kat__bench_stats latency; /* ms from handing a frame in to its result */
  double fps_p50;           /* 1000 / frame.p50 */
  double wall_fps;          /* median over repeats of frames / wall seconds of the timed frames */
  double repeat_wall_fps[KAT_BENCH_MAX_REPEAT]; /* [repeat] each repeat's wall FPS */
  double repeat_fps_p50[KAT_BENCH_MAX_REPEAT];  /* [repeat] each repeat's 1000 / median frame */
  double wall_fps_spread; /* (max - min) / median of repeat_wall_fps (0 with one repeat) */
  double stage_ms[KAT_BENCH_STAGE_COUNT];    /* mean compute ms per timed frame, per stage */
  double stage_share[KAT_BENCH_STAGE_COUNT]; /* stage_ms / sum of stage_ms */
  double init_cold_ms;                       /* first kat_stream_open of this run */
  double init_warm_ms;                       /* second one */
  double peak_rss_mb; /* peak resident set size of the process after the end-to-end part, MiB */
  double host_overhead_ratio; /* frame.p50 / (image encoder p50 + objects x the other isolated
                                 modules' p50) (NaN without module timings): 1 = the frame
                                 costs exactly its modules */
  int throttled;              /* kat__bench_throttle_check on frame_ms (all repeats, in order) */
  double throttle_ratio;
  double *frame_ms;      /* [frame_ms_count] every timed frame's time, in time order; owned */
  size_t frame_ms_count; /* repeat * frames (fewer with a short clip) */
  /* With clip_dir: accuracy of the tracked frames of the first repeat against the clip's ground
   * truth, by the rules of tools/eval/eval.h. */
  int has_accuracy;
  size_t scored_frames; /* frames with a present ground-truth box */
  double auc, precision_20, norm_precision, mean_box_iou;
  size_t mask_frames; /* frames with a ground-truth mask (0: no masks/) */
  double miou;        /* NaN without masks */
} kat__bench_report;

/*
 * Runs the measurement described at the top of this file into *out (call
 * kat__bench_report_cleanup on it afterwards, also after a failure). Returns 0, or a negative
 * status with a message in `err` (a bundle that does not open, a provider that is unavailable).
 */
int kat__bench_run(const kat__bench_options *opt, kat__bench_report *out, char *err,
                   size_t err_size);

/* Frees frame_ms and zeroes it; the rest of the report stays readable. NULL is a no-op. */
void kat__bench_report_cleanup(kat__bench_report *r);

/*
 * Writes reports[0..n) as JSON to `path` ("-": stdout): the machine, and per model, preset and
 * mode key ("seq", "pipe"; "-fast" appended for fast preprocessing, "-kK" for K > 1 objects)
 * under "results": objects, modules,
 * frame, latency, fps_p50, wall_fps, repeats, stages, init_ms, peak_rss_mb, host_overhead_ratio,
 * throttling and accuracy. 0, or KAT_EIO with a message in err.
 */
int kat__bench_write_json(const char *path, const kat__bench_report *reports, size_t n, char *err,
                          size_t err_size);

/*
 * Writes reports[0..n) as one self-contained HTML page (inline SVG and CSS, no script, no
 * external assets) to `path`: the machine, a side-by-side table, per configuration a per-stage
 * bar chart and the frame time over the frames (p50 and p95 lines, so spikes show). 0 or KAT_EIO.
 */
int kat__bench_write_html(const char *path, const kat__bench_report *reports, size_t n, char *err,
                          size_t err_size);

/* Internals of kat__bench_run and its reports, shared by src/bench/ and tests/test_bench.c. */

/* Median of v[0..n) (n >= 1); sorts `scratch` (n doubles, may not alias v). */
double kat__median(const double *v, size_t n, double *scratch);

/*
 * Statistics of samples[0..n) using `scratch` (n doubles) for the sort. Same contract as
 * kat__bench_stats_compute, without allocating.
 */
int kat__bench_stats_into(const double *samples, size_t n, double *scratch, kat__bench_stats *out);

/*
 * The key of a report under results.<model>.<preset> in the JSON and the label in the HTML:
 * "seq" / "pipe", with "-fast" appended for fast preprocessing. Writes into buf (NUL-terminated).
 */
void kat__bench_mode_key(const kat__bench_report *r, char *buf, size_t size);

/*
 * What a report's frame time is, in words: "time from pushing a frame to its result" ("seq") or
 * "interval between consecutive results" ("pipe"). Static string.
 */
const char *kat__bench_frame_definition(const kat__bench_report *r);

/* Opens `path` for writing ("-": stdout); NULL with a message in err on failure. */
FILE *kat__bench_open_out(const char *path, char *err, size_t err_size);

/* Closes f (not stdout); KAT_EIO with a message when a write or the close failed. */
int kat__bench_close_out(FILE *f, const char *path, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* KAT_BENCH_BENCH_H */
