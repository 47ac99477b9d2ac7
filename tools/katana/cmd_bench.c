/*
 * katana bench: per-module latency (each ONNX module alone, warm), end-to-end per-frame latency
 * and FPS through the stream (sequential and pipelined), run-to-run spread, session creation cold
 * and warm, peak RSS, each stage's share of the frame and the host overhead ratio, for several
 * bundles, execution-provider presets, execution modes and preprocessing choices side by side.
 * Prints a report per configuration and a comparison table; --json and --html write the reports
 * (bench/bench.h). Every report names the machine.
 *
 * Each configuration runs in a child process (fork) unless --same-process: the child's peak RSS
 * and its session creation are then its own (truly cold), not left over from an earlier one.
 * The child sends its report back through a pipe. Uses only the public API.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_parse.h"
#include "bench/bench.h"
#include "katana/katana.h"

#define MAX_LIST 8

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: katana bench --model BUNDLE[,BUNDLE...] [options]\n"
      "\n"
      "Compares every combination of the bundles, presets, modes and preprocessing choices\n"
      "side by side in one run.\n"
      "\n"
      "options:\n"
      "  --model LIST       bundle folders, comma-separated or repeated (alias --bundle)\n"
      "  --ep LIST          execution-provider presets, comma-separated or repeated\n"
      "                     (alias --preset; default cpu): cpu, cuda, tensorrt, mac\n"
      "  --modes LIST       seq (every stage on one thread) and/or pipe (the 3-stage\n"
      "                     pipelined stream, katana/stream.h) (default seq,pipe)\n"
      "  --prep LIST        exact (reference resize and boxes) and/or fast (default exact)\n"
      "  --input DIR        track a sequence folder (img/ or frames/, groundtruth.txt, masks/,\n"
      "                     as katana synth writes) instead of the built-in synthetic clip,\n"
      "                     and score it too (AUC, P@20, mIoU) (alias --clip)\n"
      "  --frames N         frames timed end to end per repeat (default 60)\n"
      "  --warmup K         discarded runs per module and first frames (default 3)\n"
      "  --iterations N     timed runs per module alone (default 20)\n"
      "  --repeat R         end-to-end runs per configuration, for the run-to-run spread\n"
      "                     of the FPS (default 1, at most %d)\n"
      "  --size WxH         synthetic frame size (default 640x360)\n"
      "  --objects LIST     objects tracked at once, e.g. 1,2,4,8 (default 1): object 0 from\n"
      "                     the clip, the others from boxes spread over the frame; a table\n"
      "                     compares each K with IE + K x (per-object modules)\n"
      "  --threads N        intra-op threads for every module session (default: the\n"
      "                     preset's; pipe mode on the CPU: half the cores per session)\n"
      "  --no-modules       skip timing the modules alone\n"
      "  --json FILE        write the reports as JSON ('-' for stdout)\n"
      "  --html FILE        write a self-contained HTML report (inline SVG charts)\n"
      "  --same-process     run every configuration in this process (default: one child\n"
      "                     process each, so peak RSS and cold init are per configuration)\n"
      "\n"
      "Frame time: seq mode, from pushing a frame to its result; pipe mode, the interval\n"
      "between consecutive results (per-frame latency is reported separately). FPS p50 =\n"
      "1000 / median frame time; wall FPS = timed frames / their wall time. A progress bar\n"
      "is drawn on stderr when it is a terminal. --mode is the old name of --prep (it also\n"
      "takes seq/pipe).\n",
      KAT_BENCH_MAX_REPEAT);
}

/* A list option: comma-separated values, the option may be repeated. */
typedef struct name_list {
  char buf[1024];
  size_t used;
  const char *item[MAX_LIST];
  int n;
} name_list;

/* Appends the comma-separated items of s; -1 when too many, empty or too long. */
static int list_add(name_list *l, const char *s) {
  size_t len = strlen(s);
  if (len == 0 || l->used + len + 1 > sizeof l->buf) return -1;
  char *p = l->buf + l->used;
  memcpy(p, s, len + 1);
  l->used += len + 1;
  for (;;) {
    if (l->n == MAX_LIST) return -1;
    char *c = strchr(p, ',');
    if (c) *c = '\0';
    if (*p == '\0') return -1;
    l->item[l->n++] = p;
    if (!c) return 0;
    p = c + 1;
  }
}

