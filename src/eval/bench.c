/*
 * Benchmarking (include/katana/bench.h): latency statistics, the throttling check, and
 * kat_bench_run, which times each ONNX module alone and the tracker end to end.
 *
 * Isolated module runs use their own session per module (kat__bundle_create_session with the
 * preset's provider config) with every input and fixed-shape output bound to buffers allocated
 * once, so a timed run is exactly one ONNX Runtime Run(). Inputs take the steady-state tracking
 * shapes: `memory` holds num_maskmem spatial blocks of H*W tokens plus the object-pointer tokens
 * (max_obj_ptrs_in_encoder pointers of C/Cm tokens each), the decoder gets a box (2 points).
 * Values are zero except prompt coordinates and labels; the graphs have no data-dependent
 * control flow, so the values do not change the work done.
 *
 * The end-to-end part tracks a synthetic clip (a textured square moving over a textured
 * background, generated in a reused buffer, deterministic) with the public tracker API.
 */
#include "eval/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "eval/metrics.h"
#include "eval/results.h"
#include "katana/eval.h"
#include "katana/media.h"
#include "katana/system.h"
#include "katana/tracker.h"
#include "media/image_io.h"
#include "model/bundle.h"
#include "model/manifest.h"
#include "runtime/session.h"

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double kat__percentile_sorted(const double *sorted, size_t n, double p) {
  if (n == 1) return sorted[0];
  double rank = p / 100.0 * (double)(n - 1);
  if (rank <= 0.0) return sorted[0];
  if (rank >= (double)(n - 1)) return sorted[n - 1];
  size_t lo = (size_t)rank;
  double frac = rank - (double)lo;
  return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

double kat__median(const double *v, size_t n, double *scratch) {
  memcpy(scratch, v, n * sizeof *scratch);
  qsort(scratch, n, sizeof *scratch, cmp_double);
  return kat__percentile_sorted(scratch, n, 50.0);
}

int kat__bench_stats(const double *samples, size_t n, double *scratch, kat_bench_stats *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return KAT_EINVAL;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(samples[i])) return KAT_EINVAL;
    sum += samples[i];
  }
  memcpy(scratch, samples, n * sizeof *scratch);
  qsort(scratch, n, sizeof *scratch, cmp_double);
  out->count = n;
  out->min = scratch[0];
  out->max = scratch[n - 1];
  out->mean = sum / (double)n;
  double var = 0.0;
  for (size_t i = 0; i < n; i++) var += (samples[i] - out->mean) * (samples[i] - out->mean);
  out->stddev = sqrt(var / (double)n);
  out->cv = out->mean != 0.0 ? out->stddev / out->mean : 0.0;
  out->p50 = kat__percentile_sorted(scratch, n, 50.0);
  out->p95 = kat__percentile_sorted(scratch, n, 95.0);
  out->p99 = kat__percentile_sorted(scratch, n, 99.0);
  out->iqr = kat__percentile_sorted(scratch, n, 75.0) - kat__percentile_sorted(scratch, n, 25.0);
  return KAT_OK;
}

int kat_bench_stats_compute(const double *samples, size_t n, kat_bench_stats *out) {
  if (!samples || !out || n == 0) {
    if (out) memset(out, 0, sizeof *out);
    return KAT_EINVAL;
  }
  size_t bytes;
  double *scratch;
  if (!kat__size_mul(n, sizeof(double), &bytes) || !(scratch = kat__malloc(bytes)))
    return KAT_ENOMEM;
  int status = kat__bench_stats(samples, n, scratch, out);
  kat__free(scratch);
  return status;
}

int kat_bench_throttle_check(const double *samples, size_t n, double *ratio) {
  if (ratio) *ratio = 1.0;
  if (!samples || n < 9) return 0;
  size_t third = n / 3;
  double *scratch = kat__malloc(third * sizeof *scratch);
  if (!scratch) return 0;
  double first = kat__median(samples, third, scratch);
  double last = kat__median(samples + (n - third), third, scratch);
  kat__free(scratch);
  double r = first > 0.0 ? last / first : 1.0;
  if (ratio) *ratio = r;
  return r > 1.10;
}

