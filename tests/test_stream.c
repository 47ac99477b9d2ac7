/*
 * Tests for streams: results in order and bit-identical to the sequential tracker (pull, both
 * modes, and push) on a 60-frame synthetic clip; error injection in each stage surfaces the
 * stage's message and stops cleanly; cancellation from another thread; push mode with dropped
 * frames accounted for. Runs under TSan in CI.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kat_test.h"
#include "katana/katana.h"
#include "pipeline/stream_internal.h"

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
  kat_synth_options so;
  kat_synth_options_init(&so);
  so.suite = KAT_SYNTH_EVAL;
  so.seed = 5;
  so.frames = N_FRAMES;
  so.width = 160;
  so.height = 96;
  so.out_dir = root;
  char err[512];
  snprintf(g_clip, sizeof g_clip, "%s/eval-000/groundtruth.txt", root);
  if (access(g_clip, R_OK) != 0 && kat_synth_write(&so, err, sizeof err) != KAT_OK)
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

static rec g_seq[N_FRAMES];
static int g_n_seq;

KAT_TEST(test_identical_to_sequential) {
  g_n_seq = run_sequential(g_seq);
  KAT_CHECK_INT_EQ(g_n_seq, N_FRAMES);
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
  while ((rc = kat_stream_next(s, &r)) == KAT_OK) {
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

  /* Sequential push mode never blocks: a full queue is KAT_ESTATE. */
  so = stream_opts(0);
  so.queue_capacity = 1;
  if (kat_stream_open(g_bundle, NULL, g_box, &so, &s, err, sizeof err)) return;
  kat_source *src = NULL;
  if (kat_source_open(g_clip, NULL, &src, err, sizeof err) == KAT_OK) {
    kat_frame f;
    kat_source_next(src, &f);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &f), KAT_OK);
    kat_source_next(src, &f);
    KAT_CHECK_INT_EQ(kat_stream_push(s, &f), KAT_ESTATE);
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
    rec a;
    to_rec(&r, &a);
    KAT_CHECK(same(&a, &g_seq[0]));
    kat_source_close(src);
  }
  kat_stream_close(s);
}

static void all(void) {
  setup();
  test_identical_to_sequential();
  test_error_injection();
  test_cancel_from_another_thread();
  test_push_with_drops();
}

KAT_TEST_MAIN(all)
