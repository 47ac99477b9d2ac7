/*
 * katana track: tracks one object or several through a video, a folder of frames, a device or raw
 * frames from boxes, points or a prompts file (include/katana/prompts.h), with the public stream
 * and media APIs (include/katana/), and writes LaSOT boxes, per-frame JSON results and,
 * optionally, mask PNGs and an overlay video. With several objects each object gets the
 * single-object layout in DIR/objects/<id>/ and DIR/tracks.txt lists every object's boxes
 * (MOT style).
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
#include "track_run.h"
#include "katana/katana.h"

static void track_usage(FILE *f) {
  fprintf(
      f,
      "usage: katana track INPUT [--model DIR] (--box x,y,w,h [--box ...] |\n"
      "                    --box-file groundtruth.txt) [--point x,y[,label] ...]\n"
      "                    [--prompts FILE.json]\n"
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
      "first line of a LaSOT groundtruth file (give --box or --box-file, not both).\n"
      "Several objects: each --box is one object on frame 0, ids 0, 1, ...; --point x,y[,label]\n"
      "(label 1 positive, the default, or 0 negative; repeatable) prompts object 0 on frame\n"
      "0 (with its box, if any); --prompts FILE takes a JSON list of {\"frame\", \"obj\", "
      "\"box\":\n"
      "[x,y,w,h] | \"points\": [[x,y,label],...] | \"mask\": \"file.png\"} (masks relative to\n"
      "FILE; a prompt on a frame the object is tracked on corrects it). With more than one\n"
      "object, DIR/objects/<id>/ holds each object's boxes.txt, results.jsonl and masks/\n"
      "(boxes.txt: one line per frame, 0,0,0,0 where the object does not exist) and\n"
      "DIR/tracks.txt one line frame,id,x,y,w,h,score per object and frame with a box (frame\n"
      "from 0, score the object score logit). Default\n"
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
  const char *box_file, *prompts_path;
  const char **boxes; /* n_boxes --box values (malloc'ed array of argv pointers) */
  int n_boxes;
  double points[KAT_MAX_PROMPT_POINTS][2]; /* --point values, for object 0 on frame 0 */
  int labels[KAT_MAX_PROMPT_POINTS];
  int n_points;
  const char *out_dir, *ep, *overlay, *fallback, *threads;
  long max_frames; /* -1: all */
  int masks, quiet;
  int pipeline;         /* -1: the preset's default */
  const char **ep_opts; /* n_ep_opts KEY=VALUE strings (malloc'ed array of argv pointers) */
  int n_ep_opts;
  kat_tracker_options tracker;
  kat_source_options source;
  double box[4]; /* the classic single box (classic = 1) */
  /* Filled by track_prepare: every prompt (the --box/--box-file/--point ones first, then the
   * file's, whose masks stay owned by file_prompts) and its origin for messages. classic: one box
   * for object 0 on frame 0 from --box/--box-file and nothing else, opened as before the
   * several-object work (kat_stream_open with the box). */
  kat_prompt_list *file_prompts;
  kat_prompt_entry *prompts;
  char (*origin)[64];
  size_t n_prompts;
  int classic;
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
  o->boxes = calloc((size_t)argc + 1, sizeof *o->boxes);
  if (!o->ep_opts || !o->boxes) return usage_error("out of memory");
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
      o->boxes[o->n_boxes++] = v;
    } else if (strcmp(a, "--point") == 0) {
      if (o->n_points == KAT_MAX_PROMPT_POINTS)
        return usage_error("at most %d --point", KAT_MAX_PROMPT_POINTS);
      if (kat_cli_parse_point(v, o->points[o->n_points], &o->labels[o->n_points], why, sizeof why))
        return usage_error("bad --point '%s': %s", v, why);
      o->n_points++;
    } else if (strcmp(a, "--prompts") == 0) {
      if (o->prompts_path)
        return usage_error("--prompts given twice ('%s', '%s')", o->prompts_path, v);
      o->prompts_path = v;
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
  if (!o->input || (!o->n_boxes && !o->box_file && !o->n_points && !o->prompts_path)) {
    fprintf(stderr, "katana track: need INPUT and --box, --box-file, --point or --prompts\n");
    track_usage(stderr);
    return 2;
  }
  if (!o->model && !(o->model = kat_default_model_path())) {
    fprintf(stderr,
            "katana track: no --model given and no default model found (installed in "
            "<prefix>/share/katana/models/default, or set KATANA_MODEL_DIR)\n");
    return 2;
  }
  if (o->n_boxes && o->box_file)
    return usage_error("give --box or --box-file, not both (--box '%s', --box-file '%s')",
                       o->boxes[0], o->box_file);
  if (strcmp(o->input, "-") == 0 ? o->source.raw_width <= 0 : o->source.raw_width > 0)
    return usage_error("raw input needs INPUT '-' and --raw WxH");
  return 0;
}

/* Builds o->prompts from --box/--box-file/--point (already parsed into o->box for box 0) and the
 * prompts file. 0, or 2 with the message printed. */
