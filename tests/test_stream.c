/*
 * Tests for streams: results in order and bit-identical to the sequential tracker (pull, both
 * modes, and push) on a 60-frame synthetic clip; error injection in each stage surfaces the
 * stage's message and stops cleanly; cancellation from another thread; push mode with dropped
 * frames accounted for. Then the concurrency and state defects of issue 12, each under a
 * watchdog (a hang fails the test within seconds): a genuine ONNX Runtime failure in stage 2
 * (an image encoder whose Gather index comes from the pixels, tests/fixtures), sequential
 * drop-oldest push, push and next from one thread, next before any push, queue_capacity bounds,
 * close while another thread is blocked in push, and kat_tracker_step after a failed step.
 * Runs under ASan+UBSan and TSan in CI.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kat_test.h"
#include "katana/katana.h"
#include "pipeline/stream_internal.h"
#include "tools/synth/synth.h"

#define N_FRAMES 60

typedef struct rec {
  double box[4];
  float score, iou;
  int candidate;
  uint32_t mask_hash;
  int64_t source_index;
} rec;

static char g_clip[4200], g_bundle[4200];
static double g_box[4];

static uint32_t fnv(const uint8_t *p, int w, int h, size_t stride) {
  uint32_t x = 2166136261u;
  for (int y = 0; y < h; y++)
    for (int i = 0; i < w; i++) x = (x ^ p[(size_t)y * stride + (size_t)i]) * 16777619u;
  return x;
}

static void to_rec(const kat_track_result *r, rec *o) {
  memcpy(o->box, r->box, sizeof o->box);
  o->score = r->object_score;
  o->iou = r->iou_pred;
  o->candidate = r->candidate;
  o->mask_hash = r->mask ? fnv(r->mask, r->mask_width, r->mask_height, r->mask_stride) : 0;
  o->source_index = r->source_index;
}

static int same(const rec *a, const rec *b) {
  return memcmp(a->box, b->box, sizeof a->box) == 0 && a->score == b->score && a->iou == b->iou &&
         a->candidate == b->candidate && a->mask_hash == b->mask_hash;
}

static void setup(void) {
  const char *b = kat_test_data("bundles/micro_efficienttam");
  if (!b) KAT_SKIP("KAT_TEST_DATA is not set");
  snprintf(g_bundle, sizeof g_bundle, "%s/katana.json", b);
  if (access(g_bundle, R_OK) != 0) KAT_SKIP("micro_efficienttam bundle missing");
  snprintf(g_bundle, sizeof g_bundle, "%s", b);
  char root[4150];
  snprintf(root, sizeof root, "%s/stream", kat_test_data(""));
  kat__synth_options so;
  kat__synth_options_init(&so);
  so.suite = KAT_SYNTH_EVAL;
  so.seed = 5;
  so.frames = N_FRAMES;
  so.width = 160;
  so.height = 96;
  so.out_dir = root;
  char err[512];
  snprintf(g_clip, sizeof g_clip, "%s/eval-000/groundtruth.txt", root);
  if (access(g_clip, R_OK) != 0 && kat__synth_write(&so, err, sizeof err) != KAT_OK)
    KAT_SKIP("cannot write the synthetic clip");
  FILE *f = fopen(g_clip, "r");
  if (!f || fscanf(f, "%lf,%lf,%lf,%lf", &g_box[0], &g_box[1], &g_box[2], &g_box[3]) != 4)
    KAT_SKIP("cannot read the clip's first box");
  fclose(f);
  snprintf(g_clip, sizeof g_clip, "%s/eval-000/img", root);
}

static kat_tracker_options tracker_opts(void) {
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  o.want_masks = 1;
  o.num_frames = N_FRAMES;
  o.verify_hashes = 0;
  o.ep.module[0].intra_op_threads = 1;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) o.ep.module[m].intra_op_threads = 1;
  return o;
}

/* The reference: the plain tracker API over a source, on this thread. */
static int run_sequential(rec *out) {
  kat_tracker_options o = tracker_opts();
  kat_tracker *t = NULL;
  kat_source *src = NULL;
  char err[1024];
  int n = 0;
  if (kat_tracker_create(g_bundle, &o, &t, err, sizeof err) ||
      kat_source_open(g_clip, NULL, &src, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    goto done;
  }
  kat_frame f;
  while (n < N_FRAMES && kat_source_next(src, &f) == KAT_OK) {
    kat_track_result r;
    int rc = n == 0 ? kat_tracker_start(t, &f, g_box, &r) : kat_tracker_step(t, &f, &r);
    if (rc) break;
    to_rec(&r, &out[n++]);
  }
done:
  kat_source_close(src);
  kat_tracker_destroy(t);
  return n;
}

static kat_stream_options stream_opts(int pipeline) {
  kat_stream_options so;
  kat_stream_options_init(&so);
  so.tracker = tracker_opts();
  so.pipeline = pipeline;
  return so;
}

static int run_stream(int pipeline, rec *out, kat_stream_stats *st) {
  kat_stream_options so = stream_opts(pipeline);
  kat_stream *s = NULL;
  char err[1024];
  int rc = kat_stream_open(g_bundle, g_clip, g_box, &so, &s, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) {
    fprintf(stderr, "%s\n", err);
    return 0;
  }
  int n = 0;
  kat_track_result r;
  while ((rc = kat_stream_next(s, &r)) == KAT_OK && n < N_FRAMES) to_rec(&r, &out[n++]);
  KAT_CHECK_INT_EQ(rc, KAT_EOF);
  if (st) kat_stream_get_stats(s, st);
  kat_stream_close(s);
  return n;
}

/* The plain tracker's records, the reference the stream cases compare with: made once, by the first
 * case that needs them (so any case can run alone). */
static rec g_seq[N_FRAMES];
static int g_n_seq = -1;

static int sequential_reference(void) {
  if (g_n_seq < 0) g_n_seq = run_sequential(g_seq);
  return g_n_seq;
}

KAT_TEST(test_identical_to_sequential) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES);
  static rec pipe[N_FRAMES], seq_stream[N_FRAMES];
  kat_stream_stats st;
  int n_pipe = run_stream(1, pipe, &st);
  int n_seqs = run_stream(0, seq_stream, NULL);
  KAT_CHECK_INT_EQ(n_pipe, N_FRAMES);
  KAT_CHECK_INT_EQ(n_seqs, N_FRAMES);
  int diff_pipe = 0, diff_seq = 0, order = 0;
  for (int i = 0; i < N_FRAMES && i < n_pipe && i < n_seqs; i++) {
    diff_pipe += !same(&pipe[i], &g_seq[i]);
    diff_seq += !same(&seq_stream[i], &g_seq[i]);
    order += pipe[i].source_index != i;
  }
  KAT_CHECK_INT_EQ(diff_pipe, 0);
  KAT_CHECK_INT_EQ(diff_seq, 0);
  KAT_CHECK_INT_EQ(order, 0);
  KAT_CHECK_INT_EQ(st.frames, N_FRAMES);
  KAT_CHECK_INT_EQ(st.dropped, 0);
  KAT_CHECK(st.p50_ms[4] > 0);
  printf("pipelined: %d frames identical to sequential; p50 e2e %.1f ms, idle s %.2f/%.2f/%.2f\n",
         n_pipe, st.p50_ms[4], st.idle_s[0], st.idle_s[1], st.idle_s[2]);
}