static int list_has_only(const name_list *l, const char *a, const char *b) {
  for (int i = 0; i < l->n; i++)
    if (strcmp(l->item[i], a) != 0 && strcmp(l->item[i], b) != 0) return 0;
  return 1;
}

/* ---- progress bar (stderr, only on a terminal) ---- */

typedef struct progress {
  int enabled;
  char label[200];
  double last_ms;
  int drawn;
} progress;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void progress_cb(void *user, const char *phase, size_t done, size_t total) {
  progress *p = user;
  if (!p->enabled) return;
  double t = now_ms();
  if (done < total && t - p->last_ms < 100.0) return;
  p->last_ms = t;
  enum { WIDTH = 30 };
  int fill = total ? (int)((double)WIDTH * (double)done / (double)total) : 0;
  char bar[WIDTH + 1];
  for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
  bar[WIDTH] = '\0';
  fprintf(stderr, "\r\033[K%s %-7s [%s] %zu/%zu", p->label, phase, bar, done, total);
  fflush(stderr);
  p->drawn = 1;
}

/* Clears the bar (also one a child process drew). */
static void progress_clear(progress *p) {
  if (p->enabled) fputs("\r\033[K", stderr);
  p->drawn = 0;
}

/* ---- terminal report ---- */

static void print_report(const kat__bench_report *r) {
  printf("machine: %s\n", r->machine);
  printf("model: %s (%s)   preset: %s   mode: %s   prep: %s   threads: %s   objects: %d\n",
         r->model, r->bundle, r->preset, r->mode, r->prep, r->threads, r->objects);
  printf("precision: %s\n", r->precision);
  if (r->clip[0]) {
    printf("clip %s: %d timed frames x %d repeat(s) after %d warm-up\n", r->clip, r->frames,
           r->repeat, r->warmup);
  } else {
    printf("synthetic %dx%d: %d timed frames x %d repeat(s) after %d warm-up\n", r->width,
           r->height, r->frames, r->repeat, r->warmup);
  }
  int any = 0;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) any |= r->module_ran[m];
  printf("  %-18s %9s %9s %9s %9s\n", "ms", "min", "p50", "p95", "p99");
  if (any) {
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      if (!r->module_ran[m]) continue;
      const kat__bench_stats *s = &r->module[m];
      printf("  %-18s %9.3f %9.3f %9.3f %9.3f   (alone, %d timed runs)\n",
             kat_module_name((kat_module)m), s->min, s->p50, s->p95, s->p99, r->iterations);
    }
  }
  printf("  %-18s %9.3f %9.3f %9.3f %9.3f   (%s)\n", "frame", r->frame.min, r->frame.p50,
         r->frame.p95, r->frame.p99,
         strcmp(r->mode, "pipe") == 0 ? "interval between results" : "push to result");
  printf("  %-18s %9.3f %9.3f %9.3f %9.3f   (push to result)\n", "latency", r->latency.min,
         r->latency.p50, r->latency.p95, r->latency.p99);
  printf("  fps_p50 %.2f   wall_fps %.2f", r->fps_p50, r->wall_fps);
  if (r->repeat > 1) {
    printf("   repeats:");
    for (int i = 0; i < r->repeat; i++) printf(" %.2f", r->repeat_wall_fps[i]);
    printf(" (spread %.1f%%)", 100.0 * r->wall_fps_spread);
  }
  printf("\n  stages (mean ms, share of the frame's compute):");
  for (int s = 0; s < KAT_BENCH_STAGE_COUNT; s++)
    printf("%s %s %.2f (%.1f%%)", s ? "," : "", kat__bench_stage_name(s), r->stage_ms[s],
           100.0 * r->stage_share[s]);
  printf("\n  init cold %.1f ms, warm %.1f ms   peak RSS %.1f MiB", r->init_cold_ms,
         r->init_warm_ms, r->peak_rss_mb);
  if (isfinite(r->host_overhead_ratio))
    printf("   host overhead ratio %.3f (frame p50 / sum of module p50)", r->host_overhead_ratio);
  printf("\n");
  if (r->has_accuracy) {
    printf("  accuracy on the clip: AUC %.2f  P@20 %.2f  NP@.2 %.2f  AO %.2f", 100.0 * r->auc,
           100.0 * r->precision_20, 100.0 * r->norm_precision, 100.0 * r->mean_box_iou);
    if (r->mask_frames) printf("  mIoU %.2f (%zu masks)", 100.0 * r->miou, r->mask_frames);
    printf("  (%zu scored frames)\n", r->scored_frames);
  }
  if (r->throttled)
    printf(
        "  WARNING: the last third of the frames ran %.0f%% slower than the first third "
        "(throttling or other load); the numbers are suspect\n",
        100.0 * (r->throttle_ratio - 1.0));
}

