/*
 * katana batch: runs every line of a manifest (include/katana/batch.h, docs/batch.md) that falls
 * in this process's shard, each line in-process with the run of katana track (track_run.c: boxes,
 * points, prompts files, several objects, masks), and writes each line's results into OUT/<id>/
 * in the katana track layout. The model is opened once (kat_model_open) and every line's stream
 * is opened on it (kat_stream_open_on_model), so its sessions are loaded once per process.
 *
 * Resumption. A line is done when OUT/<id>/DONE exists; it is written last (after the results are
 * fsync'ed) through DONE.tmp and rename(), so it is there whole or not at all. A rerun skips done
 * lines and redoes every other line from the start: a half-written line (killed mid-run) and a
 * failed one (OUT/<id>/ERROR, also written by rename) are cleared and run again. Each line holds
 * an flock on OUT/<id>/.lock while it runs, so two processes given overlapping shards never write
 * one line at once (the second reports it busy and leaves it).
 *
 * DESIGN (threads). --jobs J starts J workers; each takes the next line of the shard from a
 * counter under one mutex and runs it with its own stream on the shared model, so J lines run at
 * once and the thread budget (--threads, default the online cores) is split between them by
 * kat_ep_profile_share_cores (J * 2 sessions at once when pipelined). The same mutex guards the
 * totals and the progress line. SIGINT/SIGTERM only set an atomic flag and write a byte to a
 * self-pipe; a watcher thread then cancels every running stream (kat_stream_cancel is safe from
 * any thread), workers take no new line, and the command exits 128 + the signal; the lines that
 * were running keep no DONE, so a rerun redoes them.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_fs.h"
#include "cli_parse.h"
#include "cli_results.h"
#include "track_run.h"
#include "katana/katana.h"

/* Exit statuses besides 0 (all lines done) and 1..100 (that many lines failed, capped). */
#define EXIT_USAGE 101   /* a usage error */
#define EXIT_NOSTART 102 /* the manifest or the output folder cannot be used */
#define MAX_JOBS 64