/* Two pipelined streams on one kat_model, run at the same time on two threads: each equals the
 * sequential tracker, and the model outlives the caller's reference. */
typedef struct on_model_job {
  kat_stream *s;
  rec out[N_FRAMES];
  int n, rc;
} on_model_job;

static void *on_model_main(void *arg) {
  on_model_job *j = arg;
  kat_track_result r;
  while ((j->rc = kat_stream_next(j->s, &r)) == KAT_OK && j->n < N_FRAMES)
    to_rec(&r, &j->out[j->n++]);
  return NULL;
}

KAT_TEST(test_two_streams_on_one_model) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES);
  if (g_n_seq != N_FRAMES) return;
  kat_model_options mo;
  kat_model_options_init(&mo);
  kat_model *m = NULL;
  char err[1024];
  int rc = kat_model_open(g_bundle, &mo, &m, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) return;
  static on_model_job jobs[2];
  kat_stream_options so = stream_opts(1);
  int opened = 0;
  for (int i = 0; i < 2; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    rc = kat_stream_open_on_model(m, g_clip, g_box, &so, &jobs[i].s, err, sizeof err);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    if (rc) fprintf(stderr, "%s\n", err);
    opened += rc == KAT_OK;
  }
  kat_model_release(m); /* the streams hold their own references */
  pthread_t th[2];
  if (opened == 2) {
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, on_model_main, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
      KAT_CHECK_INT_EQ(jobs[i].rc, KAT_EOF);
      KAT_CHECK_INT_EQ(jobs[i].n, N_FRAMES);
      int diff = 0;
      for (int k = 0; k < jobs[i].n; k++) diff += !same(&jobs[i].out[k], &g_seq[k]);
      KAT_CHECK_INT_EQ(diff, 0);
    }
  }
  for (int i = 0; i < 2; i++) kat_stream_close(jobs[i].s);
  KAT_CHECK_INT_EQ(kat_stream_open_on_model(NULL, g_clip, g_box, &so, &jobs[0].s, err, sizeof err),
                   KAT_EINVAL);
  KAT_CHECK(jobs[0].s == NULL);
}