static void print_comparison(const kat__bench_report *reps, int n) {
  printf("\n%-40s %10s %10s %9s %9s %12s %8s %9s  %s\n", "model / preset / mode[-prep]",
         "frame p50", "frame p95", "fps_p50", "wall_fps", "init c/w", "RSS MiB", "overhead",
         "int8 modules");
  for (int i = 0; i < n; i++) {
    const kat__bench_report *r = &reps[i];
    char label[200], init[40];
    char k[16] = "";
    if (r->objects > 1) snprintf(k, sizeof k, " K=%d", r->objects);
    snprintf(label, sizeof label, "%s / %s / %s%s%s", r->model, r->preset, r->mode,
             strcmp(r->prep, "fast") == 0 ? "-fast" : "", k);
    snprintf(init, sizeof init, "%.0f/%.0f", r->init_cold_ms, r->init_warm_ms);
    char int8[128] = "none";
    size_t used = 0;
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      char pat[64];
      snprintf(pat, sizeof pat, "%s=int8", kat_module_name((kat_module)m));
      if (!strstr(r->precision, pat)) continue;
      int w = snprintf(int8 + used, sizeof int8 - used, "%s%s", used ? "," : "",
                       kat_module_name((kat_module)m));
      if (w > 0 && (size_t)w < sizeof int8 - used) used += (size_t)w;
    }
    printf("%-40s %10.2f %10.2f %9.2f %9.2f %12s %8.0f %9.3f  %s\n", label, r->frame.p50,
           r->frame.p95, r->fps_p50, r->wall_fps, init, r->peak_rss_mb, r->host_overhead_ratio,
           int8);
  }
}

/*
 * Several objects: per configuration, frame time against K. Target (issue 13): frame(K) <= IE +
 * K x (MA + MD + ME) x 1.05, with the modules' isolated p50 of the same run. The marginal cost
 * of one more object is (frame(K) - frame(1)) / (K - 1), beside the per-object modules alone;
 * the library runs the objects' modules one after another (no batch dimension in bundle format
 * 1 or 2), so that is the sequential per-object cost.
 */
static void print_objects(const kat__bench_report *reps, int n) {
  int shown = 0;
  for (int i = 0; i < n; i++) {
    const kat__bench_report *b = &reps[i];
    if (b->objects != 1) continue;
    int more = 0;
    for (int j = i + 1; j < n && reps[j].objects > 1 && strcmp(reps[j].mode, b->mode) == 0; j++)
      more++;
    if (!more) continue;
    int have = b->module_ran[0] && b->module_ran[1] && b->module_ran[2] && b->module_ran[3];
    printf("\n%s / %s / %s%s: frame time against objects (ms, p50)%s\n", b->model, b->preset,
           b->mode, strcmp(b->prep, "fast") == 0 ? "-fast" : "",
           have ? "" : " (no module timings: --no-modules)");
    printf("  %3s %10s %10s %12s %8s %14s %14s %9s %12s\n", "K", "frame", "IE", "per-object",
           "target", "frame/target", "marginal/obj", "RSS MiB", "RSS +/obj");
    for (int j = i; j <= i + more; j++) {
      const kat__bench_report *r = &reps[j];
      const double ie = r->module[KAT_MODULE_IMAGE_ENCODER].p50;
      const double per = r->module[KAT_MODULE_MEMORY_ATTENTION].p50 +
                         r->module[KAT_MODULE_MASK_DECODER].p50 +
                         r->module[KAT_MODULE_MEMORY_ENCODER].p50;
      const double target = (ie + r->objects * per) * 1.05;
      const int k = r->objects;
      double marginal = k > 1 ? (r->frame.p50 - b->frame.p50) / (k - 1) : NAN;
      double rss = k > 1 ? (r->peak_rss_mb - b->peak_rss_mb) / (k - 1) : NAN;
      printf("  %3d %10.2f %10.2f %12.2f %8.2f %14.3f %14.2f %9.1f %12.2f\n", k, r->frame.p50,
             have ? ie : NAN, have ? per : NAN, have ? target : NAN,
             have ? r->frame.p50 / target : NAN, marginal, r->peak_rss_mb, rss);
    }
    shown++;
  }
  if (shown)
    printf(
        "  (target = (IE + K x per-object modules) x 1.05, the modules timed alone in the same "
        "run; marginal/obj = (frame(K) - frame(1)) / (K - 1), objects run one after another)\n");
}