void kat_bench_machine(char *buf, size_t size) {
  if (!buf || !size) return;
  kat_system_info info;
  if (kat_system_info_get(&info) != KAT_OK) {
    snprintf(buf, size, "unknown machine");
    return;
  }
  snprintf(buf, size, "%s, %d cores%s%s", info.cpu_model[0] ? info.cpu_model : "unknown CPU",
           info.logical_cores, info.gpu[0] ? ", " : "", info.gpu);
}

void kat_bench_options_init(kat_bench_options *o) {
  memset(o, 0, sizeof *o);
  o->preset = "cpu";
  o->mode = "exact";
  o->warmup = 3;
  o->iterations = 20;
  o->frames = 60;
  o->width = 640;
  o->height = 360;
}

/* ---- synthetic clip ---- */

/* Deterministic integer hash for the textures. */
static uint32_t hash2(uint32_t x, uint32_t y) {
  uint32_t h = x * 0x9E3779B1u ^ (y + 0x7F4A7C15u) * 0x85EBCA77u;
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  return h;
}

/* The square's box on frame i: side = height/5, moving on a smooth Lissajous path. */
static void synth_box(int i, int w, int h, double box[4]) {
  double side = h / 5.0;
  double t = i * 0.05;
  box[0] = (w - side) * (0.5 + 0.35 * sin(t));
  box[1] = (h - side) * (0.5 + 0.3 * sin(1.7 * t + 0.5));
  box[2] = side;
  box[3] = side;
}

/* [h, w*3] u8 RGB24: 8x8-cell background texture, target with a finer texture and red tint. */
static void synth_frame(uint8_t *rgb, int w, int h, int i) {
  double box[4];
  synth_box(i, w, h, box);
  int x0 = (int)box[0], y0 = (int)box[1], x1 = (int)(box[0] + box[2]), y1 = (int)(box[1] + box[3]);
  for (int y = 0; y < h; y++) {
    uint8_t *row = rgb + (size_t)y * (size_t)w * 3;
    for (int x = 0; x < w; x++) {
      uint8_t *px = row + (size_t)x * 3;
      if (x >= x0 && x < x1 && y >= y0 && y < y1) {
        uint32_t v = hash2((uint32_t)(x - x0) / 3, (uint32_t)(y - y0) / 3) & 63;
        px[0] = (uint8_t)(180 + v);
        px[1] = (uint8_t)(40 + v);
        px[2] = (uint8_t)(40 + v / 2);
      } else {
        uint32_t v = hash2((uint32_t)(x + i) / 8, (uint32_t)y / 8) & 127;
        px[0] = (uint8_t)(60 + v);
        px[1] = (uint8_t)(70 + v);
        px[2] = (uint8_t)(80 + v);
      }
    }
  }
}

static double peak_rss_mb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
  return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

/* ---- isolated modules ---- */

/* Sizes every dim of `spec` (symbolic ones from the steady-state tracking shapes). */
static size_t resolve_shape(const kat_tensor_spec *spec, const kat__manifest *m, int64_t *shape) {
  size_t count = 1;
  int64_t hw = (int64_t)m->feat_h * m->feat_w;
  int64_t ptr_tokens = (int64_t)m->max_obj_ptrs_in_encoder * (m->hidden_dim / m->mem_dim);
  for (int d = 0; d < spec->rank; d++) {
    int64_t v = spec->dims[d];
    if (v < 0) {
      if (strcmp(spec->name, "memory") == 0 || strcmp(spec->name, "memory_pos") == 0)
        v = (int64_t)m->num_maskmem * hw + ptr_tokens;
      else if (strcmp(spec->name, "point_coords") == 0 || strcmp(spec->name, "point_labels") == 0)
        v = 2;
      else
        v = 1;
    }
    shape[d] = v;
    count *= (size_t)v;
  }
  return count;
}