/* Each stage's injected failure is what kat_stream_next returns, with the stage's name. */
KAT_TEST(test_error_injection) {
  static const struct {
    kat__stream_stage stage;
    int status;
    const char *name;
  } cases[] = {{KAT__STAGE_DECODE, KAT_EMEDIA, "decode"},
               {KAT__STAGE_ENCODE, KAT_ERUNTIME, "image_encoder"},
               {KAT__STAGE_TRACK, KAT_EINTERNAL, "tracker"}};
  for (int pipeline = 0; pipeline < 2; pipeline++) {
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      kat_stream_options so = stream_opts(pipeline);
      kat_stream *s = NULL;
      char err[1024];
      if (kat_stream_open(g_bundle, g_clip, g_box, &so, &s, err, sizeof err)) {
        KAT_CHECK(0);
        continue;
      }
      kat__stream_inject_fault(s, cases[c].stage, 7, cases[c].status);
      kat_track_result r;
      int rc, n = 0;
      while ((rc = kat_stream_next(s, &r)) == KAT_OK) n++;
      KAT_CHECK_INT_EQ(rc, cases[c].status);
      KAT_CHECK_INT_EQ(n, 7);
      KAT_CHECK_CONTAINS(kat_stream_last_error(s), cases[c].name);
      KAT_CHECK_CONTAINS(kat_stream_last_error(s), "injected fault");
      /* Every later call keeps reporting the stop. */
      KAT_CHECK_INT_EQ(kat_stream_next(s, &r), cases[c].status);
      kat_stream_close(s);
    }
  }
  /* A real decode error: a missing source. */
  kat_stream *s = NULL;
  char err[1024];
  kat_stream_options so = stream_opts(1);
  KAT_CHECK_INT_EQ(
      kat_stream_open(g_bundle, "/nonexistent/clip.mp4", g_box, &so, &s, err, sizeof err),
      KAT_ENOENT);
  KAT_CHECK(s == NULL);
  double bad_box[4] = {5000, 5000, 10, 10};
  KAT_CHECK_INT_EQ(kat_stream_open(g_bundle, g_clip, bad_box, &so, &s, err, sizeof err),
                   KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "outside");
}

static void *cancel_later(void *arg) {
  struct timespec ts = {0, 150 * 1000 * 1000};
  nanosleep(&ts, NULL);
  kat_stream_cancel(arg);
  return NULL;
}

KAT_TEST(test_cancel_from_another_thread) {
  kat_stream_options so = stream_opts(1);
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_bundle, g_clip, g_box, &so, &s, err, sizeof err)) {
    KAT_CHECK(0);
    return;
  }
  pthread_t th;
  pthread_create(&th, NULL, cancel_later, s);
  kat_track_result r;
  int rc, n = 0;
  while ((rc = kat_stream_next(s, &r)) == KAT_OK) n++;
  pthread_join(th, NULL);
  KAT_CHECK_INT_EQ(rc, KAT_ECANCELED);
  KAT_CHECK(n < N_FRAMES);
  kat_stream_close(s); /* joins the stage threads */
  /* Closing right after open, mid-frame, also joins and frees everything. */
  if (kat_stream_open(g_bundle, g_clip, g_box, &so, &s, err, sizeof err) == KAT_OK)
    kat_stream_close(s);
}

typedef struct pusher {
  kat_stream *s;
  int pushed;
  int rc;
} pusher;

