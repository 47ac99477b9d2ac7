/*
 * katana track: tracks one object through a video, a folder of frames, a device or raw frames
 * from a box, with the public tracker and media APIs (include/katana/), and writes LaSOT boxes,
 * per-frame JSON results and, optionally, mask PNGs and an overlay video.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "katana/katana.h"

static void track_usage(FILE *f) {
  fprintf(f,
          "usage: katana track INPUT [--model DIR] (--box x,y,w,h | --box-file groundtruth.txt)\n"
          "                    [--out DIR] [--masks] [--overlay OUT.mp4] [--ep PRESET]\n"
          "                    [--ep-fallback error|warn] [--frames N]\n"
          "                    [--selection samurai|sam2] [--box-mode exact|fast]\n"
          "                    [--kf-score-weight W] [--raw WxH] [--input-format FMT]\n"
          "                    [--pipeline on|off] [--threads N|IE,MA,MD,ME]\n"
          "                    [--ep-option KEY=VALUE ...] [--quiet]\n\n"
          "INPUT is a video file or URL (anything FFmpeg reads), a folder of PNG/JPEG frames in\n"
          "natural name order, a device (e.g. /dev/video0 with --input-format v4l2), or '-' with\n"
          "--raw WxH for RGB24 frames on stdin.\n"
          "Writes DIR/boxes.txt (x,y,w,h per frame, LaSOT), DIR/results.jsonl (one object per\n"
          "frame) and with --masks DIR/masks/NNNNN.png at the video's size. --box-file takes the\n"
          "first line of a LaSOT groundtruth file. Default --model: the installed default model\n"
          "(KATANA_MODEL_DIR overrides), --out track-out, --ep cpu,\n"
          "--selection samurai. A progress line (frames, FPS, ETA) is shown when stderr is a\n"
          "terminal. Results already written stay valid if a later frame fails.\n"
          "--pipeline on (default) runs decode+preprocess, the image encoder and the tracker as\n"
          "three stages on threads; results are identical either way. --threads sets ONNX\n"
          "Runtime's intra-op threads per module (default with the pipeline on the CPU: half the\n"
          "cores each, as the two stages run at once).\n");
}

/* ---- main ---- */

static int parse_box(const char *s, double box[4]) {
  char *end;
  const char *p = s;
  for (int i = 0; i < 4; i++) {
    errno = 0;
    box[i] = strtod(p, &end);
    if (errno || end == p || !isfinite(box[i])) return -1;
    p = end;
    while (*p == ' ' || *p == '\t') p++;
    if (i < 3) {
      if (*p != ',' && *p != ' ' && *p != '\t') return -1;
      p++;
    }
  }
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return *p ? -1 : 0;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Bounded copy that always terminates `dst`. */
static void copy_str(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src);
}

static void json_num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.9g", v);
  else
    fputs("null", f);
}

/* mkdir -p: creates `dir` and any missing parent; 0 when it exists afterwards, else -1 with
 * errno set. */
