/*
 * katana track: tracks one object through a video, a folder of frames, a device or raw frames
 * from a box, with the public tracker and media APIs (include/katana/), and writes LaSOT boxes,
 * per-frame JSON results and, optionally, mask PNGs and an overlay video.
 *
 * The command runs in three steps: track_parse fills a track_opts from argv (a usage error exits
 * 2 before anything is opened), track_check refuses outputs that would write over an input, and
 * track_run opens the stream, then the overlay, and only then replaces the previous run's files,
 * so a failure before the first frame leaves an earlier run's results as they were.
 *
 * DESIGN (interruption): the SIGINT/SIGTERM handler only records the signal in a sig_atomic_t
 * and writes one byte to a self-pipe (both async-signal-safe), whichever thread it lands on; a
 * watcher thread reads the pipe and cancels the stream (kat_stream_cancel is safe from any
 * thread). The frame loop
 * then sees KAT_ECANCELED, the overlay is finished (its moov atom written) and the command exits
 * 128 + the signal number. A second signal exits at once. Each boxes.txt and results.jsonl line
 * is formatted into a buffer and written with one write() on an O_APPEND descriptor, so every
 * completed frame is on disk and no line is torn even by SIGKILL.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_fs.h"
#include "cli_overlay.h"
#include "cli_parse.h"
#include "cli_results.h"
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
          "first line of a LaSOT groundtruth file (give --box or --box-file, not both). Default\n"
          "--model: the installed default model (KATANA_MODEL_DIR overrides), --out track-out,\n"
          "--ep cpu, --selection samurai. A progress line (frames, FPS, ETA) is\n"
          "shown when stderr is a terminal.\n"
          "Outputs: a run replaces the previous run's files in DIR (boxes.txt, results.jsonl,\n"
          "masks/NNNNN.png; DIR gets a " KAT_CLI_OUT_MARKER
          " marker) and touches nothing else; a DIR\n"
          "holding boxes.txt or mask PNGs that katana did not write is refused, as are outputs\n"
          "that are (or, for DIR, contain or lie inside) an input: the video, the frame folder,\n"
          "the box file, a sequence folder's masks/.\n"
          "Results already written stay valid if a later frame fails or the run is interrupted:\n"
          "every line is written whole as its frame completes; on SIGINT/SIGTERM the overlay is\n"
          "finished and katana exits 130/143.\n"
          "--pipeline on (default) runs decode+preprocess, the image encoder and the tracker as\n"
          "three stages on threads; results are identical either way. --threads sets ONNX\n"
          "Runtime's intra-op threads per module, at most 4x the online cores (default with the\n"
          "pipeline on the CPU: half the cores each, as the two stages run at once).\n");
}

/* Everything the command line says; filled by track_parse. Strings are borrowed from argv. */
typedef struct track_opts {
  const char *input;
  const char *model; /* NULL: not given */
  const char *box_s, *box_file;
  const char *out_dir, *ep, *overlay, *fallback, *threads;
  long max_frames; /* -1: all */
  int masks, quiet;
  int pipeline;         /* -1: the preset's default */
  const char **ep_opts; /* n_ep_opts KEY=VALUE strings (malloc'ed array of argv pointers) */
  int n_ep_opts;
  kat_tracker_options tracker;
  kat_source_options source;
  double box[4];
} track_opts;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "katana track: <message>" and returns the usage-error exit status, 2. */
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("katana track: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 2;
}

