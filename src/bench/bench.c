/*
 * Benchmarking (src/bench/bench.h): latency statistics, the throttling check, and
 * kat__bench_run, which times each ONNX module alone and the tracker end to end.
 *
 * Isolated module runs use their own session per module (kat__bundle_create_session with the
 * preset's provider config) with every input and fixed-shape output bound to buffers allocated
 * once, so a timed run is exactly one ONNX Runtime Run(). Inputs take the steady-state tracking
 * shapes: `memory` holds num_maskmem spatial blocks of H*W tokens plus the object-pointer tokens
 * (max_obj_ptrs_in_encoder pointers of C/Cm tokens each), the decoder gets a box (2 points).
 * Values are zero except prompt coordinates and labels; the graphs have no data-dependent
 * control flow, so the values do not change the work done.
 *
 * The end-to-end part pushes frames into a stream (katana/stream.h, push mode): a synthetic clip
 * (a textured square moving over a textured background, generated in a reused buffer,
 * deterministic) or a clip folder decoded beforehand. "seq" mode pushes a frame and takes its
 * result on the calling thread; "pipe" mode pushes from a producer thread (blocking while the
 * pipeline is full, like a file source) and takes results on the calling thread. The JSON and
 * HTML writers are in report_json.c and report_html.c.
 */
#include "bench/bench.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>

#include "core/core.h"
#include "tools/eval/metrics.h"
#include "tools/onnx/onnx.h"
#include "tools/eval/results.h"
#include "tools/eval/eval.h"
#include "katana/media.h"
#include "katana/stream.h"
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

double kat__median(const double *v, size_t n, double *scratch) {
  memcpy(scratch, v, n * sizeof *scratch);
  qsort(scratch, n, sizeof *scratch, cmp_double);
  return kat__percentile_sorted(scratch, n, 50.0);
}