static int collect_prompts(track_opts *o, int have_box0) {
  char err[KAT_ERROR_SIZE], why[256];
  if (o->prompts_path && kat_prompts_load(o->prompts_path, &o->file_prompts, err, sizeof err)) {
    fprintf(stderr, "katana track: --prompts: %s\n", err);
    return 2;
  }
  const size_t n_file = o->file_prompts ? o->file_prompts->count : 0;
  const int n_cli_boxes = o->n_boxes > 0 ? o->n_boxes : have_box0;
  const size_t n = (size_t)n_cli_boxes + (o->n_points && !n_cli_boxes ? 1 : 0) + n_file;
  o->prompts = calloc(n, sizeof *o->prompts);
  o->origin = calloc(n, sizeof *o->origin);
  if (!o->prompts || !o->origin) {
    fprintf(stderr, "katana track: out of memory\n");
    return 2;
  }
  size_t k = 0;
  for (int b = 0; b < n_cli_boxes; b++, k++) {
    kat_prompt_entry *e = &o->prompts[k];
    kat_prompt_init(&e->prompt);
    e->obj_id = b;
    e->prompt.has_box = 1;
    if (b == 0) {
      memcpy(e->prompt.box, o->box, sizeof o->box);
    } else if (kat_cli_parse_box(o->boxes[b], e->prompt.box, why, sizeof why)) {
      fprintf(stderr, "katana track: bad box '%s' (--box %d): %s\n", o->boxes[b], b + 1, why);
      return 2;
    }
    snprintf(o->origin[k], sizeof o->origin[k], "--box %d (object %d)", b + 1, b);
  }
  if (o->n_points) {
    /* Object 0 on frame 0: with its box when one was given, else points alone. */
    kat_prompt_entry *e = &o->prompts[0];
    if (!n_cli_boxes) {
      kat_prompt_init(&e->prompt);
      snprintf(o->origin[0], sizeof o->origin[0], "--point (object 0)");
      k++;
    } else {
      snprintf(o->origin[0], sizeof o->origin[0], "--box 1 and --point (object 0)");
    }
    e->prompt.n_points = o->n_points;
    memcpy(e->prompt.points, o->points, sizeof o->points);
    memcpy(e->prompt.labels, o->labels, sizeof o->labels);
  }
  for (size_t f = 0; f < n_file; f++, k++) {
    o->prompts[k] = o->file_prompts->entries[f];
    snprintf(o->origin[k], sizeof o->origin[k], "--prompts prompt %zu", f);
  }
  o->n_prompts = k;
  o->classic = !o->prompts_path && !o->n_points && n_cli_boxes == 1;
  return 0;
}

/* Reads the boxes (--box, the first line of --box-file), --point and --prompts into o->prompts
 * and applies the EP options. */