/* Fills `o` from argv. 0 to run, 2 on a usage error (message printed), -1 after --help. */
static int track_parse(int argc, char **argv, track_opts *o) {
  char why[256];
  memset(o, 0, sizeof *o);
  o->out_dir = "track-out";
  o->ep = "cpu";
  o->max_frames = -1;
  o->pipeline = -1;
  kat_tracker_options_init(&o->tracker);
  kat_source_options_init(&o->source);
  o->ep_opts = calloc((size_t)argc + 1, sizeof *o->ep_opts);
  if (!o->ep_opts) return usage_error("out of memory");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      track_usage(stdout);
      return -1;
    }
    if (strcmp(a, "--masks") == 0) {
      o->masks = 1;
      continue;
    }
    if (strcmp(a, "--quiet") == 0) {
      o->quiet = 1;
      continue;
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      if (o->input) return usage_error("more than one INPUT ('%s', '%s')", o->input, a);
      o->input = a;
      continue;
    }
    if (!v) return usage_error("%s needs a value", a);
    i++;
    if (strcmp(a, "--model") == 0) {
      o->model = v;
    } else if (strcmp(a, "--box") == 0) {
      if (o->box_s) return usage_error("--box given twice ('%s', '%s')", o->box_s, v);
      o->box_s = v;
    } else if (strcmp(a, "--box-file") == 0) {
      if (o->box_file) return usage_error("--box-file given twice ('%s', '%s')", o->box_file, v);
      o->box_file = v;
    } else if (strcmp(a, "--out") == 0) {
      o->out_dir = v;
    } else if (strcmp(a, "--ep") == 0) {
      o->ep = v;
    } else if (strcmp(a, "--overlay") == 0) {
      o->overlay = v;
    } else if (strcmp(a, "--frames") == 0) {
      if (kat_cli_parse_long(v, 1, 100000000L, &o->max_frames, why, sizeof why))
        return usage_error("--frames: %s", why);
    } else if (strcmp(a, "--selection") == 0) {
      int s = kat_selection_parse(v);
      if (s < 0) return usage_error("--selection must be samurai or sam2, not '%s'", v);
      o->tracker.selection = (kat_selection)s;
    } else if (strcmp(a, "--box-mode") == 0) {
      if (strcmp(v, "exact") == 0)
        o->tracker.box_mode = KAT_BOX_EXACT;
      else if (strcmp(v, "fast") == 0)
        o->tracker.box_mode = KAT_BOX_FAST;
      else
        return usage_error("--box-mode must be exact or fast, not '%s'", v);
    } else if (strcmp(a, "--kf-score-weight") == 0) {
      if (kat_cli_parse_double(v, 0.0, 1.0, &o->tracker.kf_score_weight, why, sizeof why))
        return usage_error("--kf-score-weight: %s", why);
    } else if (strcmp(a, "--input-format") == 0) {
      o->source.input_format = v;
    } else if (strcmp(a, "--ep-fallback") == 0) {
      o->fallback = v;
    } else if (strcmp(a, "--pipeline") == 0) {
      if (strcmp(v, "on") == 0)
        o->pipeline = 1;
      else if (strcmp(v, "off") == 0)
        o->pipeline = 0;
      else
        return usage_error("--pipeline must be on or off, not '%s'", v);
    } else if (strcmp(a, "--ep-option") == 0) {
      /* KEY=VALUE for every module, applied after the preset (see kat_ep_profile_set). */
      o->ep_opts[o->n_ep_opts++] = v;
    } else if (strcmp(a, "--threads") == 0) {
      o->threads = v;
    } else if (strcmp(a, "--raw") == 0) {
      if (kat_cli_parse_size(v, 1, 16384, &o->source.raw_width, &o->source.raw_height, why,
                             sizeof why))
        return usage_error("--raw needs WxH: %s", why);
    } else {
      fprintf(stderr, "katana track: unknown option '%s'\n", a);
      track_usage(stderr);
      return 2;
    }
  }
  if (!o->input || (!o->box_s && !o->box_file)) {
    fprintf(stderr, "katana track: need INPUT and --box or --box-file\n");
    track_usage(stderr);
    return 2;
  }
  if (!o->model && !(o->model = kat_default_model_path())) {
    fprintf(stderr,
            "katana track: no --model given and no default model found (installed in "
            "<prefix>/share/katana/models/default, or set KATANA_MODEL_DIR)\n");
    return 2;
  }
  if (o->box_s && o->box_file)
    return usage_error("give --box or --box-file, not both (--box '%s', --box-file '%s')", o->box_s,
                       o->box_file);
  if (strcmp(o->input, "-") == 0 ? o->source.raw_width <= 0 : o->source.raw_width > 0)
    return usage_error("raw input needs INPUT '-' and --raw WxH");
  return 0;
}