static void *push_all(void *arg) {
  pusher *p = arg;
  kat_source *src = NULL;
  char err[512];
  if (kat_source_open(g_clip, NULL, &src, err, sizeof err)) {
    p->rc = -1;
    return NULL;
  }
  kat_frame f;
  while (kat_source_next(src, &f) == KAT_OK) {
    if ((p->rc = kat_stream_push(p->s, &f)) != KAT_OK) break;
    p->pushed++;
  }
  kat_stream_end(p->s);
  kat_source_close(src);
  return NULL;
}

/* Live input faster than the tracker: frames are dropped, never the first, and accounted for. */
KAT_TEST(test_push_with_drops) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES); /* compared with below */
  kat_stream_options so = stream_opts(1);
  so.drop_oldest = 1;
  so.queue_capacity = 1;
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err)) {
    KAT_CHECK(0);
    return;
  }
  pusher p = {s, 0, 0};
  pthread_t th;
  pthread_create(&th, NULL, push_all, &p);
  kat_track_result r;
  int rc, n = 0, first_ok = 0;
  int64_t dropped = 0, last_index = -1, order_ok = 1;
  while ((rc = kat_stream_next_timeout(s, &r, -1)) == KAT_OK) {
    if (n == 0) {
      rec a;
      to_rec(&r, &a);
      first_ok = r.source_index == 0 && same(&a, &g_seq[0]);
    }
    order_ok &= r.source_index > last_index;
    order_ok &= r.source_index == last_index + 1 + r.dropped_before;
    last_index = r.source_index;
    dropped += r.dropped_before;
    n++;
    struct timespec ts = {0, 30 * 1000 * 1000}; /* a slow consumer */
    nanosleep(&ts, NULL);
  }
  pthread_join(th, NULL);
  KAT_CHECK_INT_EQ(rc, KAT_EOF);
  KAT_CHECK_INT_EQ(p.rc, KAT_OK);
  KAT_CHECK_INT_EQ(p.pushed, N_FRAMES);
  KAT_CHECK(first_ok);
  KAT_CHECK(order_ok);
  kat_stream_stats st;
  kat_stream_get_stats(s, &st);
  /* Every pushed frame is either delivered or counted as dropped (frames dropped after the last
   * delivered one are counted in the stats only). */
  KAT_CHECK_INT_EQ(n + st.dropped, p.pushed);
  KAT_CHECK(dropped <= st.dropped);
  printf("push with drop-oldest: %d pushed, %d delivered, %lld dropped\n", p.pushed, n,
         (long long)st.dropped);
  kat_stream_close(s);

  /* Sequential push mode never blocks: a full queue is KAT_EAGAIN. */
  so = stream_opts(0);
  so.queue_capacity = 1;
  rc = kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  kat_source *src = NULL;
  if (kat_source_open(g_clip, NULL, &src, err, sizeof err) == KAT_OK) {
    kat_frame f;
    kat_source_next(src, &f);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &f), KAT_OK);
    kat_source_next(src, &f);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &f), KAT_EAGAIN);
    KAT_CHECK_CONTAINS(kat_stream_push_error(s), "wait for kat_stream_next");
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
    rec a;
    to_rec(&r, &a);
    KAT_CHECK(same(&a, &g_seq[0]));
    kat_source_close(src);
  }
  kat_stream_close(s);
}

/* ---- Issue 12: concurrency and state defects. ---- */

static const char *g_case = "";
static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "watchdog: a case hung (see the last 'case:' line)\n";
  if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}
/* Fails the whole test within `seconds` if the case does not finish (a hang is the defect). */
static void watchdog(const char *name, unsigned seconds) {
  g_case = name;
  printf("case: %s\n", name);
  fflush(stdout);
  signal(SIGALRM, on_alarm);
  alarm(seconds);
}
static void watchdog_off(void) {
  alarm(0);
}

/* The clip's frames in memory (RGB24), so tests can push them from any thread. */
#define N_PUSH 12
static uint8_t *g_pix[N_PUSH];
static kat_frame g_frames[N_PUSH];
static uint8_t *g_white;
static kat_frame g_white_frame;

