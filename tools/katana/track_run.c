/*
 * The per-video tracking run of katana track and katana batch (track_run.h): open, queue the
 * prompts, clear the folder, then one loop over kat_stream_next_objects that writes each
 * object's boxes.txt and results.jsonl lines (one write() each on O_APPEND descriptors, so a
 * killed run leaves only whole lines), masks, tracks.txt and the overlay. Everything that can
 * fail before the first frame (the open, the prompts, the folder, the overlay) comes before the
 * previous run's files are replaced, so such a failure leaves an earlier run's results as they
 * were.
 */
#define _POSIX_C_SOURCE 200809L
#include "track_run.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_fs.h"
#include "cli_overlay.h"
#include "cli_results.h"

static int run_fail(kat_cli_track_outcome *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message into out->error (the first failure wins) and returns `status`. */
static int run_fail(kat_cli_track_outcome *out, int status, const char *fmt, ...) {
  if (out->error[0]) return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->error, sizeof out->error, fmt, ap);
  va_end(ap);
  return status;
}

static int cmp_int(const void *a, const void *b) {
  const int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The sorted distinct object ids of prompts[0..n-1] into ids (n slots); returns how many. */
static int distinct_ids(const kat_prompt_entry *prompts, size_t n, int *ids) {
  for (size_t i = 0; i < n; i++) ids[i] = prompts[i].obj_id;
  qsort(ids, n, sizeof *ids, cmp_int);
  int k = 0;
  for (size_t i = 0; i < n; i++)
    if (k == 0 || ids[k - 1] != ids[i]) ids[k++] = ids[i];
  return k;
}

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Draws the overlay of one result into ov ([h, w*3] u8 RGB24, a copy of the frame). */
static void draw_overlay(uint8_t *ov, int w, int h, const kat_track_result *res) {
  static const uint8_t k_tracked[3] = {255, 64, 32};
  static const uint8_t k_occluded[3] = {255, 210, 0};
  static const uint8_t k_lost[3] = {160, 160, 160};
  const uint8_t *color = res->presence == KAT_PRESENCE_TRACKED    ? k_tracked
                         : res->presence == KAT_PRESENCE_OCCLUDED ? k_occluded
                                                                  : k_lost;
  const size_t stride = (size_t)w * 3;
  if (res->presence == KAT_PRESENCE_TRACKED) {
    float box[4] = {(float)res->box[0], (float)res->box[1], (float)res->box[2], (float)res->box[3]};
    kat_overlay_draw(ov, stride, w, h, res->mask, res->mask_stride, res->box_valid ? box : NULL,
                     color, 0.45f);
  } else {
    /* Occluded or lost: no tint; the Kalman prediction (where SAMURAI expects the object), or
     * the last box, dashed in the state's colour. */
    const double *b = res->has_kf_box ? res->kf_box : res->box;
    if (b[2] > 0 && b[3] > 0) kat_cli_overlay_dashed_box(ov, stride, w, h, b, color);
  }
  char label[96];
  const int empty_mask = res->presence == KAT_PRESENCE_TRACKED && !res->box_valid;
  snprintf(label, sizeof label, "#%lld %s%s %.2f", (long long)res->source_index,
           kat_presence_name(res->presence), empty_mask ? " empty" : "", (double)res->object_score);
  kat_cli_overlay_text(ov, stride, w, h, 4, 4, label, color);
}

/* Several objects: a colour per object (by position in the sorted ids), the state by the box
 * style (tracked: tinted mask and solid box; occluded or lost: dashed), and "id N state score"
 * labels stacked at the top left. */
static void draw_overlay_objects(uint8_t *ov, int w, int h, const kat_track_result *res, int n) {
  static const uint8_t k_palette[8][3] = {{255, 64, 32},   {32, 160, 255}, {64, 220, 64},
                                          {255, 210, 0},   {220, 64, 255}, {0, 230, 210},
                                          {255, 128, 192}, {180, 180, 80}};
  const size_t stride = (size_t)w * 3;
  const int s = h >= 720 ? 3 : h >= 240 ? 2 : 1; /* the glyph scale of kat_cli_overlay_text */
  for (int k = 0; k < n; k++) {
    const kat_track_result *r = &res[k];
    const uint8_t *color = k_palette[(unsigned)r->obj_id % 8u];
    if (r->presence == KAT_PRESENCE_TRACKED) {
      float box[4] = {(float)r->box[0], (float)r->box[1], (float)r->box[2], (float)r->box[3]};
      kat_overlay_draw(ov, stride, w, h, r->mask, r->mask_stride, r->box_valid ? box : NULL, color,
                       0.45f);
    } else {
      const double *b = r->has_kf_box ? r->kf_box : r->box;
      if (b[2] > 0 && b[3] > 0) kat_cli_overlay_dashed_box(ov, stride, w, h, b, color);
    }
  }
  for (int k = 0; k < n; k++) {
    const kat_track_result *r = &res[k];
    char label[96];
    snprintf(label, sizeof label, "id %d %s%s %.2f", r->obj_id, kat_presence_name(r->presence),
             r->presence == KAT_PRESENCE_TRACKED && !r->box_valid ? " empty" : "",
             (double)r->object_score);
    kat_cli_overlay_text(ov, stride, w, h, 4, 4 + k * 8 * s, label,
                         k_palette[(unsigned)r->obj_id % 8u]);
  }
}

/* One object's outputs: DIR itself with one object, DIR/objects/<id> with several. */
typedef struct obj_out {
  int id;
  int fb, fj;       /* boxes.txt, results.jsonl (O_APPEND), -1 when closed */
  int seen;         /* a record came on this frame */
  char dir[4200];   /* the object's results folder */
  char masks[4200]; /* its masks/ folder */
} obj_out;

/* Creates and opens the outputs of every object (after the earlier run's were cleared). */
static int open_objects(const kat_cli_track_job *job, obj_out *outs, int n, int multi,
                        kat_cli_track_outcome *out) {
  for (int k = 0; k < n; k++) {
    obj_out *ob = &outs[k];
    char why[4600];
    if (multi) {
      snprintf(ob->dir, sizeof ob->dir, "%s/objects/%d", job->out_dir, ob->id);
      if (kat_cli_mkdirs(ob->dir) != 0)
        return run_fail(out, 1, "cannot create '%s': %s", ob->dir, strerror(errno));
      if (kat_cli_out_clear(ob->dir, why, sizeof why)) return run_fail(out, 1, "%s", why);
    } else {
      snprintf(ob->dir, sizeof ob->dir, "%s", job->out_dir);
    }
    int len = snprintf(ob->masks, sizeof ob->masks, "%s/masks", ob->dir);
    if (len < 0 || (size_t)len >= sizeof ob->masks)
      return run_fail(out, 1, "the output path '%s' is too long", ob->dir);
    if (job->masks && mkdir(ob->masks, 0777) && errno != EEXIST)
      return run_fail(out, 1, "cannot create '%s': %s", ob->masks, strerror(errno));
    if ((ob->fb = kat_cli_open_out(ob->dir, "boxes.txt", why, sizeof why)) < 0 ||
        (ob->fj = kat_cli_open_out(ob->dir, "results.jsonl", why, sizeof why)) < 0)
      return run_fail(out, 1, "%s", why);
  }
  return 0;
}

/* Where prompt k came from, for messages: "FILE: prompt 3" for a prompts-file prompt. */
static void prompt_where(const kat_cli_track_job *job, size_t k, char *buf, size_t size) {
  const char *o = job->origin[k];
  if (job->prompts_path && strncmp(o, "--prompts ", 10) == 0)
    snprintf(buf, size, "%s: %s", job->prompts_path, o + 10);
  else
    snprintf(buf, size, "%s", o);
}

/* Queues every prompt on the stream. Masks must have the video's size (checked here, as the
 * library checks it only when the prompt applies). 0, or the exit status with the message. */
static int queue_prompts(const kat_cli_track_job *job, kat_stream *st, const kat_source_info *info,
                         kat_cli_track_outcome *out) {
  char where[4200];
  for (size_t k = 0; k < job->n_prompts; k++) {
    const kat_prompt_entry *e = &job->prompts[k];
    prompt_where(job, k, where, sizeof where);
    if (e->prompt.mask && info->width > 0 &&
        (e->prompt.mask_width != info->width || e->prompt.mask_height != info->height))
      return run_fail(out, 2, "%s: the mask is %dx%d, the video %dx%d", where, e->prompt.mask_width,
                      e->prompt.mask_height, info->width, info->height);
    int rc = kat_stream_add_prompt(st, e->obj_id, e->frame, &e->prompt);
    if (rc)
      return run_fail(out, rc == KAT_ENOTSUP || rc == KAT_ERUNTIME || rc == KAT_ENOMEM ? 1 : 2,
                      "%s (frame %lld, object %d): %s: %s", where, (long long)e->frame, e->obj_id,
                      kat_status_name(rc), kat_stream_prompt_error(st));
  }
  return 0;
}

static obj_out *find_obj(obj_out *outs, int n, int id) {
  for (int k = 0; k < n; k++)
    if (outs[k].id == id) return &outs[k];
  return NULL;
}

static int interrupted(const kat_cli_track_job *job) {
  return job->interrupted && job->interrupted(job->ctx);
}

/* Writes frame i's lines for every object: 0, or 1 with the message. */
static int write_frame(const kat_cli_track_job *job, obj_out *outs, int n, int ft, size_t i,
                       const kat_track_result *res, int count, kat_cli_track_outcome *out) {
  kat_cli_line_buf line;
  char err[KAT_ERROR_SIZE];
  int werr = 0;
  for (int k = 0; k < n; k++) outs[k].seen = 0;
  for (int r = 0; r < count; r++) {
    const kat_track_result *rr = &res[r];
    obj_out *ob = find_obj(outs, n, rr->obj_id);
    if (!ob) continue; /* an empty record (obj_id -1): no object on this frame */
    ob->seen = 1;
    if (job->masks && rr->mask &&
        kat_mask_png_write(ob->masks, (int64_t)i, rr->mask, rr->mask_width, rr->mask_height,
                           rr->mask_stride, err, sizeof err))
      return run_fail(out, 1, "%s", err);
    kat_cli_format_box(&line, rr);
    werr |= kat_cli_write_line(ob->fb, &line);
    if (ft >= 0 && rr->box_valid) {
      kat_cli_line_buf tl;
      tl.n = 0;
      tl.overflow = 0;
      kat_cli_lb_printf(&tl, "%zu,%d,%.0f,%.0f,%.0f,%.0f,", i, rr->obj_id, rr->box[0], rr->box[1],
                        rr->box[2], rr->box[3]);
      if (isfinite(rr->object_score))
        kat_cli_lb_printf(&tl, "%.9g\n", (double)rr->object_score);
      else
        kat_cli_lb_printf(&tl, "nan\n");
      werr |= kat_cli_write_line(ft, &tl);
    }
    kat_cli_format_jsonl(&line, rr);
    werr |= kat_cli_write_line(ob->fj, &line);
  }
  /* boxes.txt keeps one line per frame: 0,0,0,0 where the object does not exist (yet). */
  for (int k = 0; k < n; k++) {
    if (outs[k].seen) continue;
    line.n = 0;
    line.overflow = 0;
    kat_cli_lb_printf(&line, "0,0,0,0\n");
    werr |= kat_cli_write_line(outs[k].fb, &line);
  }
  if (werr)
    return run_fail(out, 1, "cannot write the results into '%s': %s", job->out_dir,
                    strerror(errno));
  return 0;
}

/* Copies the kept frame into ov, draws the records and appends it to the overlay video. */
static int write_overlay(const kat_cli_track_job *job, kat_stream *st, kat_video_writer *vw,
                         uint8_t *ov, int multi, const kat_track_result *res, int count,
                         kat_cli_track_outcome *out) {
  const kat_frame *fp = kat_stream_frame(st);
  if (!vw || !fp) return 0;
  for (int y = 0; y < fp->height; y++)
    memcpy(ov + (size_t)y * (size_t)fp->width * 3, fp->data[0] + (size_t)y * fp->stride[0],
           (size_t)fp->width * 3);
  if (multi)
    draw_overlay_objects(ov, fp->width, fp->height, res, count);
  else if (count > 0 && res[0].obj_id >= 0)
    draw_overlay(ov, fp->width, fp->height, &res[0]);
  if (kat_video_writer_write(vw, ov, (size_t)fp->width * 3))
    return run_fail(out, 1, "cannot write the overlay video '%s'", job->overlay);
  return 0;
}

/* The frames the run is expected to give, or <= 0 when unknown. */
static long expected_frames(const kat_cli_track_job *job, const kat_source_info *info) {
  const long max = job->sopt.max_frames > 0 ? (long)job->sopt.max_frames : -1;
  if (info->frame_count <= 0) return max;
  return max > 0 && max < info->frame_count ? max : (long)info->frame_count;
}

/* Opens the stream, queues the prompts, creates the folder and the overlay writer. */
static int run_open(const kat_cli_track_job *job, kat_stream **st, kat_source_info *info,
                    kat_video_writer **vw, uint8_t **ov, kat_cli_track_outcome *out) {
  char err[KAT_ERROR_SIZE];
  const double *box = job->classic ? job->box : NULL;
  int rc =
      job->model
          ? kat_stream_open_on_model(job->model, job->input, box, &job->sopt, st, err, sizeof err)
          : kat_stream_open(job->bundle, job->input, box, &job->sopt, st, err, sizeof err);
  if (rc) return run_fail(out, rc == KAT_EINVAL ? 2 : 1, "%s: %s", kat_status_name(rc), err);
  if (job->on_stream) job->on_stream(job->ctx, *st);
  if (interrupted(job)) { /* interrupted while the models loaded */
    out->interrupted = 1;
    return 0;
  }
  kat_stream_source_info(*st, info);
  if (!job->classic && (rc = queue_prompts(job, *st, info, out))) return rc;
  if (kat_cli_mkdirs(job->out_dir) != 0)
    return run_fail(out, 1, "cannot create '%s': %s", job->out_dir, strerror(errno));
  if (job->overlay) {
    double fps = info->fps > 0 ? info->fps : 30.0;
    *ov = malloc((size_t)info->width * (size_t)info->height * 3);
    if (!*ov) return run_fail(out, 1, "out of memory");
    rc = kat_video_writer_open(job->overlay, info->width, info->height, fps, vw, err, sizeof err);
    if (rc) return run_fail(out, 1, "--overlay: %s: %s", kat_status_name(rc), err);
  }
  return 0;
}

/* The frame loop: 0 at the end or on an interruption, else 1 with the message. */
static int run_frames(const kat_cli_track_job *job, kat_stream *st, long total, obj_out *outs,
                      int n, int ft, kat_video_writer *vw, uint8_t *ov, kat_track_result *res,
                      kat_cli_track_outcome *out) {
  double t_start = 0;
  out->looped = 1;
  for (size_t i = 0;; i++) {
    int count = 0;
    int rc = kat_stream_next_objects(st, res, n, &count, -1);
    if (rc == KAT_EOF) return 0;
    if (rc == KAT_ECANCELED && interrupted(job)) {
      out->interrupted = 1;
      return 0;
    }
    if (rc)
      return run_fail(out, 1, "frame %zu: %s: %s", i, kat_status_name(rc),
                      kat_stream_last_error(st));
    if (count > n) count = n; /* cannot happen: every object has a prompt */
    if (write_frame(job, outs, n, ft, i, res, count, out) ||
        write_overlay(job, st, vw, ov, n > 1, res, count, out))
      return 1;
    out->frames = i + 1;
    /* Wall-clock time after the first frame (which includes warm-up). */
    const double now = wall_ms();
    if (i == 0) t_start = now;
    out->elapsed_ms = now - t_start;
    if (job->on_frame) job->on_frame(job->ctx, i, total, res, count);
  }
}

int kat_cli_track_run(const kat_cli_track_job *job, kat_cli_track_outcome *out) {
  int status = 1, n = 0, ft = -1;
  kat_stream *st = NULL;
  kat_video_writer *vw = NULL;
  uint8_t *ov = NULL; /* [h, w*3] u8 RGB24: the overlay frame */
  obj_out *outs = NULL;
  kat_track_result *res = NULL; /* [n] records of the current frame */
  int *ids = NULL;
  char err[KAT_ERROR_SIZE], why[4600];
  memset(out, 0, sizeof *out);
  ids = calloc(job->n_prompts ? job->n_prompts : 1, sizeof *ids);
  if (!ids) goto oom;
  n = distinct_ids(job->prompts, job->n_prompts, ids);
  out->objects = n;
  outs = calloc(n ? (size_t)n : 1, sizeof *outs);
  res = calloc(n ? (size_t)n : 1, sizeof *res);
  if (!outs || !res) goto oom;
  for (int k = 0; k < n; k++) {
    outs[k].id = ids[k];
    outs[k].fb = outs[k].fj = -1;
  }
  kat_source_info info;
  memset(&info, 0, sizeof info);
  if ((status = run_open(job, &st, &info, &vw, &ov, out)) || out->interrupted) goto done;
  status = 1;
  if (kat_cli_out_clear(job->out_dir, why, sizeof why)) {
    run_fail(out, 1, "%s", why);
    goto done;
  }
  if (open_objects(job, outs, n, n > 1, out)) goto done;
  if (n > 1 && (ft = kat_cli_open_out(job->out_dir, "tracks.txt", why, sizeof why)) < 0) {
    run_fail(out, 1, "%s", why);
    goto done;
  }
  if (run_frames(job, st, expected_frames(job, &info), outs, n, ft, vw, ov, res, out)) goto done;
  for (size_t k = 0; k < job->n_prompts; k++)
    out->prompts_not_applied += job->prompts[k].frame >= (int64_t)out->frames;
  kat_stream_get_stats(st, &out->stats);
  status = 0;
  goto done;
oom:
  run_fail(out, 1, "out of memory");
done:
  for (int k = 0; outs && k < n; k++) {
    if (outs[k].fb >= 0 && close(outs[k].fb) && status == 0)
      status = run_fail(out, 1, "closing '%s/boxes.txt' failed: %s", outs[k].dir, strerror(errno));
    if (outs[k].fj >= 0 && close(outs[k].fj) && status == 0)
      status =
          run_fail(out, 1, "closing '%s/results.jsonl' failed: %s", outs[k].dir, strerror(errno));
  }
  if (ft >= 0 && close(ft) && status == 0)
    status = run_fail(out, 1, "closing '%s/tracks.txt' failed: %s", job->out_dir, strerror(errno));
  if (vw && kat_video_writer_close(vw, err, sizeof err))
    status = run_fail(out, 1, "overlay: %s", err);
  if (st && job->on_stream) job->on_stream(job->ctx, NULL);
  kat_stream_close(st);
  free(ov);
  free(outs);
  free(res);
  free(ids);
  return status;
}