static void batch_usage(FILE *f) {
  fprintf(f,
          "usage: katana batch MANIFEST [--model DIR] --out DIR [--shard I/N | --shard-count N]\n"
          "                    [--jobs J] [--threads T] [--ep PRESET] [--pipeline on|off]\n"
          "                    [--masks] [--quiet]\n"
          "       katana batch --report DIR\n\n"
          "Runs every line of MANIFEST (JSONL or CSV: one video per line with its prompts;\n"
          "docs/batch.md) whose 0-based index i has i %% N == I, and writes each line's results\n"
          "to DIR/<line-id>/ in the katana track layout (boxes.txt, results.jsonl, masks/).\n"
          "A line is done when DIR/<line-id>/DONE is there (written last, by rename); a rerun\n"
          "skips done lines and redoes the others. A failing line gets DIR/<line-id>/ERROR with\n"
          "the message, and the batch goes on.\n"
          "Shard: --shard I/N; else SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of\n"
          "SLURM_ARRAY_TASK_COUNT; else JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) of\n"
          "--shard-count N or KATANA_SHARD_COUNT; else all lines.\n"
          "Each line runs as katana track runs the same prompts (box: --box, points: --point,\n"
          "prompts: --prompts; several objects, masks, later frames).\n"
          "--jobs J runs J lines at once on one model, opened once; each module session gets\n"
          "max(1, T / (2 J)) threads (T / J with --pipeline off) of --threads T (default: the\n"
          "online cores). A progress line is shown when stderr is a terminal.\n"
          "--report DIR prints counts, frames, FPS, failures and mean scores (lines with\n"
          "groundtruth) of a batch output folder.\n"
          "Exit status: 0 when every line of the shard is done, N (at most 100) when N lines\n"
          "failed, 101 on a usage error, 102 when MANIFEST or DIR cannot be used, 128+signal\n"
          "when interrupted.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("katana batch: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_USAGE;
}

typedef struct batch_opts {
  const char *manifest, *model, *out, *ep, *report;
  long shard_i, shard_n;
  const char *shard_from; /* where the shard came from, for messages */
  long jobs, threads;
  int pipeline, masks, quiet;
} batch_opts;

/* An environment variable as a long in [lo, hi]: 1 when set and valid, 0 when unset, -1 bad. */
static int env_long(const char *name, long lo, long hi, long *out) {
  const char *v = getenv(name);
  char why[128];
  if (!v || !v[0]) return 0;
  if (kat_cli_parse_long(v, lo, hi, out, why, sizeof why)) {
    fprintf(stderr, "katana batch: %s='%s': %s\n", name, v, why);
    return -1;
  }
  return 1;
}

/* The shard from --shard, Slurm's array variables, or JOB_COMPLETION_INDEX. */
static int batch_shard(batch_opts *o, const char *shard_s, long shard_count) {
  char why[128];
  if (shard_s) {
    const char *slash = strchr(shard_s, '/');
    char i_s[32];
    if (!slash || (size_t)(slash - shard_s) >= sizeof i_s)
      return usage_error("--shard must be I/N, not '%s'", shard_s);
    memcpy(i_s, shard_s, (size_t)(slash - shard_s));
    i_s[slash - shard_s] = '\0';
    if (kat_cli_parse_long(slash + 1, 1, 1000000, &o->shard_n, why, sizeof why) ||
        kat_cli_parse_long(i_s, 0, o->shard_n - 1, &o->shard_i, why, sizeof why))
      return usage_error("--shard '%s': %s (I/N with 0 <= I < N)", shard_s, why);
    o->shard_from = "--shard";
    return 0;
  }
  long id = 0, count = 0, min = 0;
  int has_id = env_long("SLURM_ARRAY_TASK_ID", 0, 100000000, &id);
  int has_count = env_long("SLURM_ARRAY_TASK_COUNT", 1, 1000000, &count);
  int has_min = env_long("SLURM_ARRAY_TASK_MIN", 0, 100000000, &min);
  if (has_id < 0 || has_count < 0 || has_min < 0) return EXIT_USAGE;
  if (has_id) {
    long max = 0, step = 1;
    if (!has_count) return usage_error("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT");
    if (env_long("SLURM_ARRAY_TASK_MAX", 0, 100000000, &max) == 1 &&
        (env_long("SLURM_ARRAY_TASK_STEP", 1, 100000000, &step) < 0 || step != 1 ||
         max - min + 1 != count))
      return usage_error(
          "the Slurm array must be a contiguous range (--array=A-B, step 1) for "
          "sharding; it is %ld-%ld step %ld with %ld tasks",
          min, max, step, count);
    if (id < min || id - min >= count)
      return usage_error("SLURM_ARRAY_TASK_ID %ld is outside %ld..%ld", id, min, min + count - 1);
    o->shard_i = id - min;
    o->shard_n = count;
    o->shard_from = "SLURM_ARRAY_TASK_ID";
    return 0;
  }
  long jci = 0;
  int has_jci = env_long("JOB_COMPLETION_INDEX", 0, 100000000, &jci);
  if (has_jci < 0) return EXIT_USAGE;
  if (has_jci) {
    if (!shard_count && env_long("KATANA_SHARD_COUNT", 1, 1000000, &shard_count) <= 0)
      return usage_error(
          "JOB_COMPLETION_INDEX is set: give the number of shards with "
          "--shard-count N or KATANA_SHARD_COUNT (the Job's completions)");
    if (jci >= shard_count)
      return usage_error("JOB_COMPLETION_INDEX %ld is not below the shard count %ld", jci,
                         shard_count);
    o->shard_i = jci;
    o->shard_n = shard_count;
    o->shard_from = "JOB_COMPLETION_INDEX";
    return 0;
  }
  o->shard_i = 0;
  o->shard_n = 1;
  o->shard_from = "no shard given";
  return 0;
}

/* Fills o from argv: 0 to run, -1 after --help, else the exit status. */
static int batch_parse(int argc, char **argv, batch_opts *o) {
  char why[256];
  const char *shard_s = NULL;
  long shard_count = 0;
  memset(o, 0, sizeof *o);
  o->ep = "cpu";
  o->jobs = 1;
  o->pipeline = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      batch_usage(stdout);
      return -1;
    }
    if (!strcmp(a, "--masks")) {
      o->masks = 1;
      continue;
    }
    if (!strcmp(a, "--quiet")) {
      o->quiet = 1;
      continue;
    }
    if (a[0] != '-') {
      if (o->manifest) return usage_error("more than one MANIFEST ('%s', '%s')", o->manifest, a);
      o->manifest = a;
      continue;
    }
    if (!v) return usage_error("%s needs a value", a);
    i++;
    if (!strcmp(a, "--model")) {
      o->model = v;
    } else if (!strcmp(a, "--out")) {
      o->out = v;
    } else if (!strcmp(a, "--report")) {
      o->report = v;
    } else if (!strcmp(a, "--ep")) {
      o->ep = v;
    } else if (!strcmp(a, "--shard")) {
      shard_s = v;
    } else if (!strcmp(a, "--shard-count")) {
      if (kat_cli_parse_long(v, 1, 1000000, &shard_count, why, sizeof why))
        return usage_error("--shard-count: %s", why);
    } else if (!strcmp(a, "--jobs")) {
      if (kat_cli_parse_long(v, 1, MAX_JOBS, &o->jobs, why, sizeof why))
        return usage_error("--jobs: %s", why);
    } else if (!strcmp(a, "--threads")) {
      if (kat_cli_parse_long(v, 1, 4096, &o->threads, why, sizeof why))
        return usage_error("--threads: %s", why);
    } else if (!strcmp(a, "--pipeline")) {
      if (strcmp(v, "on") && strcmp(v, "off"))
        return usage_error("--pipeline must be on or off, not '%s'", v);
      o->pipeline = !strcmp(v, "on");
    } else {
      fprintf(stderr, "katana batch: unknown option '%s'\n", a);
      batch_usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (o->report) {
    if (o->manifest || o->out) return usage_error("--report DIR takes no MANIFEST or --out");
    return 0;
  }
  if (!o->manifest || !o->out) {
    fprintf(stderr, "katana batch: need MANIFEST and --out DIR\n");
    batch_usage(stderr);
    return EXIT_USAGE;
  }
  if (!o->model && !(o->model = kat_default_model_path()))
    return usage_error(
        "no --model given and no default model found (installed in "
        "<prefix>/share/katana/models/default, or set KATANA_MODEL_DIR)");
  if (shard_s && shard_count) return usage_error("give --shard I/N or --shard-count N, not both");
  return batch_shard(o, shard_s, shard_count);
}

/* ---- interruption ---- */

/* The first SIGINT/SIGTERM, 0 if none. Workers read it on other threads, so it is a C11 atomic
 * (lock-free for int, hence async-signal-safe), not a plain volatile sig_atomic_t. */
static _Atomic int g_signo;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal flag must be lock-free");
static int g_wake[2] = {-1, -1};

static void on_signal(int sig) {
  if (g_signo) _exit(128 + sig);
  g_signo = sig;
  const int saved = errno;
  ssize_t r = write(g_wake[1], "s", 1);
  (void)r;
  errno = saved;
}

/* ---- the shared state of the workers ---- */

typedef struct batch_run {
  const batch_opts *o;
  const kat__batch_manifest *m;
  kat_ep_profile ep; /* the preset with the per-line thread split applied */
  kat_model *model;  /* opened once; every line's stream shares it */
  size_t *todo;      /* [n_todo] manifest indices of this shard */
  size_t n_todo;
  pthread_mutex_t mu; /* guards everything below */
  size_t next;        /* next todo position to take */
  kat_stream *running[MAX_JOBS];
  size_t n_done, n_skipped, n_failed, n_busy, n_finished_lines;
  int64_t frames; /* frames tracked by this process */
  double t0_ms, last_progress_ms;
  int tty;
  char host[128];
} batch_run;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *watch_main(void *arg) {
  batch_run *r = arg;
  for (;;) {
    char c;
    ssize_t n = read(g_wake[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == 'q') return NULL;
    pthread_mutex_lock(&r->mu);
    for (int j = 0; j < MAX_JOBS; j++)
      if (r->running[j]) kat_stream_cancel(r->running[j]);
    pthread_mutex_unlock(&r->mu);
  }
}

/* Prints the progress line (mu held). `force`: regardless of the rate limit. */
static void progress(batch_run *r, int force) {
  if (!r->tty) return;
  const double t = now_ms();
  if (!force && t - r->last_progress_ms < 250) return;
  r->last_progress_ms = t;
  const double s = (t - r->t0_ms) / 1000.0;
  fprintf(stderr, "\rbatch %ld/%ld: %zu/%zu lines (%zu done, %zu failed), %lld frames, %.1f FPS   ",
          r->o->shard_i, r->o->shard_n, r->n_finished_lines, r->n_todo, r->n_done + r->n_skipped,
          r->n_failed, (long long)r->frames, s > 0 ? (double)r->frames / s : 0.0);
}

/* ---- one line ---- */

static int join_path(char *out, size_t size, const char *a, const char *b) {
  int n = snprintf(out, size, "%s/%s", a, b);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Writes `text` to dir/name through dir/name.tmp, fsync and rename: whole or absent. */
static int write_atomic(const char *dir, const char *name, const char *text) {
  char path[4200], tmp[4300];
  if (join_path(path, sizeof path, dir, name)) return -1;
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) return -1;
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  int ok = off == len && fsync(fd) == 0;
  if (close(fd)) ok = 0;
  if (!ok || rename(tmp, path)) {
    unlink(tmp);
    return -1;
  }
  int dfd = open(dir, O_RDONLY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

/* What a line run leaves: its frames, seconds and scores for DONE, or the message for ERROR. */
typedef struct line_result {
  int64_t frames;
  double seconds;
  int scored;
  double mean_iou, success50; /* over ground-truth frames with a box */
  int64_t gt_frames;
  int objects;
  size_t prompts_not_applied;
  char error[KAT_ERROR_SIZE + 4608];
} line_result;

static int line_fail(line_result *lr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int line_fail(line_result *lr, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lr->error, sizeof lr->error, fmt, ap);
  va_end(ap);
  return -1;
}

static double box_iou(const double a[4], const kat__eval_box *b) {
  const double x0 = fmax(a[0], b->x), y0 = fmax(a[1], b->y);
  const double x1 = fmin(a[0] + a[2], b->x + b->w), y1 = fmin(a[1] + a[3], b->y + b->h);
  const double inter = fmax(0.0, x1 - x0) * fmax(0.0, y1 - y0);
  const double uni = a[2] * a[3] + b->w * b->h - inter;
  return uni > 0 ? inter / uni : 0.0;
}

/* A line's prompts as katana track takes them: the inline ones or the prompts file's, each
 * with its origin for messages. */
typedef struct line_prompts {
  kat_prompt_list *file; /* the loaded prompts file, or NULL */
  const kat_prompt_list *list;
  char (*origin)[64]; /* [list->count] */
  int classic;        /* one box for object 0 on frame 0 and nothing else: katana track --box */
} line_prompts;

static int line_prompts_load(const kat__batch_entry *e, line_prompts *lp, line_result *lr) {
  char err[KAT_ERROR_SIZE];
  memset(lp, 0, sizeof *lp);
  lp->list = e->prompts;
  if (e->prompts_file) {
    int rc = kat_prompts_load(e->prompts_file, &lp->file, err, sizeof err);
    if (rc) return line_fail(lr, "%s: %s", kat_status_name(rc), err);
    lp->list = lp->file;
  }
  const size_t n = lp->list ? lp->list->count : 0;
  if (n == 0) return line_fail(lr, "KAT_EINVAL: the line has no prompt");
  lp->origin = calloc(n, sizeof *lp->origin);
  if (!lp->origin) return line_fail(lr, "KAT_ENOMEM: out of memory");
  for (size_t k = 0; k < n; k++)
    snprintf(lp->origin[k], sizeof lp->origin[k], "%s prompt %zu",
             e->prompts_file ? "--prompts" : "manifest", k);
  const kat_prompt_entry *p0 = &lp->list->entries[0];
  lp->classic = !e->prompts_file && n == 1 && p0->obj_id == 0 && p0->frame == 0 &&
                p0->prompt.has_box && !p0->prompt.n_points && !p0->prompt.mask;
  return 0;
}

static void line_prompts_free(line_prompts *lp) {
  kat_prompts_free(lp->file);
  free(lp->origin);
}

/* What the run's callbacks of one line reach. */
typedef struct line_ctx {
  batch_run *r;
  int slot;
  const kat__eval_seq *gt; /* the line's groundtruth, or NULL */
  int score_id;            /* the object scored against it: the smallest id */
  line_result *lr;
  double iou_sum, hits;
} line_ctx;

static void line_on_stream(void *ctx, kat_stream *st) {
  line_ctx *c = ctx;
  pthread_mutex_lock(&c->r->mu);
  c->r->running[c->slot] = st;
  if (st && g_signo) kat_stream_cancel(st);
  pthread_mutex_unlock(&c->r->mu);
}

static int line_interrupted(void *ctx) {
  (void)ctx;
  return g_signo;
}

/* Scores frame i against the groundtruth and moves the progress line. */
static void line_on_frame(void *ctx, size_t i, long total, const kat_track_result *res, int count) {
  line_ctx *c = ctx;
  kat__eval_box g;
  (void)total;
  if (c->gt && kat__eval_seq_box(c->gt, i, &g) == 1) {
    double iou = 0.0;
    for (int k = 0; k < count; k++)
      if (res[k].obj_id == c->score_id && res[k].box[2] > 0 && res[k].box[3] > 0)
        iou = box_iou(res[k].box, &g);
    c->iou_sum += iou;
    c->hits += iou > 0.5;
    c->lr->gt_frames++;
  }
  pthread_mutex_lock(&c->r->mu);
  c->r->frames++;
  progress(c->r, 0);
  pthread_mutex_unlock(&c->r->mu);
}

/* fsyncs the files a run wrote into `dir` (boxes.txt, results.jsonl, tracks.txt, objects/<id>/),
 * so DONE is never on disk before them. 0, or -1 with errno set. */
static int sync_results(const char *dir, int depth) {
  static const char *const names[] = {"boxes.txt", "results.jsonl", "tracks.txt"};
  char path[4300];
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    if (join_path(path, sizeof path, dir, names[k])) return -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    int rc = fsync(fd);
    close(fd);
    if (rc) return -1;
  }
  if (depth > 0 || join_path(path, sizeof path, dir, "objects")) return 0;
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *de;
  int status = 0;
  char sub[4400];
  while (status == 0 && (de = readdir(d)))
    if (de->d_name[0] != '.' && snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) > 0)
      status = sync_results(sub, 1);
  closedir(d);
  return status;
}

/* Runs one line into `dir` (already cleared) with the katana track run on the shared model. 0,
 * or -1 with lr->error; KAT_ECANCELED when the batch was interrupted (nothing is recorded). */
static int line_run(batch_run *r, int slot, const kat__batch_entry *e, const char *dir,
                    line_result *lr) {
  const batch_opts *o = r->o;
  kat__eval_seq *gt = NULL;
  kat_cli_track_outcome *out = NULL;
  line_prompts lp;
  int status = -1, rc;
  char err[KAT_ERROR_SIZE];
  memset(&lp, 0, sizeof lp);
  if (e->error)
    return line_fail(lr, "KAT_EFORMAT: manifest line %lld: %s", (long long)e->line, e->error);
  if (line_prompts_load(e, &lp, lr)) goto cleanup;
  if (e->groundtruth && (rc = kat__eval_seq_load_boxes(e->groundtruth, &gt, err, sizeof err))) {
    line_fail(lr, "%s: groundtruth: %s", kat_status_name(rc), err);
    goto cleanup;
  }
  if (!(out = malloc(sizeof *out))) {
    line_fail(lr, "KAT_ENOMEM: out of memory");
    goto cleanup;
  }
  line_ctx c = {r, slot, gt, INT32_MAX, lr, 0, 0};
  for (size_t k = 0; k < lp.list->count; k++)
    if (lp.list->entries[k].obj_id < c.score_id) c.score_id = lp.list->entries[k].obj_id;
  kat_cli_track_job job;
  memset(&job, 0, sizeof job);
  job.model = r->model;
  job.input = e->source;
  kat_stream_options_init(&job.sopt);
  job.sopt.tracker.want_masks = o->masks;
  if (e->selection) job.sopt.tracker.selection = (kat_selection)kat_selection_parse(e->selection);
  job.sopt.pipeline = o->pipeline;
  job.sopt.max_frames = e->max_frames;
  job.prompts = lp.list->entries;
  job.n_prompts = lp.list->count;
  job.origin = (const char(*)[64])lp.origin;
  job.prompts_path = e->prompts_file;
  job.classic = lp.classic;
  if (lp.classic) memcpy(job.box, lp.list->entries[0].prompt.box, sizeof job.box);
  job.out_dir = dir;
  job.masks = o->masks;
  job.ctx = &c;
  job.on_stream = line_on_stream;
  job.interrupted = line_interrupted;
  job.on_frame = line_on_frame;
  const double t0 = now_ms();
  rc = kat_cli_track_run(&job, out);
  lr->frames = (int64_t)out->frames;
  lr->objects = out->objects;
  lr->prompts_not_applied = out->prompts_not_applied;
  if (out->interrupted) {
    status = KAT_ECANCELED;
  } else if (rc) {
    line_fail(lr, "%s", out->error);
  } else if (sync_results(dir, 0)) {
    line_fail(lr, "KAT_EIO: cannot flush the results in '%s': %s", dir, strerror(errno));
  } else {
    lr->seconds = (now_ms() - t0) / 1000.0;
    if (gt && lr->gt_frames > 0) {
      lr->scored = 1;
      lr->mean_iou = c.iou_sum / (double)lr->gt_frames;
      lr->success50 = c.hits / (double)lr->gt_frames;
    }
    status = 0;
  }
cleanup:
  free(out);
  line_prompts_free(&lp);
  kat__eval_seq_destroy(gt);
  return status;
}

typedef enum line_outcome {
  LINE_DONE,
  LINE_SKIPPED,
  LINE_FAILED,
  LINE_BUSY,
  LINE_CANCELED
} line_outcome;

/* Takes the line's lock, skips it when DONE, else clears it, runs it and records DONE/ERROR. */
static line_outcome line_process(batch_run *r, int slot, const kat__batch_entry *e) {
  const batch_opts *o = r->o;
  char dir[4200], path[4300], why[4600], text[KAT_ERROR_SIZE + 4800];
  line_result lr;
  line_outcome out = LINE_FAILED;
  int lock = -1;
  memset(&lr, 0, sizeof lr);
  if (join_path(dir, sizeof dir, o->out, e->id) || kat_cli_mkdirs(dir)) {
    fprintf(stderr, "%skatana batch: line %lld (%s): cannot create '%s': %s\n", r->tty ? "\n" : "",
            (long long)e->line, e->id, dir, strerror(errno));
    return LINE_FAILED;
  }
  snprintf(path, sizeof path, "%s/.lock", dir);
  lock = open(path, O_RDWR | O_CREAT, 0666);
  if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB)) {
    fprintf(stderr, "%skatana batch: line %lld (%s): %s; left to the process that holds it\n",
            r->tty ? "\n" : "", (long long)e->line, e->id,
            lock < 0 ? strerror(errno) : "another process is running it");
    if (lock >= 0) close(lock);
    return LINE_BUSY;
  }
  snprintf(path, sizeof path, "%s/DONE", dir);
  if (kat_cli_is_file(path)) {
    out = LINE_SKIPPED;
    goto cleanup;
  }
  /* Not done: whatever a previous run left (a half-written line, an ERROR) goes. */
  snprintf(path, sizeof path, "%s/ERROR", dir);
  unlink(path);
  if (kat_cli_out_clear(dir, why, sizeof why)) {
    fprintf(stderr, "%skatana batch: line %lld (%s): %s\n", r->tty ? "\n" : "", (long long)e->line,
            e->id, why);
    goto cleanup; /* a folder katana did not write: no ERROR file in it either */
  }
  int rc = line_run(r, slot, e, dir, &lr);
  if (rc == KAT_ECANCELED) {
    out = LINE_CANCELED;
    goto cleanup;
  }
  if (rc == 0) {
    int n = snprintf(text, sizeof text,
                     "id %s\nline %lld\nframes %lld\nobjects %d\nprompts_not_applied %zu\n"
                     "seconds %.3f\nshard %ld/%ld\nhost %s\npid %ld\n",
                     e->id, (long long)e->line, (long long)lr.frames, lr.objects,
                     lr.prompts_not_applied, lr.seconds, o->shard_i, o->shard_n, r->host,
                     (long)getpid());
    if (lr.scored && n > 0 && (size_t)n < sizeof text)
      snprintf(text + n, sizeof text - (size_t)n, "gt_frames %lld\nmean_iou %.6f\nsuccess50 %.6f\n",
               (long long)lr.gt_frames, lr.mean_iou, lr.success50);
    if (write_atomic(dir, "DONE", text) == 0) {
      out = LINE_DONE;
      goto cleanup;
    }
    line_fail(&lr, "KAT_EIO: cannot write '%s/DONE': %s", dir, strerror(errno));
  }
  snprintf(text, sizeof text, "%s\n", lr.error);
  if (write_atomic(dir, "ERROR", text))
    fprintf(stderr, "%skatana batch: line %lld (%s): cannot write its ERROR file: %s\n",
            r->tty ? "\n" : "", (long long)e->line, e->id, strerror(errno));
  fprintf(stderr, "%skatana batch: line %lld (%s) failed: %s\n", r->tty ? "\n" : "",
          (long long)e->line, e->id, lr.error);
cleanup:
  close(lock); /* releases the flock */
  return out;
}