static void load_frames(void) {
  kat_source *src = NULL;
  char err[512];
  if (kat_source_open(g_clip, NULL, &src, err, sizeof err)) KAT_SKIP("cannot open the clip");
  kat_frame f;
  for (int i = 0; i < N_PUSH && kat_source_next(src, &f) == KAT_OK; i++) {
    size_t row = (size_t)f.width * 3;
    g_pix[i] = malloc(row * (size_t)f.height);
    for (int y = 0; y < f.height; y++)
      memcpy(g_pix[i] + row * (size_t)y, f.data[0] + f.stride[0] * (size_t)y, row);
    g_frames[i] = f;
    g_frames[i].data[0] = g_pix[i];
    g_frames[i].stride[0] = row;
    g_frames[i].index = i;
  }
  kat_source_close(src);
  g_white_frame = g_frames[0];
  g_white = malloc(g_white_frame.stride[0] * (size_t)g_white_frame.height);
  memset(g_white, 255, g_white_frame.stride[0] * (size_t)g_white_frame.height);
  g_white_frame.data[0] = g_white;
}

static void free_frames(void) {
  for (int i = 0; i < N_PUSH; i++) free(g_pix[i]);
  free(g_white);
}

/* Builds the bundle whose image encoder fails in ORT's Run on a white frame; 0 on success. */
static char g_fail_bundle[4300];
static int make_failing_bundle(void) {
  const char *py = getenv("KAT_PYTHON"), *srcdir = getenv("KAT_SOURCE_DIR");
  if (!py || !srcdir) return -1;
  char root[4150];
  snprintf(root, sizeof root, "%s", kat_test_data("stream"));
  snprintf(g_fail_bundle, sizeof g_fail_bundle, "%s/failing_encoder_%ld", root, (long)getpid());
  char cmd[13000];
  snprintf(cmd, sizeof cmd, "'%s' '%s/tests/fixtures/failing_encoder_bundle.py' '%s' '%s'", py,
           srcdir, g_bundle, g_fail_bundle);
  return system(cmd);
}

static void remove_failing_bundle(void) {
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_fail_bundle);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_fail_bundle);
}

typedef struct feeder {
  kat_stream *s;
  int n_before; /* good frames before the white one */
  int rc;
  int pushed;
} feeder;

static void *feed_with_white(void *arg) {
  feeder *fd = arg;
  for (int i = 0; i < N_PUSH; i++) {
    const kat_frame *f = i == fd->n_before ? &g_white_frame : &g_frames[i];
    if ((fd->rc = kat_stream_push(fd->s, f)) != KAT_OK) break;
    fd->pushed++;
  }
  kat_stream_end(fd->s);
  return NULL;
}

/* A genuine ORT failure in stage 2 (not the injected string) comes back with ORT's message. */
KAT_TEST(test_real_encoder_failure) {
  watchdog("real ORT failure in the image encoder", 240);
  int rc = make_failing_bundle();
  KAT_CHECK_INT_EQ(rc, 0);
  if (rc) return;
  const int n_before = 6;
  /* Pipelined, producer on another thread: several runs, for TSan to see the stages overlap. */
  for (int run = 0; run < 3; run++) {
    kat_stream_options so = stream_opts(1);
    kat_stream *s = NULL;
    char err[1024];
    rc = kat_stream_open(g_fail_bundle, NULL, g_box, &so, &s, err, sizeof err);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    if (rc) {
      fprintf(stderr, "%s\n", err);
      break;
    }
    feeder fd = {s, n_before, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, feed_with_white, &fd);
    kat_track_result r;
    int n = 0;
    while ((rc = kat_stream_next_timeout(s, &r, -1)) == KAT_OK) n++;
    pthread_join(th, NULL);
    KAT_CHECK_INT_EQ(rc, KAT_ERUNTIME);
    KAT_CHECK_INT_EQ(n, n_before);
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "image_encoder: ");
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "out of");
    KAT_CHECK(!strstr(kat_stream_last_error(s), "image_encoder: image_encoder")); /* once */
    if (run == 0) printf("stage 2 error: %s\n", kat_stream_last_error(s));
    kat_stream_close(s);
  }
  /* Sequential push: the push only preprocesses; kat_stream_next reports the encoder's error. */
  kat_stream_options so = stream_opts(0);
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_fail_bundle, NULL, g_box, &so, &s, err, sizeof err) == KAT_OK) {
    kat_track_result r;
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g_frames[0]), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g_white_frame), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_ERUNTIME);
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "image_encoder: ");
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "out of");
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g_frames[1]), KAT_ERUNTIME);
    KAT_CHECK_CONTAINS(kat_stream_push_error(s), "the stream stopped: image_encoder");
    kat_stream_close(s);
  } else {
    KAT_CHECK(0);
  }
  /* The tracker API on the same model: the failed step ends the track (KAT_ESTATE after). */
  kat_tracker_options o = tracker_opts();
  kat_tracker *t = NULL;
  if (kat_tracker_create(g_fail_bundle, &o, &t, err, sizeof err) == KAT_OK) {
    kat_track_result r;
    KAT_CHECK_INT_EQ(kat_tracker_start(t, &g_frames[0], g_box, &r), KAT_OK);
    KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[1], &r), KAT_OK);
    KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_white_frame, &r), KAT_ERUNTIME);
    KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "out of");
    KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[2], &r), KAT_ESTATE);
    KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "frame 2 failed with KAT_ERUNTIME");
    KAT_CHECK_INT_EQ(kat_tracker_start(t, &g_frames[0], g_box, &r), KAT_OK);
    KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[1], &r), KAT_OK);
  } else {
    KAT_CHECK(0);
  }
  kat_tracker_destroy(t);
  remove_failing_bundle();
  watchdog_off();
}