static int mkdir_parents(const char *dir) {
  char buf[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    buf[i] = c;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0) return -1;
  if (!S_ISDIR(sb.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

int kat_cmd_track(int argc, char **argv) {
  const char *input = NULL, *model = NULL, *box_s = NULL, *box_file = NULL;
  const char *out_dir = "track-out", *ep = "cpu", *overlay = NULL;
  long max_frames = -1;
  int masks = 0, quiet = 0;
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  kat_source_options so;
  kat_source_options_init(&so);
  const char *fallback = NULL, *threads = NULL;
  const char *ep_opts[8];
  int n_ep_opts = 0;
  int pipeline = -1; /* -1: the preset's default */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      track_usage(stdout);
      return 0;
    }
    if (strcmp(a, "--masks") == 0) {
      masks = 1;
      continue;
    }
    if (strcmp(a, "--quiet") == 0) {
      quiet = 1;
      continue;
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      if (input) {
        fprintf(stderr, "katana track: more than one INPUT ('%s', '%s')\n", input, a);
        return 2;
      }
      input = a;
      continue;
    }
    if (!v) {
      fprintf(stderr, "katana track: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (strcmp(a, "--model") == 0)
      model = v;
    else if (strcmp(a, "--box") == 0)
      box_s = v;
    else if (strcmp(a, "--box-file") == 0)
      box_file = v;
    else if (strcmp(a, "--out") == 0)
      out_dir = v;
    else if (strcmp(a, "--ep") == 0)
      ep = v;
    else if (strcmp(a, "--overlay") == 0)
      overlay = v;
    else if (strcmp(a, "--frames") == 0) {
      if (parse_long(v, 1, 100000000L, &max_frames)) {
        fprintf(stderr, "katana track: --frames must be a positive integer\n");
        return 2;
      }
    } else if (strcmp(a, "--selection") == 0) {
      int s = kat_selection_parse(v);
      if (s < 0) {
        fprintf(stderr, "katana track: --selection must be samurai or sam2, not '%s'\n", v);
        return 2;
      }
      o.selection = (kat_selection)s;
    } else if (strcmp(a, "--box-mode") == 0) {
      if (strcmp(v, "exact") == 0)
        o.box_mode = KAT_BOX_EXACT;
      else if (strcmp(v, "fast") == 0)
        o.box_mode = KAT_BOX_FAST;
      else {
        fprintf(stderr, "katana track: --box-mode must be exact or fast\n");
        return 2;
      }
    } else if (strcmp(a, "--kf-score-weight") == 0) {
      char *end;
      o.kf_score_weight = strtod(v, &end);
      if (*end || !(o.kf_score_weight >= 0 && o.kf_score_weight <= 1)) {
        fprintf(stderr, "katana track: --kf-score-weight must be in [0, 1]\n");
        return 2;
      }
    } else if (strcmp(a, "--input-format") == 0) {
      so.input_format = v;
    } else if (strcmp(a, "--ep-fallback") == 0) {
      fallback = v;
    } else if (strcmp(a, "--pipeline") == 0) {
      if (strcmp(v, "on") == 0)
        pipeline = 1;
      else if (strcmp(v, "off") == 0)
        pipeline = 0;
      else {
        fprintf(stderr, "katana track: --pipeline must be on or off\n");
        return 2;
      }
    } else if (strcmp(a, "--ep-option") == 0) {
      /* KEY=VALUE for every module, applied after the preset (see kat_ep_profile_set). */
      if (n_ep_opts < 8) ep_opts[n_ep_opts++] = v;
    } else if (strcmp(a, "--threads") == 0) {
      /* Intra-op threads per module: one value for all, or four comma-separated values in the
       * order image_encoder,memory_attention,mask_decoder,memory_encoder. */
      threads = v;
    } else if (strcmp(a, "--raw") == 0) {
      if (sscanf(v, "%dx%d", &so.raw_width, &so.raw_height) != 2 || so.raw_width < 1 ||
          so.raw_height < 1) {
        fprintf(stderr, "katana track: --raw needs WxH\n");
        return 2;
      }
    } else {
      fprintf(stderr, "katana track: unknown option '%s'\n", a);
      track_usage(stderr);
      return 2;
    }
  }
  if (!input || (!box_s && !box_file)) {
    track_usage(stderr);
    return 2;
  }
  if (!model && !(model = kat_default_model_path())) {
    fprintf(stderr,
            "katana track: no --model given and no default model found (installed in "
            "<prefix>/share/katana/models/default, or set KATANA_MODEL_DIR)\n");
    return 2;
  }
  double box[4];
  char line[512];
  if (box_file) {
    FILE *bf = fopen(box_file, "r");
    if (!bf || !fgets(line, sizeof line, bf)) {
      fprintf(stderr, "katana track: cannot read '%s'\n", box_file);
      if (bf) fclose(bf);
      return 1;
    }
    fclose(bf);
    box_s = line;
  }
  if (parse_box(box_s, box) || !(box[2] > 0) || !(box[3] > 0)) {
    fprintf(stderr, "katana track: bad box '%s' (x,y,w,h with w, h > 0)\n", box_s);
    return 2;
  }
  if (kat_ep_profile_preset(ep, &o.ep)) {
    fprintf(stderr, "katana track: unknown --ep preset '%s'\n", ep);
    return 2;
  }
  for (int k = 0; k < n_ep_opts; k++) {
    char kv[256];
    copy_str(kv, sizeof kv, ep_opts[k]);
    char *eq = strchr(kv, '=');
    if (!eq || (*eq = '\0', kat_ep_profile_set(&o.ep, -1, kv, eq + 1))) {
      fprintf(stderr, "katana track: bad --ep-option '%s' (KEY=VALUE)\n", ep_opts[k]);
      return 2;
    }
  }
  if (fallback && kat_ep_profile_set(&o.ep, -1, "fallback", fallback)) {
    fprintf(stderr, "katana track: --ep-fallback must be error or warn\n");
    return 2;
  }
  if (strcmp(input, "-") == 0 ? so.raw_width <= 0 : so.raw_width > 0) {
    fprintf(stderr, "katana track: raw input needs INPUT '-' and --raw WxH\n");
    return 2;
  }
  o.want_masks = masks || overlay != NULL;
  if (threads) {
    char buf[64];
    copy_str(buf, sizeof buf, threads);
    int m = 0;
    for (char *tok = buf, *next; tok && m < KAT_MODULE_COUNT; tok = next, m++) {
      next = strchr(tok, ',');
      if (next) *next++ = '\0';
      if (kat_ep_profile_set(&o.ep, strchr(threads, ',') ? m : -1, "intra_op_threads", tok)) {
        fprintf(stderr, "katana track: bad --threads '%s'\n", threads);
        return 2;
      }
    }
  }
  /* Pipelined by default. On the CPU the two concurrent stages share the cores: unless --threads
   * says otherwise each module's session gets half of them (docs/performance.md: on 2 cores,
   * pipelined with 1 thread per session is 1.3x the best sequential configuration). */
  if (pipeline < 0) pipeline = 1;
  if (pipeline && !threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char half[32];
    snprintf(half, sizeof half, "%ld", cores > 2 ? cores / 2 : 1);
    for (int m = 0; m < KAT_MODULE_COUNT; m++)
      if (o.ep.module[m].kind == KAT_EP_CPU && o.ep.module[m].intra_op_threads == 0)
        kat_ep_profile_set(&o.ep, m, "intra_op_threads", half);
  }

  int status = 1;
  kat_stream *st = NULL;
  kat_video_writer *vw = NULL;
  uint8_t *ov = NULL; /* [h, w*3] u8: the overlay frame */
  FILE *fb = NULL, *fj = NULL;
  char path[4096];
  char err[1024];
  kat_stream_options sopt;
  kat_stream_options_init(&sopt);
  sopt.tracker = o;
  sopt.source = so;
  sopt.pipeline = pipeline;
  sopt.keep_frames = overlay != NULL;
  sopt.max_frames = max_frames > 0 ? max_frames : 0;
  int rc = kat_stream_open(model, input, box, &sopt, &st, err, sizeof err);
  if (rc) {
    fprintf(stderr, "katana track: %s: %s\n", kat_status_name(rc), err);
    status = rc == KAT_EINVAL ? 2 : 1;
    goto done;
  }
  kat_source_info info;
  kat_stream_source_info(st, &info);
  if (info.frame_count > 0) {
    o.num_frames = info.frame_count;
    if (max_frames > 0 && max_frames < info.frame_count) o.num_frames = max_frames;
  }
  if (mkdir_parents(out_dir) != 0) {
    fprintf(stderr, "katana track: cannot create '%s': %s\n", out_dir, strerror(errno));
    goto done;
  }
  snprintf(path, sizeof path, "%s/masks", out_dir);
  if (masks && mkdir(path, 0777) && errno != EEXIST) {
    fprintf(stderr, "katana track: cannot create '%s': %s\n", path, strerror(errno));
    goto done;
  }
  snprintf(path, sizeof path, "%s/boxes.txt", out_dir);
  fb = fopen(path, "w");
  snprintf(path, sizeof path, "%s/results.jsonl", out_dir);
  fj = fopen(path, "w");
  if (!fb || !fj) {
    fprintf(stderr, "katana track: cannot write into '%s'\n", out_dir);
    goto done;
  }
  if (overlay) {
    double fps = info.fps > 0 ? info.fps : 30.0;
    rc = kat_video_writer_open(overlay, info.width, info.height, fps, &vw, err, sizeof err);
    if (rc) {
      fprintf(stderr, "katana track: %s: %s\n", kat_status_name(rc), err);
      goto done;
    }
    ov = malloc((size_t)info.width * (size_t)info.height * 3);
    if (!ov) goto done;
  }
  const int tty = !quiet && isatty(2);
  const long total = o.num_frames > 0 ? (long)o.num_frames : max_frames;
  double t_start = 0, elapsed = 0;
  size_t i = 0;
  for (;; i++) {
    kat_track_result res;
    rc = kat_stream_next(st, &res);
    if (rc == KAT_EOF) break;
    if (rc) {
      fprintf(stderr, "%skatana track: frame %zu: %s: %s\n", tty ? "\n" : "", i,
              kat_status_name(rc), kat_stream_last_error(st));
      goto done;
    }
    fprintf(fb, "%.0f,%.0f,%.0f,%.0f\n", res.box[0], res.box[1], res.box[2], res.box[3]);
    fprintf(fj, "{\"frame\": %lld, \"source_frame\": %lld, \"dropped_before\": %lld, ",
            (long long)res.frame_index, (long long)res.source_index, (long long)res.dropped_before);
    fprintf(fj, "\"box\": [%.0f, %.0f, %.0f, %.0f], \"present\": %s, ", res.box[0], res.box[1],
            res.box[2], res.box[3], res.presence == KAT_PRESENCE_TRACKED ? "true" : "false");
    fprintf(fj, "\"presence\": \"%s\", \"object_score\": ", kat_presence_name(res.presence));
    json_num(fj, res.object_score);
    fprintf(fj, ", \"candidate\": %d, \"iou_pred\": ", res.candidate);
    json_num(fj, res.iou_pred);
    fputs(", \"kf_score\": ", fj);
    if (res.has_kf_score)
      json_num(fj, res.kf_score);
    else
      fputs("null", fj);
    fprintf(fj, ", \"kf_phase\": %d, \"kf_box\": ", res.kf_phase);
    if (res.has_kf_box)
      fprintf(fj, "[%.2f, %.2f, %.2f, %.2f]", res.kf_box[0], res.kf_box[1], res.kf_box[2],
              res.kf_box[3]);
    else
      fputs("null", fj);
    fprintf(fj,
            ", \"ms\": {\"preprocess\": %.3f, \"image_encoder\": %.3f, \"memory_attention\": "
            "%.3f, \"mask_decoder\": %.3f, \"memory_encoder\": %.3f, \"host\": %.3f, "
            "\"total\": %.3f}}\n",
            res.timings.preprocess_ms, res.timings.module_ms[KAT_MODULE_IMAGE_ENCODER],
            res.timings.module_ms[KAT_MODULE_MEMORY_ATTENTION],
            res.timings.module_ms[KAT_MODULE_MASK_DECODER],
            res.timings.module_ms[KAT_MODULE_MEMORY_ENCODER], res.timings.host_ms,
            res.timings.total_ms);
    if (masks && res.mask) {
      snprintf(path, sizeof path, "%s/masks", out_dir);
      rc = kat_mask_png_write(path, (int64_t)i, res.mask, res.mask_width, res.mask_height,
                              res.mask_stride, err, sizeof err);
      if (rc) {
        fprintf(stderr, "katana track: %s\n", err);
        goto done;
      }
    }
    const kat_frame *fp = kat_stream_frame(st);
    if (vw && fp) {
      const kat_frame f = *fp;
      for (int y = 0; y < f.height; y++)
        memcpy(ov + (size_t)y * (size_t)f.width * 3, f.data[0] + (size_t)y * f.stride[0],
               (size_t)f.width * 3);
      static const uint8_t k_tint[3] = {255, 64, 32};
      float fb4[4] = {(float)res.box[0], (float)res.box[1], (float)res.box[2], (float)res.box[3]};
      kat_overlay_draw(ov, (size_t)f.width * 3, f.width, f.height, res.mask, res.mask_stride,
                       res.box_valid ? fb4 : NULL, k_tint, 0.45f);
      if (kat_video_writer_write(vw, ov, (size_t)f.width * 3)) {
        fprintf(stderr, "katana track: cannot write the overlay video '%s'\n", overlay);
        goto done;
      }
    }
    /* Wall-clock FPS after the first frame (which includes warm-up). */
    const double now = wall_ms();
    if (i == 0) t_start = now;
    elapsed = now - t_start;
    if (tty) {
      double fps = i > 0 && elapsed > 0 ? (double)i * 1000.0 / elapsed : 0.0;
      fprintf(stderr, "\rframe %zu", i + 1);
      if (total > 0) fprintf(stderr, "/%ld", total);
      fprintf(stderr, "  %.1f FPS", fps);
      if (total > 0 && fps > 0)
        fprintf(stderr, "  ETA %.0f s", (double)(total - (long)i - 1) / fps);
      fputs("   ", stderr);
    }
  }
  if (tty) fputc('\n', stderr);
  if (!quiet) {
    kat_stream_stats ss;
    kat_stream_get_stats(st, &ss);
    fprintf(stderr,
            "katana track: %zu frames (%s), %.1f wall FPS after the first frame, frame interval "
            "p50 %.1f ms p95 %.1f ms, latency p50 %.1f ms p95 %.1f ms; results in %s\n",
            i, pipeline ? "pipelined" : "sequential",
            i > 1 && elapsed > 0 ? (double)(i - 1) * 1000.0 / elapsed : 0.0, ss.p50_ms[5],
            ss.p95_ms[5], ss.p50_ms[4], ss.p95_ms[4], out_dir);
    if (ss.dropped) fprintf(stderr, "katana track: %lld frames dropped\n", (long long)ss.dropped);
  }
  status = 0;
done:
  if (fb && fclose(fb)) status = 1;
  if (fj && fclose(fj)) status = 1;
  if (vw && kat_video_writer_close(vw, err, sizeof err)) {
    fprintf(stderr, "katana track: overlay: %s\n", err);
    status = 1;
  }
  kat_stream_close(st);
  free(ov);
  return status;
}