static int track_prepare(track_opts *o) {
  char why[256], line[512];
  const char *box_s = o->n_boxes ? o->boxes[0] : NULL;
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
  if (box_s && kat_cli_parse_box(box_s, o->box, why, sizeof why)) {
    size_t n = strcspn(box_s, "\r\n");
    fprintf(stderr, "katana track: bad box '%.*s'%s%s: %s\n", (int)n, box_s,
            o->box_file ? " in " : "", o->box_file ? o->box_file : "", why);
    return 2;
  }
  int rc = collect_prompts(o, box_s != NULL);
  if (rc) return rc;
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
  if (o->pipeline && !o->threads) kat_ep_profile_share_cores(ep, 0, 2);
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
  char boxes[4200], jsonl[4200], masks[4200], tracks[4200];
  snprintf(tracks, sizeof tracks, "%s/tracks.txt", o->out_dir);
  snprintf(boxes, sizeof boxes, "%s/boxes.txt", o->out_dir);
  snprintf(jsonl, sizeof jsonl, "%s/results.jsonl", o->out_dir);
  snprintf(masks, sizeof masks, "%s/masks", o->out_dir);
  const char *outs[4] = {boxes, jsonl, o->overlay, tracks};
  const char *out_names[4] = {"the results file", "the results file", "--overlay",
                              "the results file"};
  const int input_is_path =
      strcmp(o->input, "-") != 0 && (kat_cli_is_file(o->input) || kat_cli_is_dir(o->input));
  const int input_is_dir = input_is_path && kat_cli_is_dir(o->input);
  const char *ins[3] = {input_is_path && !input_is_dir ? o->input : NULL, o->box_file,
                        o->prompts_path};
  const char *in_names[3] = {"the input video", "--box-file", "--prompts"};
  for (int a = 0; a < 4; a++) {
    for (int b = 0; b < 3; b++) {
      if (!outs[a] || !ins[b] || !kat_cli_same_file(outs[a], ins[b])) continue;
      fprintf(stderr, "katana track: %s '%s' is %s '%s'; refusing to write over an input\n",
              out_names[a], outs[a], in_names[b], ins[b]);
      return 2;
    }
  }
  if (o->overlay && (kat_cli_same_file(o->overlay, boxes) || kat_cli_same_file(o->overlay, jsonl) ||
                     kat_cli_same_file(o->overlay, tracks))) {
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

/* ---- the run (track_run.c) ---- */

/* What the run's callbacks reach: the signal watcher and the outcome (for the FPS). */
typedef struct progress_ctx {
  interrupt_watch *w;
  kat_cli_track_outcome *out;
} progress_ctx;

static void on_stream(void *ctx, kat_stream *st) {
  watch_set_stream(((progress_ctx *)ctx)->w, st);
}

static int on_interrupted(void *ctx) {
  return watch_signal(((progress_ctx *)ctx)->w);
}

/* The progress line (frames, FPS, ETA) on a terminal. */
static void on_frame(void *ctx, size_t i, long total, const kat_track_result *res, int count) {
  const kat_cli_track_outcome *out = ((progress_ctx *)ctx)->out;
  (void)res;
  (void)count;
  double fps = i > 0 && out->elapsed_ms > 0 ? (double)i * 1000.0 / out->elapsed_ms : 0.0;
  fprintf(stderr, "\rframe %zu", i + 1);
  if (total > 0) fprintf(stderr, "/%ld", total);
  fprintf(stderr, "  %.1f FPS", fps);
  if (total > 0 && fps > 0) fprintf(stderr, "  ETA %.0f s", (double)(total - (long)i - 1) / fps);
  fputs("   ", stderr);
}

/* Prints the warnings for prompts past the end and the summary line. */
static void track_report(const track_opts *o, const kat_cli_track_outcome *out) {
  const size_t i = out->frames;
  for (size_t k = 0; k < o->n_prompts; k++)
    if (o->prompts[k].frame >= (int64_t)i)
      fprintf(stderr,
              "katana track: warning: %s (frame %lld, object %d) was not applied: the "
              "video has %zu frames\n",
              o->origin[k], (long long)o->prompts[k].frame, o->prompts[k].obj_id, i);
  if (o->quiet) return;
  const kat_stream_stats *ss = &out->stats;
  fprintf(stderr,
          "katana track: %zu frames (%s), %.1f wall FPS after the first frame, frame interval "
          "p50 %.1f ms p95 %.1f ms, latency p50 %.1f ms p95 %.1f ms; results in %s\n",
          i, o->pipeline ? "pipelined" : "sequential",
          i > 1 && out->elapsed_ms > 0 ? (double)(i - 1) * 1000.0 / out->elapsed_ms : 0.0,
          ss->p50_ms[5], ss->p95_ms[5], ss->p50_ms[4], ss->p95_ms[4], o->out_dir);
  if (ss->dropped) fprintf(stderr, "katana track: %lld frames dropped\n", (long long)ss->dropped);
}

static int track_run(track_opts *o, interrupt_watch *w, int watching) {
  kat_cli_track_job job;
  kat_cli_track_outcome *out = malloc(sizeof *out);
  if (!out) {
    fprintf(stderr, "katana track: out of memory\n");
    return 1;
  }
  progress_ctx pc = {w, out};
  memset(&job, 0, sizeof job);
  job.bundle = o->model;
  job.input = o->input;
  kat_stream_options_init(&job.sopt);
  job.sopt.tracker = o->tracker;
  job.sopt.source = o->source;
  job.sopt.pipeline = o->pipeline;
  job.sopt.keep_frames = o->overlay != NULL;
  job.sopt.max_frames = o->max_frames > 0 ? o->max_frames : 0;
  job.prompts = o->prompts;
  job.n_prompts = o->n_prompts;
  job.origin = (const char(*)[64])o->origin;
  job.prompts_path = o->prompts_path;
  job.classic = o->classic;
  memcpy(job.box, o->box, sizeof job.box);
  job.out_dir = o->out_dir;
  job.masks = o->masks;
  job.overlay = o->overlay;
  job.ctx = &pc;
  const int tty = !o->quiet && isatty(2);
  if (watching) {
    job.on_stream = on_stream;
    job.interrupted = on_interrupted;
  }
  if (tty) job.on_frame = on_frame;
  int status = kat_cli_track_run(&job, out);
  if (tty && out->looped) fputc('\n', stderr);
  if (status) fprintf(stderr, "katana track: %s\n", out->error);
  int sig = watching ? watch_signal(w) : 0;
  if (status == 0 && !sig) track_report(o, out);
  if (sig) {
    fprintf(stderr,
            "katana track: interrupted by %s after %zu frames; their results are in %s%s%s\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", out->frames, o->out_dir,
            o->overlay ? " and the overlay is finished: " : "", o->overlay ? o->overlay : "");
    status = 128 + sig;
  }
  free(out);
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
  free(o.boxes);
  free(o.prompts);
  free(o.origin);
  kat_prompts_free(o.file_prompts);
  return rc < 0 ? 0 : rc;
}