/* kat_tracker_step after a failed step returns KAT_ESTATE, as tracker.h says. */
KAT_TEST(test_step_after_failed_step) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES); /* compared with below */
  watchdog("kat_tracker_step after a failed step", 120);
  kat_tracker_options o = tracker_opts();
  kat_tracker *t = NULL;
  char err[1024];
  if (kat_tracker_create(g_bundle, &o, &t, err, sizeof err) != KAT_OK) {
    KAT_CHECK(0);
    return;
  }
  kat_track_result r;
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &g_frames[0], g_box, &r), KAT_OK);
  kat_frame small = g_frames[1];
  small.width -= 2; /* same pixels, another size */
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &small, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "the track's is");
  /* A refused frame touches no state: the track goes on and still matches the reference. */
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[1], &r), KAT_OK);
  rec a;
  to_rec(&r, &a);
  KAT_CHECK(same(&a, &g_seq[1]));
  /* A step that fails inside the tracker ends the track: test_real_encoder_failure. A new start
   * after a finished track matches the reference from frame 0. */
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &g_frames[0], g_box, &r), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[1], &r), KAT_OK);
  to_rec(&r, &a);
  KAT_CHECK(same(&a, &g_seq[1]));
  kat_tracker_destroy(t);
  watchdog_off();
}

/* Sequential push with drop_oldest never blocks: pushes beyond the queue drop waiting frames. */
KAT_TEST(test_sequential_drop_oldest_push) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES); /* compared with below */
  watchdog("sequential push with drop_oldest", 120);
  kat_stream_options so = stream_opts(0);
  so.drop_oldest = 1;
  so.queue_capacity = 2;
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err) != KAT_OK) {
    KAT_CHECK(0);
    return;
  }
  int ok = 0;
  for (int i = 0; i < 10; i++) ok += kat_stream_push(s, &g_frames[i]) == KAT_OK;
  KAT_CHECK_INT_EQ(ok, 10);
  kat_track_result r;
  KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK); /* the conditioning frame is kept */
  rec a;
  to_rec(&r, &a);
  KAT_CHECK_INT_EQ(r.source_index, 0);
  KAT_CHECK(same(&a, &g_seq[0]));
  KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK); /* then the newest */
  KAT_CHECK_INT_EQ(r.source_index, 9);
  KAT_CHECK_INT_EQ(r.dropped_before, 8);
  KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_EAGAIN);
  KAT_CHECK_CONTAINS(kat_stream_last_error(s), "every pushed frame (2) has been delivered");
  KAT_CHECK_INT_EQ(kat_stream_end(s), KAT_OK);
  KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_EOF);
  kat_stream_stats st;
  kat_stream_get_stats(s, &st);
  KAT_CHECK_INT_EQ(st.dropped, 8);
  kat_stream_close(s);
  watchdog_off();
}