/* Reads the box (from --box or the first line of --box-file) and applies the EP options. */
static int track_prepare(track_opts *o) {
  char why[256], line[512];
  const char *box_s = o->box_s;
  if (o->box_file) {
    FILE *bf = fopen(o->box_file, "r");
    if (!bf || !fgets(line, sizeof line, bf)) {
      fprintf(stderr, "katana track: cannot read the box file '%s': %s\n", o->box_file,
              bf ? "it is empty" : strerror(errno));
      if (bf) fclose(bf);
      return 2;
    }
    fclose(bf);
    box_s = line;
  }
  if (kat_cli_parse_box(box_s, o->box, why, sizeof why)) {
    size_t n = strcspn(box_s, "\r\n");
    fprintf(stderr, "katana track: bad box '%.*s'%s%s: %s\n", (int)n, box_s,
            o->box_file ? " in " : "", o->box_file ? o->box_file : "", why);
    return 2;
  }
  kat_ep_profile *ep = &o->tracker.ep;
  if (kat_ep_profile_preset(o->ep, ep)) {
    fprintf(stderr, "katana track: unknown --ep preset '%s'\n", o->ep);
    return 2;
  }
  for (int k = 0; k < o->n_ep_opts; k++) {
    char kv[512];
    int n = snprintf(kv, sizeof kv, "%s", o->ep_opts[k]);
    char *eq = strchr(kv, '=');
    if (n < 0 || (size_t)n >= sizeof kv || !eq || eq == kv ||
        (*eq = '\0', kat_ep_profile_set(ep, -1, kv, eq + 1))) {
      fprintf(stderr, "katana track: bad --ep-option '%s' (KEY=VALUE with a known key)\n",
              o->ep_opts[k]);
      return 2;
    }
  }
  if (o->fallback && kat_ep_profile_set(ep, -1, "fallback", o->fallback)) {
    fprintf(stderr, "katana track: --ep-fallback must be error or warn, not '%s'\n", o->fallback);
    return 2;
  }
  o->tracker.want_masks = o->masks || o->overlay != NULL;
  if (o->threads) {
    int v[KAT_MODULE_COUNT], n = 0;
    if (kat_cli_parse_threads(o->threads, KAT_MODULE_COUNT, v, &n, why, sizeof why)) {
      fprintf(stderr, "katana track: bad --threads: %s\n", why);
      return 2;
    }
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      char num[16];
      snprintf(num, sizeof num, "%d", v[n == 1 ? 0 : m]);
      if (kat_ep_profile_set(ep, m, "intra_op_threads", num)) {
        fprintf(stderr, "katana track: bad --threads '%s'\n", o->threads);
        return 2;
      }
    }
  }
  /* Pipelined by default. On the CPU the two concurrent stages share the cores: unless --threads
   * says otherwise each module's session gets half of them (docs/performance.md: on 2 cores,
   * pipelined with 1 thread per session is 1.3x the best sequential configuration). */
  if (o->pipeline < 0) o->pipeline = 1;
  if (o->pipeline && !o->threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char half[32];
    snprintf(half, sizeof half, "%ld", cores > 2 ? cores / 2 : 1);
    for (int m = 0; m < KAT_MODULE_COUNT; m++)
      if (ep->module[m].kind == KAT_EP_CPU && ep->module[m].intra_op_threads == 0)
        kat_ep_profile_set(ep, m, "intra_op_threads", half);
  }
  return 0;
}

/* dirname of `path` into out (".", when it has no '/'). */
static void dir_of(const char *path, char *out, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(out, size, ".");
  else if (slash == path)
    snprintf(out, size, "/");
  else
    snprintf(out, size, "%.*s", (int)(slash - path), path);
}

/*
 * Refuses outputs that would write over an input (exit 2): an output file that is an input file
 * (compared by st_dev/st_ino, so symlinks and '..' paths count), an --out inside the input frame
 * folder, or an --out whose masks/ is, or that lies inside, a sequence folder's masks/.
 */