static int time_module(const kat__bundle *b, int module, const kat_ep_config *ep,
                       kat_ep_fallback fallback, const kat_bench_options *opt, kat_bench_stats *out,
                       kat_errbuf *eb) {
  const kat__manifest *m = kat__bundle_manifest(b);
  kat__session *s = NULL;
  void *bufs[2 * KAT_MAX_IO] = {0};
  double *samples = NULL, *scratch = NULL;
  int nbuf = 0;
  int status = kat__bundle_create_session(b, module, ep, fallback, &s, eb);
  if (status != KAT_OK) goto done;
  int nin = kat__session_input_count(s), nout = kat__session_output_count(s);
  for (int i = 0; i < nin + nout && status == KAT_OK; i++) {
    bool is_in = i < nin;
    const kat_tensor_spec *spec =
        is_in ? kat__session_input(s, i) : kat__session_output(s, i - nin);
    bool dynamic_out = false;
    for (int d = 0; d < spec->rank; d++) dynamic_out |= !is_in && spec->dims[d] < 0;
    if (dynamic_out) continue; /* left to ONNX Runtime */
    int64_t shape[KAT_MAX_RANK];
    size_t count = resolve_shape(spec, m, shape);
    size_t esize = kat__dtype_size(spec->dtype);
    size_t bytes;
    if (!esize || !kat__size_mul(count, esize, &bytes)) {
      status = kat__fail(eb, KAT_ECONTRACT, "%s: tensor %s has an unsupported type",
                         kat_module_name((kat_module)module), spec->name);
      break;
    }
    void *buf = kat__calloc(1, bytes ? bytes : 1);
    if (!buf) {
      status = kat__fail(eb, KAT_ENOMEM, "out of memory");
      break;
    }
    bufs[nbuf++] = buf;
    if (is_in && strcmp(spec->name, "point_coords") == 0 && spec->dtype == KAT_DT_F32) {
      float *pc = buf; /* [1,2,2] f32: a box's corners in S x S pixels */
      float sz = (float)m->image_size;
      if (count >= 4) {
        pc[0] = sz * 0.3f;
        pc[1] = sz * 0.3f;
        pc[2] = sz * 0.6f;
        pc[3] = sz * 0.6f;
      }
    } else if (is_in && strcmp(spec->name, "point_labels") == 0 && spec->dtype == KAT_DT_I32) {
      int32_t *pl = buf; /* [1,2] i32: box corner labels */
      if (count >= 2) {
        pl[0] = 2;
        pl[1] = 3;
      }
    } else if (is_in && strcmp(spec->name, "num_obj_ptr_tokens") == 0 &&
               spec->dtype == KAT_DT_I64) {
      *(int64_t *)buf = (int64_t)m->max_obj_ptrs_in_encoder * (m->hidden_dim / m->mem_dim);
    }
    status = is_in ? kat__session_bind_input(s, i, buf, shape, spec->rank, eb)
                   : kat__session_bind_output(s, i - nin, buf, shape, spec->rank, eb);
  }
  if (status != KAT_OK) goto done;
  for (int i = 0; i < opt->warmup && status == KAT_OK; i++) status = kat__session_run(s, eb);
  if (status != KAT_OK) goto done;
  size_t n = (size_t)opt->iterations;
  samples = kat__malloc(n * sizeof *samples);
  scratch = kat__malloc(n * sizeof *scratch);
  if (!samples || !scratch) {
    status = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    double t0 = kat__now_ms();
    status = kat__session_run(s, eb);
    samples[i] = kat__now_ms() - t0;
    if (status != KAT_OK) goto done;
  }
  status = kat__bench_stats(samples, n, scratch, out);
done:
  kat__session_destroy(s);
  for (int i = 0; i < nbuf; i++) kat__free(bufs[i]);
  kat__free(samples);
  kat__free(scratch);
  return status;
}

/* ---- clips ---- */

/* A decoded clip: frames[0..count) RGB24 and its ground truth. */
typedef struct bench_clip {
  kat__image *frames; /* [count] decoded frames, all the size of frame 0 */
  size_t count;
  kat_eval_seq *gt; /* groundtruth.txt (+ flags) and masks/ of the folder */
} bench_clip;

static void clip_cleanup(bench_clip *c) {
  for (size_t i = 0; c->frames && i < c->count; i++) kat__image_cleanup(&c->frames[i]);
  kat__free(c->frames);
  kat_eval_seq_destroy(c->gt);
  memset(c, 0, sizeof *c);
}