/* One thread pushes and consumes a pipelined stream: it gets KAT_EAGAIN, never a deadlock. */
KAT_TEST(test_push_and_next_on_one_thread) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES); /* compared with below */
  watchdog("pipelined push and next on one thread", 120);
  kat_stream_options so = stream_opts(1);
  so.queue_capacity = 2;
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err) != KAT_OK) {
    KAT_CHECK(0);
    return;
  }
  /* try_push fills the pipeline (2 queues + the encoder's slot) and then says so. */
  int i = 0, rc;
  while (i < N_PUSH && (rc = kat_stream_try_push(s, &g_frames[i])) == KAT_OK) i++;
  KAT_CHECK_INT_EQ(rc, KAT_EAGAIN);
  KAT_CHECK(i >= so.queue_capacity && i <= 2 * so.queue_capacity + 1); /* stage 2 may be busy */
  KAT_CHECK_CONTAINS(kat_stream_push_error(s), "kat_stream_try_push: the pipeline is full");
  printf("try_push took %d frames before KAT_EAGAIN\n", i);
  static rec got[N_PUSH];
  int n = 0;
  kat_track_result r;
  KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
  to_rec(&r, &got[n++]);
  /* This thread is now the consumer: the blocking push returns KAT_EAGAIN instead of waiting
   * for itself (capacity + 3 frames used to deadlock here). */
  for (;;) {
    rc = i < N_PUSH ? kat_stream_push(s, &g_frames[i]) : KAT_OK;
    if (rc == KAT_OK && i < N_PUSH) {
      i++;
      continue;
    }
    if (rc == KAT_EAGAIN) {
      KAT_CHECK_CONTAINS(kat_stream_push_error(s), "this thread is the stream's consumer");
      KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
      if (n < N_PUSH) to_rec(&r, &got[n++]);
      continue;
    }
    break;
  }
  KAT_CHECK_INT_EQ(kat_stream_end(s), KAT_OK);
  while ((rc = kat_stream_next(s, &r)) == KAT_OK)
    if (n < N_PUSH) to_rec(&r, &got[n++]);
  KAT_CHECK_INT_EQ(rc, KAT_EOF);
  KAT_CHECK_INT_EQ(n, N_PUSH);
  int diff = 0;
  for (int k = 0; k < n; k++) diff += !same(&got[k], &g_seq[k]) || got[k].source_index != k;
  KAT_CHECK_INT_EQ(diff, 0); /* every frame, in order, bit-identical to the sequential tracker */
  kat_stream_close(s);
  watchdog_off();
}

typedef struct late_pusher {
  kat_stream *s;
  int rc;
} late_pusher;

static void *push_later(void *arg) {
  late_pusher *lp = arg;
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  lp->rc = kat_stream_push(lp->s, &g_frames[0]);
  return NULL;
}

/* kat_stream_next before any push returns KAT_EAGAIN at once; next_timeout waits for a push. */
KAT_TEST(test_next_before_push) {
  KAT_CHECK_INT_EQ(sequential_reference(), N_FRAMES); /* compared with below */
  for (int pipeline = 0; pipeline < 2; pipeline++) {
    watchdog(pipeline ? "next before any push (pipelined)" : "next before any push (sequential)",
             60);
    kat_stream_options so = stream_opts(pipeline);
    kat_stream *s = NULL;
    char err[1024];
    if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err) != KAT_OK) {
      KAT_CHECK(0);
      return;
    }
    kat_track_result r;
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_EAGAIN);
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "every pushed frame (0) has been delivered");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    KAT_CHECK_INT_EQ(kat_stream_next_timeout(s, &r, 50), KAT_EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    KAT_CHECK(ms >= 45.0);
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "none came within the timeout");
    /* A push from another thread wakes a consumer waiting without limit. */
    late_pusher lp = {s, -1};
    pthread_t th;
    pthread_create(&th, NULL, push_later, &lp);
    KAT_CHECK_INT_EQ(kat_stream_next_timeout(s, &r, -1), KAT_OK);
    pthread_join(th, NULL);
    KAT_CHECK_INT_EQ(lp.rc, KAT_OK);
    rec x;
    to_rec(&r, &x);
    KAT_CHECK(same(&x, &g_seq[0]));
    KAT_CHECK_INT_EQ(kat_stream_end(s), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_next_timeout(s, &r, -1), KAT_EOF);
    kat_stream_close(s);
    watchdog_off();
  }
}