static int track_check(const track_opts *o) {
  char boxes[4200], jsonl[4200], masks[4200];
  snprintf(boxes, sizeof boxes, "%s/boxes.txt", o->out_dir);
  snprintf(jsonl, sizeof jsonl, "%s/results.jsonl", o->out_dir);
  snprintf(masks, sizeof masks, "%s/masks", o->out_dir);
  const char *outs[3] = {boxes, jsonl, o->overlay};
  const char *out_names[3] = {"the results file", "the results file", "--overlay"};
  const int input_is_path =
      strcmp(o->input, "-") != 0 && (kat_cli_is_file(o->input) || kat_cli_is_dir(o->input));
  const int input_is_dir = input_is_path && kat_cli_is_dir(o->input);
  const char *ins[2] = {input_is_path && !input_is_dir ? o->input : NULL, o->box_file};
  const char *in_names[2] = {"the input video", "--box-file"};
  for (int a = 0; a < 3; a++) {
    for (int b = 0; b < 2; b++) {
      if (!outs[a] || !ins[b] || !kat_cli_same_file(outs[a], ins[b])) continue;
      fprintf(stderr, "katana track: %s '%s' is %s '%s'; refusing to write over an input\n",
              out_names[a], outs[a], in_names[b], ins[b]);
      return 2;
    }
  }
  if (o->overlay &&
      (kat_cli_same_file(o->overlay, boxes) || kat_cli_same_file(o->overlay, jsonl))) {
    fprintf(stderr, "katana track: --overlay '%s' is one of the results files in '%s'\n",
            o->overlay, o->out_dir);
    return 2;
  }
  if (input_is_dir && kat_cli_path_within(o->out_dir, o->input)) {
    fprintf(stderr,
            "katana track: --out '%s' is inside the input frame folder '%s'; refusing to write "
            "into an input\n",
            o->out_dir, o->input);
    return 2;
  }
  /* Sequence folders: the frame folder itself, its parent, the box file's folder. */
  char seq[3][4200];
  int nseq = 0;
  if (input_is_dir) {
    snprintf(seq[nseq++], sizeof seq[0], "%s", o->input);
    char canon[4096];
    if (kat_cli_path_canon(o->input, canon, sizeof canon) == 0)
      dir_of(canon, seq[nseq++], sizeof seq[0]);
  }
  if (o->box_file) dir_of(o->box_file, seq[nseq++], sizeof seq[0]);
  for (int k = 0; k < nseq; k++) {
    char gt_masks[4300];
    snprintf(gt_masks, sizeof gt_masks, "%.4200s/masks", seq[k]);
    if (!kat_cli_is_dir(gt_masks)) continue;
    if (kat_cli_same_file(masks, gt_masks) || kat_cli_path_within(o->out_dir, gt_masks) ||
        (o->overlay && kat_cli_path_within(o->overlay, gt_masks))) {
      fprintf(stderr,
              "katana track: %s '%s' would write into the input sequence's masks folder '%s'; "
              "refusing to overwrite ground truth (choose another --out)\n",
              kat_cli_path_within(o->out_dir, gt_masks) || kat_cli_same_file(masks, gt_masks)
                  ? "--out"
                  : "--overlay",
              kat_cli_path_within(o->out_dir, gt_masks) || kat_cli_same_file(masks, gt_masks)
                  ? o->out_dir
                  : o->overlay,
              gt_masks);
      return 2;
    }
  }
  char why[4600];
  if (kat_cli_out_check(o->out_dir, why, sizeof why)) {
    fprintf(stderr, "katana track: %s\n", why);
    return 2;
  }
  return 0;
}

/* ---- interruption: signal handlers set a flag, a watcher thread cancels the stream ---- */

/* The only process-wide state of the command: a signal handler can reach nothing else. */
static volatile sig_atomic_t g_signo; /* the first SIGINT/SIGTERM, 0 if none */
static int g_wake[2] = {-1, -1};      /* self-pipe: 's' = a signal came, 'q' = watcher, stop */

static void on_signal(int sig) {
  if (g_signo) _exit(128 + sig); /* a second signal: every written line is whole already */
  g_signo = sig;
  const int saved = errno;
  ssize_t r = write(g_wake[1], "s", 1); /* async-signal-safe; the watcher does the rest */
  (void)r;
  errno = saved;
}

typedef struct interrupt_watch {
  pthread_t thread;
  int started;
  struct sigaction old_int, old_term;
  pthread_mutex_t mu;
  kat_stream *stream; /* borrowed; cancelled on a signal; guarded by mu */
} interrupt_watch;

static void *watch_main(void *arg) {
  interrupt_watch *w = arg;
  for (;;) {
    char c;
    ssize_t r = read(g_wake[0], &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || c == 'q') return NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stream) kat_stream_cancel(w->stream);
    pthread_mutex_unlock(&w->mu);
  }
}

/* Installs the SIGINT/SIGTERM handlers (a signal the parent ignores stays ignored) and starts
 * the watcher. 0, or -1 when that fails (the signals then keep their default action). */