int kat__bench_stats_into(const double *samples, size_t n, double *scratch, kat__bench_stats *out) {
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

int kat__bench_stats_compute(const double *samples, size_t n, kat__bench_stats *out) {
  if (!samples || !out || n == 0) {
    if (out) memset(out, 0, sizeof *out);
    return KAT_EINVAL;
  }
  size_t bytes;
  double *scratch;
  if (!kat__size_mul(n, sizeof(double), &bytes) || !(scratch = kat__malloc(bytes)))
    return KAT_ENOMEM;
  int status = kat__bench_stats_into(samples, n, scratch, out);
  kat__free(scratch);
  return status;
}

int kat__bench_throttle_check(const double *samples, size_t n, double *ratio) {
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

void kat__bench_machine(char *buf, size_t size) {
  if (!buf || !size) return;
  kat_system_info info;
  if (kat_system_info_get(&info) != KAT_OK) {
    snprintf(buf, size, "unknown machine");
    return;
  }
  snprintf(buf, size, "%s, %d cores, GPU: %s", info.cpu_model[0] ? info.cpu_model : "unknown CPU",
           info.logical_cores, info.gpu[0] ? info.gpu : "none");
}

const char *kat__bench_stage_name(int stage) {
  if (stage == KAT_BENCH_STAGE_PREPROCESS) return "preprocess";
  if (stage == KAT_BENCH_STAGE_HOST) return "host";
  if (stage > 0 && stage <= KAT_MODULE_COUNT) return kat_module_name((kat_module)(stage - 1));
  return "?";
}

void kat__bench_options_init(kat__bench_options *o) {
  memset(o, 0, sizeof *o);
  o->preset = "cpu";
  o->mode = "seq";
  o->prep = "exact";
  o->repeat = 1;
  o->warmup = 3;
  o->iterations = 20;
  o->frames = 60;
  o->width = 640;
  o->height = 360;
  o->objects = 1;
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
static size_t resolve_shape(const kat__tensor_spec *spec, const kat__manifest *m, int64_t *shape) {
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
                       kat_ep_fallback fallback, const kat__bench_options *opt,
                       kat__bench_stats *out, kat__errbuf *eb) {
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
    const kat__tensor_spec *spec =
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
  status = kat__bench_stats_into(samples, n, scratch, out);
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
  kat__eval_seq *gt;    /* groundtruth.txt (+ flags) and masks/ of the folder */
  kat__mask_buf *masks; /* [count] ground-truth masks, decoded before timing (w = 0: none) */
} bench_clip;

static void clip_cleanup(bench_clip *c) {
  for (size_t i = 0; c->frames && i < c->count; i++) kat__image_cleanup(&c->frames[i]);
  for (size_t i = 0; c->masks && i < c->count; i++) kat__mask_buf_cleanup(&c->masks[i]);
  kat__free(c->frames);
  kat__free(c->masks);
  kat__eval_seq_destroy(c->gt);
  memset(c, 0, sizeof *c);
}

/* Loads the first `max_frames` frames of clip folder `dir` and its ground truth. */
static int clip_load(const char *dir, size_t max_frames, bench_clip *c, char *err,
                     size_t err_size) {
  memset(c, 0, sizeof *c);
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  kat__file_list files = {0};
  char img[4200];
  int status = kat__eval_seq_load_results(dir, 0, &c->gt, err, err_size);
  if (status != KAT_OK) return status;
  if (!kat__eval_seq_has_boxes(c->gt)) {
    status = kat__eval_error(err, err_size, KAT_EINVAL, "%s: no groundtruth.txt", dir);
    goto fail;
  }
  /* The frames are in img/ (LaSOT, katana synth) or frames/. */
  snprintf(img, sizeof img, "%s/img", dir);
  struct stat sb;
  if (stat(img, &sb) != 0 || !S_ISDIR(sb.st_mode)) snprintf(img, sizeof img, "%s/frames", dir);
  status = kat__image_dir_list(img, &files, &eb);
  if (status != KAT_OK || files.count < 2) {
    status = kat__eval_error(err, err_size, status != KAT_OK ? status : KAT_EINVAL,
                             "%s: need at least 2 frames in img/ or frames/ (%s)", dir, eb.msg);
    goto fail;
  }
  c->count = files.count < max_frames ? files.count : max_frames;
  c->frames = kat__calloc(c->count, sizeof *c->frames);
  c->masks = kat__calloc(c->count, sizeof *c->masks);
  if (!c->frames || !c->masks) {
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
    const char *gp = kat__eval_seq_mask_path(c->gt, i);
    if (i > 0 && gp) {
      status = kat__mask_read_png(gp, 0, &c->masks[i], err, err_size);
      if (status == KAT_OK && (c->masks[i].w != (size_t)c->frames[0].width ||
                               c->masks[i].h != (size_t)c->frames[0].height))
        status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: size differs from the frame", gp);
      if (status != KAT_OK) goto fail;
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

/* ---- end to end ---- */

static void copy_err(char *err, size_t err_size, const char *msg) {
  if (err && err_size) kat__strlcpy(err, msg, err_size);
}

/* One end-to-end run on one stream. The producer side (make_frame, t_push) belongs to the
 * producer thread in "pipe" mode; everything else to the caller of kat__bench_run. */
typedef struct e2e_run {
  kat_stream *s;
  const bench_clip *clip; /* NULL: synthetic frames */
  uint8_t *rgb;           /* [h, w*3] u8 RGB24: the synthetic frame being pushed */
  int width, height;
  size_t total;   /* frames pushed: 1 (start) + warmup + timed */
  double *t_push; /* [total] kat__now_ms() before each push */
  int push_status;
} e2e_run;

static void make_frame(e2e_run *r, size_t i, kat_frame *fr) {
  memset(fr, 0, sizeof *fr);
  fr->format = KAT_PIXEL_RGB24;
  fr->width = r->width;
  fr->height = r->height;
  fr->stride[0] = (size_t)r->width * 3;
  fr->index = (int64_t)i;
  if (r->clip) {
    fr->data[0] = r->clip->frames[i].data;
  } else {
    synth_frame(r->rgb, r->width, r->height, (int)i);
    fr->data[0] = r->rgb;
  }
}

static void *producer_main(void *arg) {
  e2e_run *r = arg;
  kat_frame fr;
  for (size_t i = 0; i < r->total; i++) {
    make_frame(r, i, &fr);
    r->t_push[i] = kat__now_ms();
    int rc = kat_stream_push(r->s, &fr);
    if (rc != KAT_OK) {
      r->push_status = rc;
      break;
    }
  }
  kat_stream_end(r->s);
  return NULL;
}

/* Everything kat__bench_run allocates, freed at its end. */
typedef struct bench_work {
  bench_clip clip;
  uint8_t *rgb;
  double *t_push, *t_res; /* [total] */
  double *latency;        /* [repeat * timed] */
  double *scratch;        /* [repeat * timed] */
  kat__eval_box *boxes;   /* [total] boxes of the first repeat */
  kat_track_result *res;  /* [objects] the records of one frame */
  kat__bundle *b;
  kat_stream *s;
} bench_work;

static void report_progress(const kat__bench_options *opt, const char *phase, size_t done,
                            size_t total) {
  if (opt->progress) opt->progress(opt->progress_user, phase, done, total);
}

/*
 * Runs repeat `rep` on the open stream w->s: pushes r->total frames, takes every result, and
 * fills out->frame_ms[rep*nf ..], w->latency[rep*nf ..], stage sums and the repeat's FPS.
 */
static int run_repeat(const kat__bench_options *opt, bench_work *w, e2e_run *r, int pipe, int rep,
                      size_t warm, size_t nf, double stage_sum[KAT_BENCH_STAGE_COUNT],
                      double *mask_sum, kat__bench_report *out, char *err, size_t err_size) {
  pthread_t th;
  int started = 0, status = KAT_OK;
  r->push_status = KAT_OK;
  if (pipe) {
    if (pthread_create(&th, NULL, producer_main, r) != 0)
      return kat__eval_error(err, err_size, KAT_EINTERNAL, "bench: cannot start a thread");
    started = 1;
  }
  double *fms = out->frame_ms + (size_t)rep * nf, *lat = w->latency + (size_t)rep * nf;
  double aside_total = 0.0, aside_prev = 0.0;
  size_t all = (size_t)out->repeat * r->total;
  const int nobj = out->objects;
  kat_track_result *const recs = w->res;
  kat_frame fr;
  size_t k = 0;
  for (;;) {
    if (!pipe) {
      if (k >= r->total) break;
      make_frame(r, k, &fr);
      r->t_push[k] = kat__now_ms();
      status = kat_stream_push(w->s, &fr);
      if (status != KAT_OK) {
        kat__eval_error(err, err_size, status, "bench: push: %s", kat_status_name(status));
        break;
      }
    }
    /* Pipelined, the producer is another thread: wait for its pushes. */
    int count = 1;
    if (nobj > 1)
      status = kat_stream_next_objects(w->s, recs, nobj, &count, pipe ? -1 : 0);
    else
      status = pipe ? kat_stream_next_timeout(w->s, recs, -1) : kat_stream_next(w->s, recs);
    double now = kat__now_ms();
    if (count > nobj) count = nobj;
    const kat_track_result res = recs[0]; /* object 0: scored against the clip */
    if (status == KAT_EOF) {
      status = KAT_OK;
      break;
    }
    if (status != KAT_OK) {
      copy_err(err, err_size, kat_stream_last_error(w->s));
      break;
    }
    if (k >= r->total) {
      status = kat__eval_error(err, err_size, KAT_EINTERNAL, "bench: more results than frames");
      break;
    }
    w->t_res[k] = now;
    if (k > warm) {
      size_t j = k - warm - 1;
      double ms = pipe ? now - w->t_res[k - 1] - aside_prev : now - r->t_push[k];
      fms[j] = ms > 0.0 ? ms : 0.0;
      lat[j] = now - r->t_push[k];
      /* Preprocessing and the image encoder run once per frame (every record carries them);
       * the other modules and the host work once per object. */
      stage_sum[KAT_BENCH_STAGE_PREPROCESS] += res.timings.preprocess_ms;
      stage_sum[1 + KAT_MODULE_IMAGE_ENCODER] += res.timings.module_ms[KAT_MODULE_IMAGE_ENCODER];
      for (int o = 0; o < count; o++) {
        const kat_track_timings *tm = &recs[o].timings;
        for (int m = 0; m < KAT_MODULE_COUNT; m++)
          if (m != KAT_MODULE_IMAGE_ENCODER) stage_sum[1 + m] += tm->module_ms[m];
        stage_sum[KAT_BENCH_STAGE_HOST] += tm->host_ms > 0.0 ? tm->host_ms : 0.0;
      }
    }
    aside_prev = 0.0;
    if (rep == 0 && r->clip) {
      /* Scoring: boxes now, mask IoU against the decoded ground truth (kept out of the times). */
      w->boxes[k].x = res.box[0];
      w->boxes[k].y = res.box[1];
      w->boxes[k].w = res.box[2];
      w->boxes[k].h = res.box[3];
      const kat__mask_buf *gm = &r->clip->masks[k];
      if (k > 0 && gm->w && res.mask) {
        double a0 = kat__now_ms();
        *mask_sum += result_mask_iou(&res, gm);
        out->mask_frames++;
        aside_prev = kat__now_ms() - a0;
        /* Inside the timed wall clock: between the results of frames warm and warm + nf. */
        if (k >= warm && k < warm + nf) aside_total += aside_prev;
      }
    }
    k++;
    report_progress(opt, "frames", (size_t)rep * r->total + k, all);
  }
  if (status != KAT_OK) kat_stream_cancel(w->s);
  if (started) pthread_join(th, NULL);
  if (status == KAT_OK && r->push_status != KAT_OK) {
    status = r->push_status;
    kat__eval_error(err, err_size, status, "bench: push: %s", kat_status_name(status));
  }
  if (status == KAT_OK && k != r->total)
    status =
        kat__eval_error(err, err_size, KAT_EINTERNAL, "bench: %zu of %zu results", k, r->total);
  if (status != KAT_OK) return status;
  double wall = w->t_res[warm + nf] - w->t_res[warm] - aside_total;
  out->repeat_wall_fps[rep] = wall > 0.0 ? 1000.0 * (double)nf / wall : 0.0;
  double med = kat__median(fms, nf, w->scratch);
  out->repeat_fps_p50[rep] = med > 0.0 ? 1000.0 / med : 0.0;
  return KAT_OK;
}

/* ---- the run ---- */

/* Objects 1..n-1 on frame 0: boxes of a sixth of the short side on a 4 x 2 grid over the frame
 * (shifted by a quarter cell each further round of 8), so they overlap neither each other nor
 * much of the frame. */
static int add_objects(kat_stream *s, int n, int width, int height, char *err, size_t err_size) {
  const double side = (width < height ? width : height) / 6.0;
  for (int k = 1; k < n; k++) {
    const int cell = k % 8, round = k / 8;
    kat_prompt p;
    kat_prompt_init(&p);
    p.has_box = 1;
    p.box[0] = width * ((cell % 4) + 0.25 + 0.25 * (round % 2)) / 4.0;
    p.box[1] = height * ((cell / 4) + 0.25 + 0.25 * ((round / 2) % 2)) / 2.0;
    p.box[2] = side;
    p.box[3] = side;
    int rc = kat_stream_add_prompt(s, k, 0, &p);
    if (rc)
      return kat__eval_error(err, err_size, rc, "bench: object %d: %s", k,
                             kat_stream_prompt_error(s));
  }
  return KAT_OK;
}

/* The end-to-end summary of every repeat: frame-time and latency statistics (scratch: [nall]
 * doubles), FPS, run-to-run spread, per-stage means and shares, peak RSS and throttling. */
static void summarize_e2e(const double *latency, double *scratch, size_t reps, size_t nall,
                          const double *stage_sum, kat__bench_report *out) {
  out->peak_rss_mb = peak_rss_mb();
  kat__bench_stats_into(out->frame_ms, nall, scratch, &out->frame);
  kat__bench_stats_into(latency, nall, scratch, &out->latency);
  out->fps_p50 = out->frame.p50 > 0.0 ? 1000.0 / out->frame.p50 : 0.0;
  out->wall_fps = kat__median(out->repeat_wall_fps, reps, scratch);
  if (reps > 1 && out->wall_fps > 0.0) {
    double lo = out->repeat_wall_fps[0], hi = lo;
    for (size_t i = 1; i < reps; i++) {
      if (out->repeat_wall_fps[i] < lo) lo = out->repeat_wall_fps[i];
      if (out->repeat_wall_fps[i] > hi) hi = out->repeat_wall_fps[i];
    }
    out->wall_fps_spread = (hi - lo) / out->wall_fps;
  }
  double stage_total = 0.0;
  for (int i = 0; i < KAT_BENCH_STAGE_COUNT; i++) {
    out->stage_ms[i] = stage_sum[i] / (double)nall;
    stage_total += out->stage_ms[i];
  }
  for (int i = 0; i < KAT_BENCH_STAGE_COUNT; i++)
    out->stage_share[i] = stage_total > 0.0 ? out->stage_ms[i] / stage_total : 0.0;
  out->throttled = kat__bench_throttle_check(out->frame_ms, nall, &out->throttle_ratio);
}

/* Box scores of frames 0..total-1 of the first repeat (boxes: [total]) against the clip's ground
 * truth, and the mean mask IoU from mask_sum; KAT_OK or KAT_ENOMEM. */
static int score_clip(const bench_clip *clip, const kat__eval_box *boxes, size_t total,
                      double mask_sum, kat__bench_report *out, char *err, size_t err_size) {
  /* Box scores of frames 0..total-1 of the first repeat (tools/eval/eval.h rules). */
  size_t n_gt = kat__eval_seq_frames(clip->gt);
  if (n_gt > total) n_gt = total;
  kat__eval_box *gtb = kat__malloc(n_gt * sizeof *gtb);
  double *work = kat__malloc(3 * n_gt * sizeof *work);
  if (!gtb || !work) {
    kat__free(gtb);
    kat__free(work);
    return kat__eval_error(err, err_size, KAT_ENOMEM, "bench: out of memory");
  }
  for (size_t i = 0; i < n_gt; i++) kat__eval_seq_box(clip->gt, i, &gtb[i]);
  kat__eval_options eo;
  kat__eval_options_default(&eo);
  kat__eval_score sc;
  memset(&sc, 0, sizeof sc);
  kat__score_boxes(boxes, total, gtb, n_gt, &eo, work, NULL, &sc);
  kat__free(gtb);
  kat__free(work);
  out->has_accuracy = 1;
  out->scored_frames = sc.box_frames;
  out->auc = sc.auc;
  out->precision_20 = sc.precision_20;
  out->norm_precision = sc.norm_precision_020;
  out->mean_box_iou = sc.mean_box_iou;
  if (out->mask_frames) out->miou = mask_sum / (double)out->mask_frames;
  return KAT_OK;
}

/* Each module alone, with the same session options as the end-to-end part (*b: the bundle, owned
 * by the caller once opened); fills out->module and the host overhead ratio. */
static int time_modules(const kat__bench_options *opt, const kat_ep_profile *ep, kat__bundle **b,
                        kat__bench_report *out, char *err, size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  kat__bundle_options bo;
  kat__bundle_options_init(&bo);
  bo.verify_hashes = false;
  int status = kat__bundle_open(opt->bundle_dir, &bo, b, &eb);
  if (status != KAT_OK) {
    copy_err(err, err_size, eb.msg);
    return status;
  }
  size_t per = (size_t)opt->warmup + (size_t)opt->iterations, nmod = 0, done_units = 0;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) nmod += kat__bundle_has_module(*b, m) ? 1 : 0;
  double p50_sum = 0.0;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    if (!kat__bundle_has_module(*b, m)) continue;
    report_progress(opt, "modules", done_units, nmod * per);
    status = time_module(*b, m, &ep->module[m], ep->fallback, opt, &out->module[m], &eb);
    if (status != KAT_OK) {
      copy_err(err, err_size, eb.msg);
      return status;
    }
    out->module_ran[m] = 1;
    /* The image encoder runs once per frame, the other modules once per object. */
    p50_sum += out->module[m].p50 * (m == KAT_MODULE_IMAGE_ENCODER ? 1 : out->objects);
    done_units += per;
  }
  report_progress(opt, "modules", done_units, nmod * per);
  if (p50_sum > 0.0) out->host_overhead_ratio = out->frame.p50 / p50_sum;
  return KAT_OK;
}

/*
 * Long (about 190 lines) for one reason: it owns every resource of a run (stream, bundle, clip,
 * timing buffers) under one cleanup ladder. The phases are helpers: run_repeat (one end-to-end
 * repeat), summarize_e2e, score_clip and time_modules; what is left is option checking, the
 * session options and the buffers. Next step: a setup function that fills bench_work.
 */
int kat__bench_run(const kat__bench_options *opt, kat__bench_report *out, char *err,
                   size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  if (out) memset(out, 0, sizeof *out);
  if (!opt || !out || !opt->bundle_dir || opt->frames < 2 || opt->iterations < 1 ||
      opt->warmup < 0 || opt->repeat < 1 || opt->repeat > KAT_BENCH_MAX_REPEAT || opt->width < 32 ||
      opt->height < 32 || opt->width > 8192 || opt->height > 8192 || opt->objects < 1 ||
      opt->objects > KAT_BENCH_MAX_OBJECTS) {
    copy_err(err, err_size,
             "bench: invalid options (need a bundle, frames >= 2, iterations >= 1, "
             "repeat 1..64, objects 1..64)");
    return KAT_EINVAL;
  }
  out->miou = NAN;
  out->host_overhead_ratio = NAN;
  const char *mode = opt->mode ? opt->mode : "seq";
  const char *prep = opt->prep ? opt->prep : "exact";
  if (strcmp(mode, "seq") != 0 && strcmp(mode, "pipe") != 0)
    return kat__eval_error(err, err_size, KAT_EINVAL, "bench: unknown mode '%s' (seq or pipe)",
                           mode);
  if (strcmp(prep, "exact") != 0 && strcmp(prep, "fast") != 0)
    return kat__eval_error(err, err_size, KAT_EINVAL,
                           "bench: unknown preprocessing '%s' (exact or fast)", prep);
  int pipe = strcmp(mode, "pipe") == 0;
  kat__strlcpy(out->preset, opt->preset ? opt->preset : "cpu", sizeof out->preset);
  kat__strlcpy(out->mode, mode, sizeof out->mode);
  kat__strlcpy(out->prep, prep, sizeof out->prep);
  kat__strlcpy(out->bundle, opt->bundle_dir, sizeof out->bundle);
  if (opt->model_name) {
    kat__strlcpy(out->model, opt->model_name, sizeof out->model);
  } else {
    /* The bundle folder's last component, trailing slashes ignored. */
    size_t len = strlen(opt->bundle_dir);
    while (len > 1 && opt->bundle_dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && opt->bundle_dir[start - 1] != '/') start--;
    size_t n = len - start < sizeof out->model - 1 ? len - start : sizeof out->model - 1;
    memcpy(out->model, opt->bundle_dir + start, n);
    out->model[n] = '\0';
  }
  if (opt->clip_dir) kat__strlcpy(out->clip, opt->clip_dir, sizeof out->clip);
  kat__bench_machine(out->machine, sizeof out->machine);
  {
    char perr[256];
    if (kat__onnx_bundle_precision(opt->bundle_dir, out->precision, sizeof out->precision, perr,
                                   sizeof perr) != KAT_OK)
      kat__strlcpy(out->precision, "unknown", sizeof out->precision);
  }
  out->iterations = opt->iterations;
  out->warmup = opt->warmup;
  out->repeat = opt->repeat;
  out->objects = opt->objects;
  out->width = opt->width;
  out->height = opt->height;

  kat_stream_options so;
  kat_stream_options_init(&so);
  so.pipeline = pipe;
  kat_tracker_options *topt = &so.tracker;
  int status = kat_ep_profile_preset(out->preset, &topt->ep);
  if (status != KAT_OK)
    return kat__eval_error(err, err_size, status, "bench: unknown preset '%s'", out->preset);
  char v[16];
  if (opt->intra_op_threads > 0) {
    snprintf(v, sizeof v, "%d", opt->intra_op_threads);
    kat_ep_profile_set(&topt->ep, -1, "intra_op_threads", v);
  } else if (pipe) {
    /* As katana track: the two concurrent stages share the cores, half each. */
    kat_ep_profile_share_cores(&topt->ep, 0, 2);
  }
  snprintf(out->threads, sizeof out->threads, "%d,%d,%d,%d", topt->ep.module[0].intra_op_threads,
           topt->ep.module[1].intra_op_threads, topt->ep.module[2].intra_op_threads,
           topt->ep.module[3].intra_op_threads);
  if (strcmp(prep, "fast") == 0) {
    topt->box_mode = KAT_BOX_FAST;
    topt->fast_resize = 1;
  }
  topt->verify_hashes = 0; /* hashing the files would be timed as init */

  /* Per repeat: frame 0 starts the track, `warmup` untimed frames, then `frames` timed ones
   * (fewer when a clip is shorter). */
  size_t warm = (size_t)opt->warmup, nf = (size_t)opt->frames, reps = (size_t)opt->repeat;
  bench_work w;
  memset(&w, 0, sizeof w);
  e2e_run r;
  memset(&r, 0, sizeof r);
  r.width = opt->width;
  r.height = opt->height;
  double box[4];
  if (opt->clip_dir) {
    status = clip_load(opt->clip_dir, warm + nf + 1, &w.clip, err, err_size);
    if (status != KAT_OK) goto done;
    if (w.clip.count - 1 <= warm) {
      status = kat__eval_error(err, err_size, KAT_EINVAL,
                               "bench: the clip has %zu frames, warmup is %zu", w.clip.count, warm);
      goto done;
    }
    nf = w.clip.count - 1 - warm;
    r.clip = &w.clip;
    r.width = w.clip.frames[0].width;
    r.height = w.clip.frames[0].height;
    out->width = r.width;
    out->height = r.height;
    topt->want_masks = kat__eval_seq_has_masks(w.clip.gt);
    topt->num_frames = (int64_t)w.clip.count;
    kat__eval_box g;
    if (kat__eval_seq_box(w.clip.gt, 0, &g) != 1) {
      status = kat__eval_error(err, err_size, KAT_EINVAL, "%s: frame 0 has no ground-truth box",
                               opt->clip_dir);
      goto done;
    }
    box[0] = g.x;
    box[1] = g.y;
    box[2] = g.w;
    box[3] = g.h;
  } else {
    w.rgb = kat__malloc((size_t)r.width * (size_t)r.height * 3);
    r.rgb = w.rgb;
    synth_box(0, r.width, r.height, box);
  }
  out->frames = (int)nf;
  r.total = 1 + warm + nf;
  size_t nall = reps * nf;
  w.t_push = kat__malloc(r.total * sizeof *w.t_push);
  w.t_res = kat__malloc(r.total * sizeof *w.t_res);
  w.latency = kat__malloc(nall * sizeof *w.latency);
  w.scratch = kat__malloc(nall * sizeof *w.scratch);
  w.boxes = kat__malloc(r.total * sizeof *w.boxes);
  w.res = kat__calloc((size_t)opt->objects, sizeof *w.res);
  out->frame_ms = kat__malloc(nall * sizeof *out->frame_ms);
  if ((!opt->clip_dir && !w.rgb) || !w.t_push || !w.t_res || !w.latency || !w.scratch || !w.boxes ||
      !w.res || !out->frame_ms) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "bench: out of memory");
    goto done;
  }
  out->frame_ms_count = nall;
  r.t_push = w.t_push;

  /* Init: cold (the first stream of the run), then warm (the second, which is measured). */
  report_progress(opt, "init", 0, 2);
  double t0 = kat__now_ms();
  status = kat_stream_open(opt->bundle_dir, NULL, box, &so, &w.s, err, err_size);
  out->init_cold_ms = kat__now_ms() - t0;
  if (status != KAT_OK) goto done;
  kat_stream_close(w.s);
  w.s = NULL;
  report_progress(opt, "init", 1, 2);
  double stage_sum[KAT_BENCH_STAGE_COUNT] = {0};
  double mask_sum = 0.0;
  for (size_t rep = 0; rep < reps; rep++) {
    t0 = kat__now_ms();
    status = kat_stream_open(opt->bundle_dir, NULL, box, &so, &w.s, err, err_size);
    if (rep == 0) {
      out->init_warm_ms = kat__now_ms() - t0;
      report_progress(opt, "init", 2, 2);
    }
    if (status != KAT_OK) goto done;
    if ((status = add_objects(w.s, opt->objects, r.width, r.height, err, err_size))) goto done;
    r.s = w.s;
    status =
        run_repeat(opt, &w, &r, pipe, (int)rep, warm, nf, stage_sum, &mask_sum, out, err, err_size);
    kat_stream_close(w.s);
    w.s = NULL;
    if (status != KAT_OK) goto done;
  }
  summarize_e2e(w.latency, w.scratch, reps, nall, stage_sum, out);

  if (opt->clip_dir &&
      (status = score_clip(&w.clip, w.boxes, r.total, mask_sum, out, err, err_size)) != KAT_OK)
    goto done;

  /* Each module alone, with the same session options as the end-to-end part. */
  if (!opt->skip_modules &&
      (status = time_modules(opt, &topt->ep, &w.b, out, err, err_size)) != KAT_OK)
    goto done;
  status = KAT_OK;
done:
  kat_stream_close(w.s);
  kat__bundle_destroy(w.b);
  clip_cleanup(&w.clip);
  kat__free(w.rgb);
  kat__free(w.t_push);
  kat__free(w.t_res);
  kat__free(w.latency);
  kat__free(w.scratch);
  kat__free(w.boxes);
  kat__free(w.res);
  return status;
}

void kat__bench_report_cleanup(kat__bench_report *r) {
  if (!r) return;
  kat__free(r->frame_ms);
  r->frame_ms = NULL;
  r->frame_ms_count = 0;
}

/* ---- shared by the report writers ---- */

void kat__bench_mode_key(const kat__bench_report *r, char *buf, size_t size) {
  char k[16] = "";
  if (r->objects > 1) snprintf(k, sizeof k, "-k%d", r->objects);
  snprintf(buf, size, "%s%s%s", r->mode, strcmp(r->prep, "fast") == 0 ? "-fast" : "", k);
}

const char *kat__bench_frame_definition(const kat__bench_report *r) {
  return strcmp(r->mode, "pipe") == 0 ? "interval between consecutive results"
                                      : "time from pushing a frame to its result";
}

FILE *kat__bench_open_out(const char *path, char *err, size_t err_size) {
  if (!path) {
    copy_err(err, err_size, "bench: no output path");
    return NULL;
  }
  if (strcmp(path, "-") == 0) return stdout;
  FILE *f = fopen(path, "w");
  if (!f) kat__eval_error(err, err_size, KAT_EIO, "cannot write %s", path);
  return f;
}

int kat__bench_close_out(FILE *f, const char *path, char *err, size_t err_size) {
  int bad = ferror(f);
  if (f == stdout) {
    bad |= fflush(f) != 0;
  } else {
    bad |= fclose(f) != 0;
  }
  if (bad) return kat__eval_error(err, err_size, KAT_EIO, "error writing %s", path);
  return KAT_OK;
}