/* ---- running a configuration, here or in a child ---- */

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/*
 * The child-to-parent protocol, in this order: a magic number, the status (int32), the message
 * length (uint32, < KAT_ERROR_SIZE) and that many bytes, the report (the same binary, forked),
 * then with KAT_OK its frame_ms_count doubles. The parent checks every length before it reads,
 * so neither side relies on the other's buffer sizes.
 */
#define BENCH_PIPE_MAGIC 0x4b415442u /* "KATB" */
#define BENCH_MAX_FRAME_MS ((size_t)1 << 26)

/* Runs one configuration in a forked child; its report comes back through a pipe. */
static int run_isolated(const kat__bench_options *o, kat__bench_report *r, char *err,
                        size_t err_size) {
  int fds[2];
  memset(r, 0, sizeof *r);
  if (pipe(fds) != 0) {
    snprintf(err, err_size, "pipe: %s", strerror(errno));
    return KAT_EIO;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, err_size, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return KAT_EIO;
  }
  if (pid == 0) {
    close(fds[0]);
    char cerr[KAT_ERROR_SIZE] = "";
    kat__bench_report cr;
    int32_t st = kat__bench_run(o, &cr, cerr, sizeof cerr);
    cerr[sizeof cerr - 1] = '\0';
    const uint32_t magic = BENCH_PIPE_MAGIC, len = (uint32_t)strlen(cerr);
    int ok = write_all(fds[1], &magic, sizeof magic) == 0 &&
             write_all(fds[1], &st, sizeof st) == 0 && write_all(fds[1], &len, sizeof len) == 0 &&
             write_all(fds[1], cerr, len) == 0 && write_all(fds[1], &cr, sizeof cr) == 0 &&
             (st != KAT_OK ||
              write_all(fds[1], cr.frame_ms, cr.frame_ms_count * sizeof *cr.frame_ms) == 0);
    kat__bench_report_cleanup(&cr);
    close(fds[1]);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  int32_t st = KAT_EIO;
  uint32_t magic = 0, len = 0;
  char msg[KAT_ERROR_SIZE] = "";
  const char *bad = NULL;
  int got = read_all(fds[0], &magic, sizeof magic) == 0 && magic == BENCH_PIPE_MAGIC &&
            read_all(fds[0], &st, sizeof st) == 0 && read_all(fds[0], &len, sizeof len) == 0;
  if (got && len >= sizeof msg) {
    got = 0;
    bad = "a message longer than KAT_ERROR_SIZE";
  }
  got = got && read_all(fds[0], msg, len) == 0 && read_all(fds[0], r, sizeof *r) == 0;
  msg[got ? len : 0] = '\0';
  r->frame_ms = NULL;
  if (got && st == KAT_OK) {
    if (r->frame_ms_count > BENCH_MAX_FRAME_MS) {
      got = 0;
      bad = "an implausible sample count";
    } else {
      double *ms = r->frame_ms_count ? calloc(r->frame_ms_count, sizeof *ms) : NULL;
      got = (ms || r->frame_ms_count == 0) &&
            (r->frame_ms_count == 0 || read_all(fds[0], ms, r->frame_ms_count * sizeof *ms) == 0);
      r->frame_ms = got ? ms : NULL;
      if (!got) free(ms);
    }
  }
  if (got && st != KAT_OK) r->frame_ms_count = 0;
  close(fds[0]);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (!got) {
    memset(r, 0, sizeof *r);
    if (bad) {
      snprintf(err, err_size, "the benchmark process sent %s", bad);
    } else if (WIFSIGNALED(ws)) {
      snprintf(err, err_size, "the benchmark process died (signal %d)", WTERMSIG(ws));
    } else {
      snprintf(err, err_size, "the benchmark process exited without a report (status %d)",
               WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    return KAT_EINTERNAL;
  }
  if (err_size) snprintf(err, err_size, "%s", msg);
  return st;
}

/* The options of one katana bench call (parse_args). */
typedef struct kat__bench_cli {
  kat__bench_options o;
  name_list models, presets, modes, preps, objects;
  int obj_k[MAX_LIST]; /* the --objects counts, parsed */
  const char *json_path, *html_path;
  int same_process;
} kat__bench_cli;

/* Fills *cl from argv. Returns -1 to go on, else the exit status (0 after --help, 2 on misuse). */
static int parse_args(int argc, char **argv, kat__bench_cli *cl) {
  memset(cl, 0, sizeof *cl);
  kat__bench_options_init(&cl->o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--no-modules") == 0) {
      cl->o.skip_modules = 1;
      continue;
    } else if (strcmp(a, "--same-process") == 0) {
      cl->same_process = 1;
      continue;
    } else if (!v) {
      bad = 1;
    } else if (strcmp(a, "--model") == 0 || strcmp(a, "--bundle") == 0) {
      bad = list_add(&cl->models, v);
    } else if (strcmp(a, "--ep") == 0 || strcmp(a, "--preset") == 0) {
      bad = list_add(&cl->presets, v);
    } else if (strcmp(a, "--modes") == 0) {
      bad = list_add(&cl->modes, v);
    } else if (strcmp(a, "--objects") == 0) {
      bad = list_add(&cl->objects, v);
    } else if (strcmp(a, "--prep") == 0) {
      bad = list_add(&cl->preps, v);
    } else if (strcmp(a, "--mode") == 0) {
      /* The old name of --prep; seq/pipe values go to --cl->modes. */
      name_list tmp;
      memset(&tmp, 0, sizeof tmp);
      bad = list_add(&tmp, v);
      if (!bad && list_has_only(&tmp, "exact", "fast")) {
        bad = list_add(&cl->preps, v);
      } else if (!bad && list_has_only(&tmp, "seq", "pipe")) {
        bad = list_add(&cl->modes, v);
      } else {
        bad = 1;
      }
    } else if (strcmp(a, "--frames") == 0) {
      bad = kat_cli_parse_int(v, 2, 1000000, &cl->o.frames, NULL, 0);
    } else if (strcmp(a, "--iterations") == 0) {
      bad = kat_cli_parse_int(v, 1, 1000000, &cl->o.iterations, NULL, 0);
    } else if (strcmp(a, "--warmup") == 0) {
      bad = kat_cli_parse_int(v, 0, 10000, &cl->o.warmup, NULL, 0);
    } else if (strcmp(a, "--repeat") == 0) {
      bad = kat_cli_parse_int(v, 1, KAT_BENCH_MAX_REPEAT, &cl->o.repeat, NULL, 0);
    } else if (strcmp(a, "--threads") == 0) {
      char why[256];
      int n = 0;
      if (kat_cli_parse_threads(v, 1, &cl->o.intra_op_threads, &n, why, sizeof why)) {
        fprintf(stderr, "katana bench: bad --threads: %s\n", why);
        return 2;
      }
    } else if (strcmp(a, "--size") == 0) {
      bad = kat_cli_parse_size(v, 32, 8192, &cl->o.width, &cl->o.height, NULL, 0);
    } else if (strcmp(a, "--json") == 0) {
      cl->json_path = v;
    } else if (strcmp(a, "--html") == 0) {
      cl->html_path = v;
    } else if (strcmp(a, "--input") == 0 || strcmp(a, "--clip") == 0) {
      cl->o.clip_dir = v;
    } else {
      bad = 1;
    }
    if (bad) {
      fprintf(stderr, "katana bench: bad or unknown option: %s%s%s\n\n", a, v ? " " : "",
              v ? v : "");
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (cl->models.n == 0) {
    fprintf(stderr, "katana bench: --model is required\n\n");
    usage(stderr);
    return 2;
  }
  if (cl->presets.n == 0) list_add(&cl->presets, "cpu");
  if (cl->modes.n == 0) list_add(&cl->modes, "seq,pipe");
  if (cl->preps.n == 0) list_add(&cl->preps, "exact");
  if (!list_has_only(&cl->modes, "seq", "pipe") || !list_has_only(&cl->preps, "exact", "fast")) {
    fprintf(stderr, "katana bench: --modes takes seq and/or pipe, --prep exact and/or fast\n");
    return 2;
  }
  if (cl->objects.n == 0) list_add(&cl->objects, "1");
  for (int k = 0; k < cl->objects.n; k++) {
    char why[256];
    if (kat_cli_parse_int(cl->objects.item[k], 1, KAT_BENCH_MAX_OBJECTS, &cl->obj_k[k], why,
                          sizeof why)) {
      fprintf(stderr, "katana bench: bad --objects '%s': %s\n", cl->objects.item[k], why);
      return 2;
    }
  }
  return -1;
}

int kat_cmd_bench(int argc, char **argv) {
  static kat__bench_cli args; /* five 1 KiB lists: not on the stack */
  kat__bench_cli *cl = &args;
  int prc = parse_args(argc, argv, cl);
  if (prc >= 0) return prc;
  int total = cl->models.n * cl->presets.n * cl->preps.n * cl->modes.n * cl->objects.n;
  kat__bench_report *reps = calloc((size_t)total, sizeof *reps);
  if (!reps) {
    fprintf(stderr, "katana bench: out of memory\n");
    return 1;
  }
  progress pr;
  memset(&pr, 0, sizeof pr);
  pr.enabled = isatty(STDERR_FILENO);
  cl->o.progress = progress_cb;
  cl->o.progress_user = &pr;
  int rc = 0, n = 0;
  char err[KAT_ERROR_SIZE];
  for (int b = 0; b < cl->models.n && rc == 0; b++) {
    for (int p = 0; p < cl->presets.n && rc == 0; p++) {
      for (int q = 0; q < cl->preps.n && rc == 0; q++) {
        for (int mk = 0; mk < cl->modes.n * cl->objects.n && rc == 0; mk++) {
          const int m = mk / cl->objects.n;
          cl->o.objects = cl->obj_k[mk % cl->objects.n];
          cl->o.bundle_dir = cl->models.item[b];
          cl->o.preset = cl->presets.item[p];
          cl->o.prep = cl->preps.item[q];
          cl->o.mode = cl->modes.item[m];
          const char *base = strrchr(cl->models.item[b], '/');
          base = base && base[1] ? base + 1 : cl->models.item[b];
          snprintf(pr.label, sizeof pr.label, "[%d/%d] %s %s %s%s K=%d", n + 1, total, base,
                   cl->presets.item[p], cl->modes.item[m],
                   strcmp(cl->preps.item[q], "fast") == 0 ? "-fast" : "", cl->o.objects);
          pr.last_ms = 0.0;
          kat__bench_report *r = &reps[n];
          err[0] = '\0';
          int st = cl->same_process ? kat__bench_run(&cl->o, r, err, sizeof err)
                                    : run_isolated(&cl->o, r, err, sizeof err);
          progress_clear(&pr);
          if (st != KAT_OK) {
            fprintf(stderr, "katana bench: %s %s %s/%s: %s (%s)\n", cl->models.item[b],
                    cl->presets.item[p], cl->modes.item[m], cl->preps.item[q], err,
                    kat_status_name(st));
            kat__bench_report_cleanup(r);
            rc = 1;
            break;
          }
          n++;
          if (n > 1) printf("\n");
          print_report(r);
          fflush(stdout);
        }
      }
    }
  }
  if (rc == 0 && n > 1) print_comparison(reps, n);
  if (rc == 0) print_objects(reps, n);
  if (rc == 0 && cl->json_path &&
      kat__bench_write_json(cl->json_path, reps, (size_t)n, err, sizeof err)) {
    fprintf(stderr, "katana bench: %s\n", err);
    rc = 1;
  }
  if (rc == 0 && cl->html_path &&
      kat__bench_write_html(cl->html_path, reps, (size_t)n, err, sizeof err)) {
    fprintf(stderr, "katana bench: %s\n", err);
    rc = 1;
  }
  for (int i = 0; i < n; i++) kat__bench_report_cleanup(&reps[i]);
  free(reps);
  return rc;
}