typedef struct worker {
  batch_run *r;
  int slot;
  pthread_t thread;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  batch_run *r = w->r;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    const size_t k = r->next < r->n_todo && !g_signo ? r->next++ : r->n_todo;
    pthread_mutex_unlock(&r->mu);
    if (k >= r->n_todo) return NULL;
    const kat__batch_entry *e = kat__batch_manifest_entry(r->m, r->todo[k]);
    line_outcome out = line_process(r, w->slot, e);
    pthread_mutex_lock(&r->mu);
    if (out != LINE_CANCELED) r->n_finished_lines++;
    r->n_done += out == LINE_DONE;
    r->n_skipped += out == LINE_SKIPPED;
    r->n_failed += out == LINE_FAILED;
    r->n_busy += out == LINE_BUSY;
    progress(r, 1);
    pthread_mutex_unlock(&r->mu);
  }
}

/* Opens the model once with the thread budget split between the lines that run at once
 * (kat_ep_profile_share_cores, docs/batch.md): 0, or the exit status with the message printed. */
static int batch_model_open(batch_run *r, long jobs) {
  const batch_opts *o = r->o;
  char err[KAT_ERROR_SIZE];
  if (kat_ep_profile_preset(o->ep, &r->ep)) {
    fprintf(stderr, "katana batch: unknown --ep preset '%s'\n", o->ep);
    return EXIT_USAGE;
  }
  kat_ep_profile_share_cores(&r->ep, (int)o->threads, (int)jobs * (o->pipeline ? 2 : 1));
  kat_model_options mo;
  kat_model_options_init(&mo);
  mo.ep = r->ep;
  int rc = kat_model_open(o->model, &mo, &r->model, err, sizeof err);
  if (rc) {
    fprintf(stderr, "katana batch: --model '%s': %s: %s\n", o->model, kat_status_name(rc), err);
    return EXIT_NOSTART;
  }
  return 0;
}