/* Loads the first `max_frames` frames of clip folder `dir` and its ground truth. */
static int clip_load(const char *dir, size_t max_frames, bench_clip *c, char *err,
                     size_t err_size) {
  memset(c, 0, sizeof *c);
  kat_errbuf eb;
  kat__errbuf_clear(&eb);
  kat__file_list files = {0};
  char img[4200];
  int status = kat_eval_seq_load_results(dir, 0, &c->gt, err, err_size);
  if (status != KAT_OK) return status;
  if (!kat_eval_seq_has_boxes(c->gt)) {
    status = kat__eval_error(err, err_size, KAT_EINVAL, "%s: no groundtruth.txt", dir);
    goto fail;
  }
  snprintf(img, sizeof img, "%s/img", dir);
  status = kat__image_dir_list(img, &files, &eb);
  if (status != KAT_OK || files.count < 2) {
    status = kat__eval_error(err, err_size, status != KAT_OK ? status : KAT_EINVAL,
                             "%s: need at least 2 frames in img/ (%s)", dir, eb.msg);
    goto fail;
  }
  c->count = files.count < max_frames ? files.count : max_frames;
  c->frames = kat__calloc(c->count, sizeof *c->frames);
  if (!c->frames) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < c->count; i++) {
    status = kat__image_read(files.paths[i], &c->frames[i], &eb);
    if (status == KAT_OK &&
        (c->frames[i].width != c->frames[0].width || c->frames[i].height != c->frames[0].height))
      status = kat__fail(&eb, KAT_EFORMAT, "%s: size differs from the first frame", files.paths[i]);
    if (status != KAT_OK) {
      kat__eval_error(err, err_size, status, "%s", eb.msg);
      goto fail;
    }
  }
  kat__file_list_cleanup(&files);
  return KAT_OK;
fail:
  kat__file_list_cleanup(&files);
  clip_cleanup(c);
  return status;
}

/* IoU of a tracker mask ([h, stride] u8, non-zero = object) with a [h, w] 0/1 mask. */
static double result_mask_iou(const kat_track_result *r, const kat__mask_buf *gt) {
  size_t inter = 0, uni = 0;
  for (size_t y = 0; y < gt->h; y++) {
    const uint8_t *a = r->mask + y * r->mask_stride;
    const uint8_t *b = gt->data + y * gt->w;
    for (size_t x = 0; x < gt->w; x++) {
      int fa = a[x] != 0, fb = b[x] != 0;
      inter += (size_t)(fa & fb);
      uni += (size_t)(fa | fb);
    }
  }
  return uni ? (double)inter / (double)uni : 1.0;
}

/* ---- the run ---- */

static void copy_err(char *err, size_t err_size, const char *msg) {
  if (err && err_size) kat__strlcpy(err, msg, err_size);
}