/* queue_capacity has an upper bound (INT_MAX used to overflow and allocate ~13 GB). */
KAT_TEST(test_queue_capacity_bound) {
  watchdog("queue_capacity bounds", 60);
  const int caps[2] = {KAT_STREAM_MAX_QUEUE_CAPACITY + 1, INT_MAX};
  for (int k = 0; k < 2; k++) {
    kat_stream_options so = stream_opts(k);
    so.queue_capacity = caps[k];
    kat_stream *s = NULL;
    char err[KAT_ERROR_SIZE] = "";
    KAT_CHECK_INT_EQ(kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err), KAT_ERANGE);
    KAT_CHECK(s == NULL);
    KAT_CHECK_CONTAINS(err, "queue_capacity");
    KAT_CHECK_CONTAINS(err, "out of range");
    kat_stream_close(s);
  }
  watchdog_off();
}

typedef struct blocked_pusher {
  kat_stream *s;
  int ok; /* pushes that returned KAT_OK (read by the main thread under `mu`) */
  int rc;
  pthread_mutex_t mu;
} blocked_pusher;

static void *push_until_stopped(void *arg) {
  blocked_pusher *bp = arg;
  for (int i = 0;; i = (i + 1) % N_PUSH) {
    int rc = kat_stream_push(bp->s, &g_frames[i]);
    pthread_mutex_lock(&bp->mu);
    if (rc == KAT_OK) bp->ok++;
    bp->rc = rc;
    pthread_mutex_unlock(&bp->mu);
    if (rc != KAT_OK) break; /* never touches the stream again */
  }
  return NULL;
}

/* kat_stream_close while another thread is blocked in kat_stream_push (shutdown of a product). */
KAT_TEST(test_close_during_push) {
  watchdog("close while another thread pushes", 120);
  kat_stream_options so = stream_opts(1);
  so.queue_capacity = 1;
  kat_stream *s = NULL;
  char err[1024];
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err) != KAT_OK) {
    KAT_CHECK(0);
    return;
  }
  blocked_pusher bp = {s, 0, KAT_OK, PTHREAD_MUTEX_INITIALIZER};
  pthread_t th;
  pthread_create(&th, NULL, push_until_stopped, &bp);
  /* Nobody consumes: after 2 * capacity + 1 frames the pusher is blocked inside push. */
  int ok = 0;
  for (int tries = 0; tries < 2000 && ok < 2 * so.queue_capacity + 1; tries++) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&bp.mu);
    ok = bp.ok;
    pthread_mutex_unlock(&bp.mu);
  }
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  pthread_mutex_lock(&bp.mu);
  KAT_CHECK_INT_EQ(bp.ok, 2 * so.queue_capacity + 1);
  KAT_CHECK_INT_EQ(bp.rc, KAT_OK); /* still inside its blocked push */
  pthread_mutex_unlock(&bp.mu);
  kat_stream_close(s); /* wakes the push, waits for it to return, then frees */
  pthread_join(th, NULL);
  KAT_CHECK_INT_EQ(bp.rc, KAT_ECANCELED);
  pthread_mutex_destroy(&bp.mu);
  /* The message of a push on a stopped stream names the stop. */
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err) == KAT_OK) {
    kat_stream_cancel(s);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g_frames[0]), KAT_ECANCELED);
    KAT_CHECK_CONTAINS(kat_stream_push_error(s), "kat_stream_push: the stream stopped: canceled");
    kat_stream_close(s);
  }
  watchdog_off();
}

/* The clip, the bundle and the frames in memory, shared by every case. */
static void setup_all(void) {
  setup();
  load_frames();
}

KAT_TEST_MAIN(KAT_SETUP(setup_all), KAT_CASE(test_identical_to_sequential),
              KAT_CASE(test_two_streams_on_one_model), KAT_CASE(test_error_injection),
              KAT_CASE(test_cancel_from_another_thread), KAT_CASE(test_push_with_drops),
              KAT_CASE(test_step_after_failed_step), KAT_CASE(test_sequential_drop_oldest_push),
              KAT_CASE(test_push_and_next_on_one_thread), KAT_CASE(test_next_before_push),
              KAT_CASE(test_queue_capacity_bound), KAT_CASE(test_close_during_push),
              KAT_CASE(test_real_encoder_failure), KAT_TEARDOWN(free_frames))