static int batch_run_all(const batch_opts *o) {
  batch_run r;
  kat__batch_manifest *m = NULL;
  worker workers[MAX_JOBS];
  pthread_t watcher;
  int watching = 0, n_workers = 0, status = EXIT_NOSTART;
  char err[1024];
  struct sigaction old_int, old_term;
  memset(&r, 0, sizeof r);
  r.o = o;
  pthread_mutex_init(&r.mu, NULL);
  int rc = kat__batch_manifest_read(o->manifest, &m, err, sizeof err);
  if (rc) {
    fprintf(stderr, "katana batch: %s: %s\n", kat_status_name(rc), err);
    goto cleanup;
  }
  r.m = m;
  const size_t count = kat__batch_manifest_count(m);
  r.todo = calloc(count ? count : 1, sizeof *r.todo);
  if (!r.todo) {
    fprintf(stderr, "katana batch: out of memory\n");
    goto cleanup;
  }
  for (size_t i = 0; i < count; i++)
    if (i % (size_t)o->shard_n == (size_t)o->shard_i) r.todo[r.n_todo++] = i;
  /* J workers, no more than the shard has lines; the thread budget is split between them. */
  const long jobs = o->jobs < (long)r.n_todo ? o->jobs : (long)(r.n_todo ? r.n_todo : 1);
  if ((rc = batch_model_open(&r, jobs))) {
    status = rc;
    goto cleanup;
  }
  if (kat_cli_mkdirs(o->out)) {
    fprintf(stderr, "katana batch: cannot create '%s': %s\n", o->out, strerror(errno));
    goto cleanup;
  }
  if (gethostname(r.host, sizeof r.host)) snprintf(r.host, sizeof r.host, "unknown");
  r.host[sizeof r.host - 1] = '\0';
  r.tty = !o->quiet && isatty(2);
  r.t0_ms = now_ms();
  if (!o->quiet)
    fprintf(stderr, "katana batch: shard %ld/%ld (%s): %zu of %zu lines, %ld at once\n", o->shard_i,
            o->shard_n, o->shard_from, r.n_todo, count, jobs);
  g_signo = 0;
  if (pipe(g_wake) == 0 && pthread_create(&watcher, NULL, watch_main, &r) == 0) {
    watching = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    if (old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
  }
  for (int j = 0; j < jobs; j++) {
    workers[j].r = &r;
    workers[j].slot = j;
    if (pthread_create(&workers[j].thread, NULL, worker_main, &workers[j])) break;
    n_workers++;
  }
  if (n_workers == 0) worker_main(&(worker){.r = &r, .slot = 0});
  for (int j = 0; j < n_workers; j++) pthread_join(workers[j].thread, NULL);
  if (watching) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    ssize_t w = write(g_wake[1], "q", 1);
    (void)w;
    pthread_join(watcher, NULL);
  }
  if (r.tty) fputc('\n', stderr);
  const double s = (now_ms() - r.t0_ms) / 1000.0;
  if (!o->quiet || r.n_failed)
    fprintf(stderr,
            "katana batch: shard %ld/%ld: %zu lines: %zu done now, %zu already done, %zu "
            "failed, %zu busy; %lld frames in %.1f s (%.1f FPS); results in %s\n",
            o->shard_i, o->shard_n, r.n_todo, r.n_done, r.n_skipped, r.n_failed, r.n_busy,
            (long long)r.frames, s, s > 0 ? (double)r.frames / s : 0.0, o->out);
  if (g_signo) {
    fprintf(stderr,
            "katana batch: interrupted by %s; the lines that were running have no DONE and "
            "are redone by the next run\n",
            g_signo == SIGINT ? "SIGINT" : "SIGTERM");
    status = 128 + g_signo;
  } else if (r.n_busy && !r.n_failed) {
    status = 0; /* another process owns those lines and will finish them */
  } else {
    status = r.n_failed > 100 ? 100 : (int)r.n_failed;
  }
cleanup:
  if (g_wake[0] >= 0) close(g_wake[0]);
  if (g_wake[1] >= 0) close(g_wake[1]);
  g_wake[0] = g_wake[1] = -1;
  free(r.todo);
  kat_model_release(r.model);
  kat__batch_manifest_destroy(m);
  pthread_mutex_destroy(&r.mu);
  return status;
}