static int watch_start(interrupt_watch *w) {
  memset(w, 0, sizeof *w);
  g_signo = 0;
  if (pipe(g_wake) != 0) return -1;
  pthread_mutex_init(&w->mu, NULL);
  if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
    pthread_mutex_destroy(&w->mu);
    close(g_wake[0]);
    close(g_wake[1]);
    g_wake[0] = g_wake[1] = -1;
    return -1;
  }
  w->started = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, NULL, &w->old_int);
  sigaction(SIGTERM, NULL, &w->old_term);
  if (w->old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
  if (w->old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
  return 0;
}

static void watch_set_stream(interrupt_watch *w, kat_stream *st) {
  pthread_mutex_lock(&w->mu);
  w->stream = st;
  if (st && g_signo) kat_stream_cancel(st);
  pthread_mutex_unlock(&w->mu);
}

static int watch_signal(const interrupt_watch *w) {
  (void)w;
  return (int)g_signo;
}

/* Restores the previous handlers and stops the watcher. */
static void watch_stop(interrupt_watch *w) {
  if (!w->started) return;
  sigaction(SIGINT, &w->old_int, NULL);
  sigaction(SIGTERM, &w->old_term, NULL);
  ssize_t r = write(g_wake[1], "q", 1);
  (void)r;
  pthread_join(w->thread, NULL);
  pthread_mutex_destroy(&w->mu);
  close(g_wake[0]);
  close(g_wake[1]);
  g_wake[0] = g_wake[1] = -1;
  w->started = 0;
}

/* ---- writing results ---- */

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

static int track_run(track_opts *o, interrupt_watch *wp, int watching) {
  int status = 1, rc;
  kat_stream *st = NULL;
  kat_video_writer *vw = NULL;
  uint8_t *ov = NULL; /* [h, w*3] u8: the overlay frame */
  int fb = -1, fj = -1;
  char path[4200];
  char err[KAT_ERROR_SIZE];
  size_t i = 0;
  interrupt_watch *const w = wp;
  kat_stream_options sopt;
  kat_stream_options_init(&sopt);
  sopt.tracker = o->tracker;
  sopt.source = o->source;
  sopt.pipeline = o->pipeline;
  sopt.keep_frames = o->overlay != NULL;
  sopt.max_frames = o->max_frames > 0 ? o->max_frames : 0;
  rc = kat_stream_open(o->model, o->input, o->box, &sopt, &st, err, sizeof err);
  if (rc) {
    fprintf(stderr, "katana track: %s: %s\n", kat_status_name(rc), err);
    status = rc == KAT_EINVAL ? 2 : 1;
    goto done;
  }
  if (watching) watch_set_stream(w, st);
  if (watching && watch_signal(w)) goto done; /* interrupted while the models loaded */
  kat_source_info info;
  kat_stream_source_info(st, &info);
  long total = o->max_frames;
  if (info.frame_count > 0)
    total = o->max_frames > 0 && o->max_frames < info.frame_count ? o->max_frames
                                                                  : (long)info.frame_count;
  /* Everything that can fail before the first frame comes first: the folder, then the overlay;
   * only then are the previous run's results replaced. */
  if (kat_cli_mkdirs(o->out_dir) != 0) {
    fprintf(stderr, "katana track: cannot create '%s': %s\n", o->out_dir, strerror(errno));
    goto done;
  }
  if (o->overlay) {
    double fps = info.fps > 0 ? info.fps : 30.0;
    ov = malloc((size_t)info.width * (size_t)info.height * 3);
    if (!ov) {
      fprintf(stderr, "katana track: out of memory\n");
      goto done;
    }
    rc = kat_video_writer_open(o->overlay, info.width, info.height, fps, &vw, err, sizeof err);
    if (rc) {
      fprintf(stderr, "katana track: --overlay: %s: %s\n", kat_status_name(rc), err);
      goto done;
    }
  }
  char why[4600];
  if (kat_cli_out_clear(o->out_dir, why, sizeof why)) {
    fprintf(stderr, "katana track: %s\n", why);
    goto done;
  }
  snprintf(path, sizeof path, "%s/masks", o->out_dir);
  if (o->masks && mkdir(path, 0777) && errno != EEXIST) {
    fprintf(stderr, "katana track: cannot create '%s': %s\n", path, strerror(errno));
    goto done;
  }
  if ((fb = kat_cli_open_out(o->out_dir, "boxes.txt", "katana track")) < 0) goto done;
  if ((fj = kat_cli_open_out(o->out_dir, "results.jsonl", "katana track")) < 0) goto done;

  const int tty = !o->quiet && isatty(2);
  double t_start = 0, elapsed = 0;
  kat_cli_line_buf line;
  for (;; i++) {
    kat_track_result res;
    rc = kat_stream_next(st, &res);
    if (rc == KAT_EOF) break;
    if (rc == KAT_ECANCELED && watching && watch_signal(w)) break;
    if (rc) {
      fprintf(stderr, "%skatana track: frame %zu: %s: %s\n", tty ? "\n" : "", i,
              kat_status_name(rc), kat_stream_last_error(st));
      goto done;
    }
    if (o->masks && res.mask) {
      rc = kat_mask_png_write(path, (int64_t)i, res.mask, res.mask_width, res.mask_height,
                              res.mask_stride, err, sizeof err);
      if (rc) {
        fprintf(stderr, "katana track: %s\n", err);
        goto done;
      }
    }
    const kat_frame *fp = kat_stream_frame(st);
    if (vw && fp) {
      for (int y = 0; y < fp->height; y++)
        memcpy(ov + (size_t)y * (size_t)fp->width * 3, fp->data[0] + (size_t)y * fp->stride[0],
               (size_t)fp->width * 3);
      draw_overlay(ov, fp->width, fp->height, &res);
      if (kat_video_writer_write(vw, ov, (size_t)fp->width * 3)) {
        fprintf(stderr, "katana track: cannot write the overlay video '%s'\n", o->overlay);
        goto done;
      }
    }
    kat_cli_format_box(&line, &res);
    int werr = kat_cli_write_line(fb, &line);
    kat_cli_format_jsonl(&line, &res);
    werr |= kat_cli_write_line(fj, &line);
    if (werr) {
      fprintf(stderr, "katana track: cannot write the results into '%s': %s\n", o->out_dir,
              strerror(errno));
      goto done;
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
  if (!o->quiet && !(watching && watch_signal(w))) {
    kat_stream_stats ss;
    kat_stream_get_stats(st, &ss);
    fprintf(stderr,
            "katana track: %zu frames (%s), %.1f wall FPS after the first frame, frame interval "
            "p50 %.1f ms p95 %.1f ms, latency p50 %.1f ms p95 %.1f ms; results in %s\n",
            i, o->pipeline ? "pipelined" : "sequential",
            i > 1 && elapsed > 0 ? (double)(i - 1) * 1000.0 / elapsed : 0.0, ss.p50_ms[5],
            ss.p95_ms[5], ss.p50_ms[4], ss.p95_ms[4], o->out_dir);
    if (ss.dropped) fprintf(stderr, "katana track: %lld frames dropped\n", (long long)ss.dropped);
  }
  status = 0;
done:
  if (fb >= 0 && close(fb)) status = 1;
  if (fj >= 0 && close(fj)) status = 1;
  if (vw && kat_video_writer_close(vw, err, sizeof err)) {
    fprintf(stderr, "katana track: overlay: %s\n", err);
    status = 1;
  }
  if (watching) watch_set_stream(w, NULL);
  kat_stream_close(st);
  free(ov);
  int sig = watching ? watch_signal(w) : 0;
  if (sig) {
    fprintf(stderr,
            "katana track: interrupted by %s after %zu frames; their results are in %s%s%s\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", i, o->out_dir,
            o->overlay ? " and the overlay is finished: " : "", o->overlay ? o->overlay : "");
    status = 128 + sig;
  }
  return status;
}

int kat_cmd_track(int argc, char **argv) {
  track_opts o;
  interrupt_watch watch;
  const int watching = watch_start(&watch) == 0;
  int rc = track_parse(argc, argv, &o);
  if (rc == 0) rc = track_prepare(&o);
  if (rc == 0) rc = track_check(&o);
  if (rc == 0) rc = track_run(&o, &watch, watching);
  if (watching) watch_stop(&watch);
  free(o.ep_opts);
  return rc < 0 ? 0 : rc;
}