int kat_bench_run(const kat_bench_options *opt, kat_bench_report *out, char *err, size_t err_size) {
  kat_errbuf eb;
  kat__errbuf_clear(&eb);
  if (!opt || !out || !opt->bundle_dir || opt->frames < 2 || opt->iterations < 1 ||
      opt->warmup < 0 || opt->width < 32 || opt->height < 32 || opt->width > 8192 ||
      opt->height > 8192) {
    copy_err(err, err_size, "bench: invalid options (need a bundle, frames >= 2, iterations >= 1)");
    return KAT_EINVAL;
  }
  memset(out, 0, sizeof *out);
  out->miou = NAN;
  const char *mode = opt->mode ? opt->mode : "exact";
  if (strcmp(mode, "exact") != 0 && strcmp(mode, "fast") != 0)
    return kat__eval_error(err, err_size, KAT_EINVAL, "bench: unknown mode '%s'", mode);
  kat__strlcpy(out->preset, opt->preset ? opt->preset : "cpu", sizeof out->preset);
  kat__strlcpy(out->mode, mode, sizeof out->mode);
  kat_bench_machine(out->machine, sizeof out->machine);

  kat_tracker_options topt;
  kat_tracker_options_init(&topt);
  int status = kat_ep_profile_preset(out->preset, &topt.ep);
  if (status != KAT_OK)
    return kat__eval_error(err, err_size, status, "bench: unknown preset '%s'", out->preset);
  if (opt->intra_op_threads > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", opt->intra_op_threads);
    kat_ep_profile_set(&topt.ep, -1, "intra_op_threads", v);
  }
  if (strcmp(mode, "fast") == 0) {
    topt.box_mode = KAT_BOX_FAST;
    topt.fast_resize = 1;
  }
  topt.verify_hashes = 0; /* hashing the files would be timed as init */

  /* Steps: `warmup` untimed ones, then `frames` timed ones (fewer when a clip is shorter). */
  size_t warm = (size_t)opt->warmup, nf = (size_t)opt->frames;
  bench_clip clip = {0};
  uint8_t *rgb = NULL;
  double *step_ms = NULL, *scratch = NULL;
  kat_eval_box *boxes = NULL;
  kat__mask_buf gtm = {0};
  kat_tracker *t = NULL;
  kat__bundle *b = NULL;
  int width = opt->width, height = opt->height;
  if (opt->clip_dir) {
    status = clip_load(opt->clip_dir, warm + nf + 1, &clip, err, err_size);
    if (status != KAT_OK) return status;
    if (clip.count - 1 <= warm) {
      kat__eval_error(err, err_size, KAT_EINVAL, "bench: the clip has %zu frames, warmup is %zu",
                      clip.count, warm);
      status = KAT_EINVAL;
      goto done;
    }
    nf = clip.count - 1 - warm;
    width = clip.frames[0].width;
    height = clip.frames[0].height;
    topt.want_masks = kat_eval_seq_has_masks(clip.gt);
    topt.num_frames = (int64_t)clip.count;
  } else {
    rgb = kat__malloc((size_t)width * (size_t)height * 3);
  }
  size_t steps = warm + nf;
  step_ms = kat__malloc(nf * sizeof *step_ms);
  scratch = kat__malloc(nf * sizeof *scratch);
  boxes = kat__malloc((steps + 1) * sizeof *boxes);
  if ((!opt->clip_dir && !rgb) || !step_ms || !scratch || !boxes) {
    status = KAT_ENOMEM;
    copy_err(err, err_size, "bench: out of memory");
    goto done;
  }

  /* Init: cold (first create in the process), then warm (second). */
  double t0 = kat__now_ms();
  status = kat_tracker_create(opt->bundle_dir, &topt, &t, err, err_size);
  out->init_cold_ms = kat__now_ms() - t0;
  if (status != KAT_OK) goto done;
  kat_tracker_destroy(t);
  t = NULL;
  t0 = kat__now_ms();
  status = kat_tracker_create(opt->bundle_dir, &topt, &t, err, err_size);
  out->init_warm_ms = kat__now_ms() - t0;
  if (status != KAT_OK) goto done;

  /* End to end. */
  kat_frame fr;
  memset(&fr, 0, sizeof fr);
  fr.format = KAT_PIXEL_RGB24;
  fr.width = width;
  fr.height = height;
  fr.stride[0] = (size_t)width * 3;
  kat_track_result res;
  double box[4];
  if (opt->clip_dir) {
    kat_eval_box g;
    if (kat_eval_seq_box(clip.gt, 0, &g) != 1) {
      status = kat__eval_error(err, err_size, KAT_EINVAL, "%s: frame 0 has no ground-truth box",
                               opt->clip_dir);
      goto done;
    }
    box[0] = g.x;
    box[1] = g.y;
    box[2] = g.w;
    box[3] = g.h;
    fr.data[0] = clip.frames[0].data;
  } else {
    synth_frame(rgb, width, height, 0);
    synth_box(0, width, height, box);
    fr.data[0] = rgb;
  }
  status = kat_tracker_start(t, &fr, box, &res);
  if (status != KAT_OK) {
    copy_err(err, err_size, kat_tracker_last_error(t));
    goto done;
  }
  boxes[0].x = res.box[0];
  boxes[0].y = res.box[1];
  boxes[0].w = res.box[2];
  boxes[0].h = res.box[3];
  double host_sum = 0.0, step_sum = 0.0, mask_sum = 0.0, aside_ms = 0.0;
  double loop0 = 0.0;
  for (size_t i = 0; i < steps; i++) {
    if (i == warm) loop0 = kat__now_ms();
    if (opt->clip_dir) {
      fr.data[0] = clip.frames[i + 1].data;
    } else {
      synth_frame(rgb, width, height, (int)(i + 1));
    }
    fr.index = (int64_t)(i + 1);
    double s0 = kat__now_ms();
    status = kat_tracker_step(t, &fr, &res);
    double ms = kat__now_ms() - s0;
    if (status != KAT_OK) {
      copy_err(err, err_size, kat_tracker_last_error(t));
      goto done;
    }
    boxes[i + 1].x = res.box[0];
    boxes[i + 1].y = res.box[1];
    boxes[i + 1].w = res.box[2];
    boxes[i + 1].h = res.box[3];
    /* Mask scoring reads a PNG: kept out of the wall-clock loop time. */
    const char *gp = opt->clip_dir ? kat_eval_seq_mask_path(clip.gt, i + 1) : NULL;
    if (gp && res.mask) {
      double a0 = kat__now_ms();
      char merr[512];
      status = kat__mask_read_png(gp, 0, &gtm, merr, sizeof merr);
      if (status == KAT_OK && (gtm.w != (size_t)res.mask_width || gtm.h != (size_t)res.mask_height))
        status =
            kat__eval_error(merr, sizeof merr, KAT_EFORMAT, "%s: size differs from the frame", gp);
      if (status != KAT_OK) {
        copy_err(err, err_size, merr);
        goto done;
      }
      mask_sum += result_mask_iou(&res, &gtm);
      out->mask_frames++;
      aside_ms += kat__now_ms() - a0;
    }
    if (i < warm) continue;
    step_ms[i - warm] = ms;
    double mod = 0.0;
    for (int m = 0; m < KAT_MODULE_COUNT; m++) mod += res.timings.module_ms[m];
    host_sum += ms > mod ? ms - mod : 0.0;
    step_sum += ms;
  }
  double loop_ms = kat__now_ms() - loop0 - aside_ms;
  out->wall_fps = loop_ms > 0.0 ? 1000.0 * (double)nf / loop_ms : 0.0;
  kat__bench_stats(step_ms, nf, scratch, &out->frame);
  out->fps_p50 = out->frame.p50 > 0.0 ? 1000.0 / out->frame.p50 : 0.0;
  out->host_overhead_ratio = step_sum > 0.0 ? host_sum / step_sum : 0.0;
  out->throttled = kat_bench_throttle_check(step_ms, nf, &out->throttle_ratio);
  out->peak_rss_mb = peak_rss_mb();
  kat_tracker_destroy(t);
  t = NULL;

  if (opt->clip_dir) {
    /* Box scores of frames 0..steps against the clip's ground truth (katana/eval.h rules). */
    size_t n_gt = kat_eval_seq_frames(clip.gt);
    if (n_gt > steps + 1) n_gt = steps + 1;
    kat_eval_box *gtb = kat__malloc(n_gt * sizeof *gtb);
    double *work = kat__malloc(3 * n_gt * sizeof *work);
    if (!gtb || !work) {
      kat__free(gtb);
      kat__free(work);
      status = KAT_ENOMEM;
      copy_err(err, err_size, "bench: out of memory");
      goto done;
    }
    for (size_t i = 0; i < n_gt; i++) kat_eval_seq_box(clip.gt, i, &gtb[i]);
    kat_eval_options eo;
    kat_eval_options_default(&eo);
    kat_eval_score sc;
    memset(&sc, 0, sizeof sc);
    kat__score_boxes(boxes, steps + 1, gtb, n_gt, &eo, work, NULL, &sc);
    kat__free(gtb);
    kat__free(work);
    out->has_accuracy = 1;
    out->scored_frames = sc.box_frames;
    out->auc = sc.auc;
    out->precision_20 = sc.precision_20;
    out->norm_precision = sc.norm_precision_020;
    out->mean_box_iou = sc.mean_box_iou;
    if (out->mask_frames) out->miou = mask_sum / (double)out->mask_frames;
  }

  /* Each module alone. */
  if (!opt->skip_modules) {
    kat__bundle_options bo;
    kat__bundle_options_init(&bo);
    bo.verify_hashes = false;
    status = kat__bundle_open(opt->bundle_dir, &bo, &b, &eb);
    if (status != KAT_OK) {
      copy_err(err, err_size, eb.msg);
      goto done;
    }
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      if (!kat__bundle_has_module(b, m)) continue;
      status = time_module(b, m, &topt.ep.module[m], topt.ep.fallback, opt, &out->module[m], &eb);
      if (status != KAT_OK) {
        copy_err(err, err_size, eb.msg);
        goto done;
      }
      out->module_ran[m] = 1;
    }
  }
  status = KAT_OK;
done:
  kat_tracker_destroy(t);
  kat__bundle_destroy(b);
  clip_cleanup(&clip);
  kat__mask_buf_cleanup(&gtm);
  kat__free(rgb);
  kat__free(step_ms);
  kat__free(scratch);
  kat__free(boxes);
  return status;
}