/* ---- --report ---- */

/* Reads "key value" lines of a DONE file into the fields the report needs. */
static int read_done(const char *path, double *frames, double *seconds, double *iou, double *s50) {
  FILE *f = fopen(path, "r");
  char line[512];
  *frames = *seconds = 0;
  *iou = *s50 = NAN;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    char *sp = strchr(line, ' ');
    if (!sp) continue;
    *sp = '\0';
    double v = strtod(sp + 1, NULL);
    if (!strcmp(line, "frames")) *frames = v;
    if (!strcmp(line, "seconds")) *seconds = v;
    if (!strcmp(line, "mean_iou")) *iou = v;
    if (!strcmp(line, "success50")) *s50 = v;
  }
  fclose(f);
  return 0;
}

static int batch_report(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "katana batch: --report: cannot open '%s': %s\n", dir, strerror(errno));
    return EXIT_NOSTART;
  }
  size_t n_dirs = 0, n_done = 0, n_failed = 0, n_unfinished = 0, n_scored = 0;
  double frames = 0, seconds = 0, iou_sum = 0, s50_sum = 0;
  struct dirent *de;
  char path[4400], sub[4200];
  /* Failures are listed after the counts; collect them in a bounded buffer. */
  char failures[16384];
  size_t fl = 0;
  failures[0] = '\0';
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || join_path(sub, sizeof sub, dir, de->d_name) || !kat_cli_is_dir(sub))
      continue;
    snprintf(path, sizeof path, "%s/DONE", sub);
    int done = kat_cli_is_file(path);
    double fr, sec, iou, s50;
    if (done && read_done(path, &fr, &sec, &iou, &s50) == 0) {
      n_dirs++;
      n_done++;
      frames += fr;
      seconds += sec;
      if (isfinite(iou)) {
        n_scored++;
        iou_sum += iou;
        s50_sum += s50;
      }
      continue;
    }
    snprintf(path, sizeof path, "%s/ERROR", sub);
    FILE *f = fopen(path, "r");
    if (f) {
      char msg[1024] = "";
      if (!fgets(msg, sizeof msg, f)) msg[0] = '\0';
      fclose(f);
      msg[strcspn(msg, "\n")] = '\0';
      n_dirs++;
      n_failed++;
      int w = snprintf(failures + fl, sizeof failures - fl, "  %s: %s\n", de->d_name, msg);
      if (w > 0 && (size_t)w < sizeof failures - fl) fl += (size_t)w;
      continue;
    }
    snprintf(path, sizeof path, "%s/" KAT_CLI_OUT_MARKER, sub);
    if (kat_cli_is_file(path)) {
      n_dirs++;
      n_unfinished++;
    }
  }
  closedir(d);
  printf("katana batch report: %s\n", dir);
  printf("  lines        %zu: %zu done, %zu failed, %zu unfinished (started, no DONE)\n", n_dirs,
         n_done, n_failed, n_unfinished);
  printf("  frames       %.0f (done lines)\n", frames);
  printf("  FPS          %.1f per line (frames / the lines' own wall time, %.1f s)\n",
         seconds > 0 ? frames / seconds : 0.0, seconds);
  if (n_scored)
    printf(
        "  scores       mean IoU %.4f, success@0.5 %.4f (mean over %zu lines with "
        "groundtruth)\n",
        iou_sum / (double)n_scored, s50_sum / (double)n_scored, n_scored);
  else
    printf("  scores       none (no line has groundtruth)\n");
  if (n_failed) printf("  failures:\n%s", failures);
  return 0;
}

int kat_cmd_batch(int argc, char **argv) {
  batch_opts o;
  int rc = batch_parse(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  return o.report ? batch_report(o.report) : batch_run_all(&o);
}
