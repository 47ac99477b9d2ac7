/*
 * Corrections, mask prompts and re-seeding on bundle format 2, in the tracker and in a stream
 * (katana/tracker.h, katana/stream.h), on the trained bundle models/default so masks have the
 * object's shape:
 *  - parity with the Python reference MultiTracker (ONNX backend, same bundle) on the scenarios
 *    of scripts/testdata/track_prompt_goldens.py ("correct": a point correction on frame 12, a
 *    box correction on frame 24 (the target hidden there), an object added on frame 10 and removed
 * on frame 30; "mask": a mask prompt on frame 0 and a new object from a mask on frame 8; "reseed":
 * an object LOST during the occlusion re-seeded on frame 28): per record the same candidate,
 * presence, conditioning and correction flags, box within 1 px, low-res mask IoU >= 0.999;
 *  - each scenario in a pipelined push-mode stream, bit-identical to the tracker;
 *  - K objects in one stream bit-identical to K single-object streams;
 *  - no allocation per frame in steady state with 3 objects in a pipelined stream;
 *  - bad prompts: a frame already passed in a stream (KAT_ERANGE naming both frames), an empty
 *    mask, a mask of the wrong size (KAT_EINVAL), a correction, a mask prompt and a reseed on a
 *    format-1 bundle (KAT_ENOTSUP), kat_tracker_step with two objects (KAT_ESTATE).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kat_test.h"
#include "katana/katana.h"
#include "media/image_io.h"

static atomic_size_t n_allocs;
static void *count_malloc(void *u, size_t n) {
  (void)u;
  atomic_fetch_add(&n_allocs, 1);
  return malloc(n);
}
static void *count_realloc(void *u, void *p, size_t n) {
  (void)u;
  atomic_fetch_add(&n_allocs, 1);
  return realloc(p, n);
}
static void count_free(void *u, void *p) {
  (void)u;
  free(p);
}

enum { NF = 48, MAXREC = 160, W = 320, H = 180 };

typedef struct rec {
  int frame, obj, chosen, present, cond, corr, box[4];
  float score;
  float *low; /* [L*L] f32 */
} rec;

typedef struct recs {
  rec r[MAXREC];
  int n;
} recs;

/* One scripted action: a prompt (box, point or mask from the ground truth of frame `gt`) for
 * object `obj` on frame `frame`, a reseed, or a removal before `frame`. */
enum { A_BOX, A_POINT, A_MASK, A_RESEED, A_REMOVE };
typedef struct action {
  int kind, obj, frame, gt;
} action;

typedef struct scenario {
  const char *name;
  const action *acts;
  int n_acts;
  double min_obj; /* NAN: the bundle's */
  int lost_after;
} scenario;

static const action correct_acts[] = {{A_BOX, 0, 0, 0},
                                      {A_BOX, 1, 10, 10},
                                      {A_POINT, 0, 12, 12},
                                      {A_BOX, 0, 24, 14},
                                      {A_REMOVE, 1, 30, 0}};
static const action mask_acts[] = {{A_MASK, 0, 0, 0}, {A_MASK, 1, 8, 8}};
static const action reseed_acts[] = {{A_BOX, 0, 0, 0}, {A_RESEED, 0, 28, 28}};
static const scenario g_scen[] = {
    {"correct", correct_acts, 5, NAN, 30},
    {"mask", mask_acts, 2, NAN, 30},
    {"reseed", reseed_acts, 2, 2.0, 5}, /* RESEED_MIN_OBJ of the golden script */
};

static kat_frame g_frames[NF];
static uint8_t *g_pix[NF];
static uint8_t *g_masks[NF]; /* [H, W] u8 ground-truth masks */
static double g_gt[NF][4];
static char g_bundle[4200];
static int g_L;

static int load_clip(void) {
  kat__image img = {0};
  kat__errbuf eb;
  char path[4300];
  FILE *g = fopen(kat_test_data("track/clip/groundtruth.txt"), "r");
  if (!g) return -1;
  for (int i = 0; i < NF; i++)
    if (fscanf(g, "%lf,%lf,%lf,%lf", &g_gt[i][0], &g_gt[i][1], &g_gt[i][2], &g_gt[i][3]) != 4) {
      fclose(g);
      return -1;
    }
  fclose(g);
  for (int i = 0; i < NF; i++) {
    snprintf(path, sizeof path, "%s/%05d.png", kat_test_data("track/clip/img"), i);
    if (kat__image_read(path, &img, &eb) || img.width != W || img.height != H) return -1;
    g_pix[i] = malloc(img.stride * H);
    memcpy(g_pix[i], img.data, img.stride * H);
    kat_frame *f = &g_frames[i];
    memset(f, 0, sizeof *f);
    f->format = KAT_PIXEL_RGB24;
    f->width = W;
    f->height = H;
    f->data[0] = g_pix[i];
    f->stride[0] = img.stride;
    f->index = i;
    snprintf(path, sizeof path, "%s/%05d.png", kat_test_data("track/clip/masks"), i);
    if (kat__image_read(path, &img, &eb) || img.width != W || img.height != H) return -1;
    g_masks[i] = malloc((size_t)W * H);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        g_masks[i][y * W + x] = img.data[(size_t)y * img.stride + (size_t)x * img.channels] > 127;
  }
  kat__image_cleanup(&img);
  return 0;
}

static kat_tracker_options opts(const scenario *sc) {
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  o.want_logits = 1;
  o.num_frames = 64;
  if (sc) {
    o.min_obj_score_logits = sc->min_obj;
    o.lost_after_frames = sc->lost_after;
  }
  return o;
}

static kat_prompt make_prompt(const action *a) {
  kat_prompt p;
  kat_prompt_init(&p);
  const double *b = g_gt[a->gt];
  if (a->kind == A_BOX) {
    p.has_box = 1;
    memcpy(p.box, b, sizeof p.box);
  } else if (a->kind == A_POINT) {
    p.n_points = 1;
    p.points[0][0] = b[0] + b[2] / 2;
    p.points[0][1] = b[1] + b[3] / 2;
    p.labels[0] = 1;
  } else if (a->kind == A_MASK) {
    p.mask = g_masks[a->gt];
    p.mask_width = W;
    p.mask_height = H;
    p.mask_stride = W;
  }
  return p;
}

static void add_rec(recs *out, int frame, const kat_track_result *r) {
  if (out->n >= MAXREC) return;
  rec *o = &out->r[out->n++];
  o->frame = frame;
  o->obj = r->obj_id;
  o->chosen = r->candidate;
  o->present = r->presence == KAT_PRESENCE_TRACKED;
  o->cond = r->is_cond;
  o->corr = r->correction;
  for (int j = 0; j < 4; j++) o->box[j] = (int)r->box[j];
  o->score = r->object_score;
  o->low = malloc((size_t)g_L * g_L * sizeof(float));
  KAT_CHECK(r->low_res != NULL && r->low_res_size == g_L);
  if (r->low_res) memcpy(o->low, r->low_res, (size_t)g_L * g_L * sizeof(float));
}

static void free_recs(recs *r) {
  for (int i = 0; i < r->n; i++) free(r->r[i].low);
  r->n = 0;
}

/* The scenario in a tracker on `m`, objects filtered by `only` (-1: all). Returns 0 or -1;
 * *lost_seen gets the number of LOST records. */
static int run_tracker(kat_model *m, const scenario *sc, int only, recs *out, int *lost_seen) {
  kat_tracker_options o = opts(sc);
  kat_tracker *t = NULL;
  char err[KAT_ERROR_SIZE];
  int rc = kat_tracker_create_on_model(m, &o, &t, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) return -1;
  KAT_CHECK_INT_EQ(kat_tracker_reset(t, W, H), KAT_OK);
  for (int k = 0; k < sc->n_acts; k++) {
    const action *a = &sc->acts[k];
    if ((only >= 0 && a->obj != only) || a->kind == A_RESEED || a->kind == A_REMOVE) continue;
    kat_prompt p = make_prompt(a);
    KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, a->obj, a->frame, &p), KAT_OK);
  }
  if (lost_seen) *lost_seen = 0;
  for (int i = 0; i < NF; i++) {
    for (int k = 0; k < sc->n_acts; k++) {
      const action *a = &sc->acts[k];
      if (a->frame != i || (only >= 0 && a->obj != only)) continue;
      if (a->kind == A_RESEED) {
        /* The object is LOST here (reseed scenario): the record of frame i-1 said so. */
        KAT_CHECK_INT_EQ(kat_tracker_reseed(t, a->obj, g_gt[a->gt]), KAT_OK);
      } else if (a->kind == A_REMOVE) {
        KAT_CHECK_INT_EQ(kat_tracker_remove_object(t, a->obj), KAT_OK);
      }
    }
    kat_track_result res[4];
    int count = 0;
    rc = kat_tracker_track(t, &g_frames[i], res, 4, &count);
    if (rc) {
      fprintf(stderr, "%s frame %d: %s: %s\n", sc->name, i, kat_status_name(rc),
              kat_tracker_last_error(t));
      kat_tracker_destroy(t);
      return -1;
    }
    for (int k = 0; k < count && k < 4; k++) {
      if (lost_seen && res[k].presence == KAT_PRESENCE_LOST) ++*lost_seen;
      add_rec(out, i, &res[k]);
    }
  }
  kat_tracker_destroy(t);
  return 0;
}

/* The scenario in a push-mode stream (pipelined or not), every prompt queued up front with
 * kat_stream_add_prompt / kat_stream_remove_object (a reseed is the box prompt of its frame).
 * With `steady` the allocations of frames 4.. are added to *steady. */
static int run_stream(const scenario *sc, int only, int pipeline, recs *out, size_t *steady) {
  kat_stream_options so;
  kat_stream_options_init(&so);
  so.tracker = opts(sc);
  so.pipeline = pipeline;
  kat_stream *s = NULL;
  char err[KAT_ERROR_SIZE];
  int rc = kat_stream_open(g_bundle, NULL, NULL, &so, &s, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  for (int k = 0; k < sc->n_acts; k++) {
    const action *a = &sc->acts[k];
    if (only >= 0 && a->obj != only) continue;
    if (a->kind == A_REMOVE) {
      KAT_CHECK_INT_EQ(kat_stream_remove_object(s, a->obj, a->frame), KAT_OK);
    } else {
      action b = *a;
      if (b.kind == A_RESEED) b.kind = A_BOX;
      kat_prompt p = make_prompt(&b);
      KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, a->obj, a->frame, &p), KAT_OK);
    }
  }
  int pushed = 0, got = 0;
  size_t base = 0;
  kat_track_result res[4];
  while (got < NF) {
    if (pushed < NF) {
      rc = kat_stream_try_push(s, &g_frames[pushed]);
      if (rc == KAT_OK) {
        if (++pushed == NF) KAT_CHECK_INT_EQ(kat_stream_end(s), KAT_OK);
        continue;
      }
      if (rc != KAT_EAGAIN) break;
    }
    int count = 0;
    rc = kat_stream_next_objects(s, res, 4, &count, -1);
    if (rc) break;
    if (got == 3) base = atomic_load(&n_allocs);
    for (int k = 0; k < count && k < 4; k++) add_rec(out, got, &res[k]);
    got++;
  }
  if (steady) *steady += atomic_load(&n_allocs) - base;
  if (rc)
    fprintf(stderr, "%s stream: %s: %s %s\n", sc->name, kat_status_name(rc),
            kat_stream_last_error(s), kat_stream_push_error(s));
  KAT_CHECK_INT_EQ(got, NF);
  kat_stream_close(s);
  return got == NF ? 0 : -1;
}

static double mask_iou(const float *a, const float *b, int n) {
  size_t inter = 0, uni = 0;
  for (int i = 0; i < n; i++) {
    int x = a[i] > 0, y = b[i] > 0;
    inter += x && y;
    uni += x || y;
  }
  return uni ? (double)inter / (double)uni : 1.0;
}

static void compare_golden(const scenario *sc, const recs *got) {
  char path[4300], dir[4200];
  snprintf(dir, sizeof dir, "%s/%s", kat_test_data("track/prompts_default"), sc->name);
  snprintf(path, sizeof path, "%s/records.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "no prompt goldens at %s (scripts/testdata/30-track)\n", path);
    KAT_CHECK(f != NULL);
    return;
  }
  snprintf(path, sizeof path, "%s/low_res.f32", dir);
  FILE *lf = fopen(path, "rb");
  KAT_CHECK(lf != NULL);
  const size_t LL = (size_t)g_L * g_L;
  float *low = malloc(LL * sizeof(float));
  int ng = 0, keyd = 0, cand = 0, pres = 0, cond = 0, corr = 0, boxd = 0, n_corr = 0;
  double worst = 1.0, aa_diff = 0.0;
  rec g;
  while (fscanf(f, "%d %d %d %d %d %d %d %d %d %d %f", &g.frame, &g.obj, &g.chosen, &g.present,
                &g.cond, &g.corr, &g.box[0], &g.box[1], &g.box[2], &g.box[3], &g.score) == 11) {
    if (!lf || fread(low, sizeof(float), LL, lf) != LL) break;
    if (ng < got->n) {
      const rec *r = &got->r[ng];
      keyd += r->frame != g.frame || r->obj != g.obj;
      cand += r->chosen != g.chosen;
      pres += r->present != g.present;
      cond += r->cond != g.cond;
      corr += r->corr != g.corr;
      n_corr += g.corr;
      for (int j = 0; j < 4; j++) boxd += abs(r->box[j] - g.box[j]) > 1;
      double iou = mask_iou(r->low, low, (int)LL);
      if (iou < worst) worst = iou;
      /* A mask prompt's frame: the logits are the antialiased resize of mask*20-10 (no model),
       * so they test the C resize against hostmath.resize_aa directly. */
      if (g.cond && sc->acts[0].kind == A_MASK)
        for (size_t i = 0; i < LL; i++) {
          double d = fabs((double)r->low[i] - (double)low[i]);
          if (d > aa_diff) aa_diff = d;
        }
    }
    ng++;
  }
  fclose(f);
  if (lf) fclose(lf);
  free(low);
  printf(
      "%s vs reference: %d records (reference %d, %d corrections), order %d, candidate %d, "
      "presence %d, cond %d, correction %d, box coords > 1 px %d, worst low-res mask IoU "
      "%.6f\n",
      sc->name, got->n, ng, n_corr, keyd, cand, pres, cond, corr, boxd, worst);
  KAT_CHECK_INT_EQ(ng, got->n);
  KAT_CHECK_INT_EQ(keyd, 0);
  KAT_CHECK_INT_EQ(cand, 0);
  KAT_CHECK_INT_EQ(pres, 0);
  KAT_CHECK_INT_EQ(cond, 0);
  KAT_CHECK_INT_EQ(corr, 0);
  KAT_CHECK_INT_EQ(boxd, 0);
  KAT_CHECK(worst >= 0.999);
  if (sc->acts[0].kind == A_MASK) {
    printf("%s: mask-prompt frames' low-res logits vs hostmath.resize_aa: max abs diff %.3g\n",
           sc->name, aa_diff);
    KAT_CHECK(aa_diff <= 1e-5);
  }
}

/* Records of object `obj` in `a` (all of them in b) must match b bit for bit. */
static int same_records(const recs *a, int obj, const recs *b) {
  int k = 0, same = 0;
  for (int i = 0; i < a->n; i++) {
    const rec *x = &a->r[i];
    if (obj >= 0 && x->obj != obj) continue;
    if (k >= b->n) return -1;
    const rec *y = &b->r[k++];
    same += x->frame == y->frame && x->obj == y->obj && x->chosen == y->chosen &&
            x->present == y->present && x->cond == y->cond && x->corr == y->corr &&
            x->score == y->score && memcmp(x->low, y->low, (size_t)g_L * g_L * sizeof(float)) == 0;
  }
  return k == b->n && same == k ? 0 : -1;
}

KAT_TEST(test_scenarios) {
  kat_model *m = NULL;
  char err[KAT_ERROR_SIZE];
  KAT_CHECK_INT_EQ(kat_model_open(g_bundle, NULL, &m, err, sizeof err), KAT_OK);
  if (!m) return;
  KAT_CHECK_INT_EQ(kat_model_supports_mask_input(m), 1);
  static recs seq, str, single;
  for (size_t s = 0; s < sizeof g_scen / sizeof g_scen[0]; s++) {
    const scenario *sc = &g_scen[s];
    int lost = 0;
    if (run_tracker(m, sc, -1, &seq, &lost) == 0) compare_golden(sc, &seq);
    if (sc->acts[1].kind == A_RESEED) {
      printf("reseed: %d LOST records before the reseed\n", lost);
      KAT_CHECK(lost > 0);
    }
    /* The pipelined stream gives the tracker's records bit for bit. */
    if (run_stream(sc, -1, 1, &str, NULL) == 0) {
      int rc = same_records(&seq, -1, &str);
      printf("%s: pipelined stream %s the tracker (%d records)\n", sc->name,
             rc ? "DIFFERS from" : "bit-identical to", str.n);
      KAT_CHECK_INT_EQ(rc, 0);
    }
    free_recs(&str);
    /* K objects in one stream = K single-object streams. */
    for (int obj = 0; obj < 2; obj++) {
      int has = 0;
      for (int k = 0; k < sc->n_acts; k++) has |= sc->acts[k].obj == obj;
      if (!has) continue;
      if (run_stream(sc, obj, 1, &single, NULL) == 0) {
        int rc = same_records(&seq, obj, &single);
        printf("%s: object %d alone in a stream %s its records in the %s stream (%d)\n", sc->name,
               obj, rc ? "DIFFERS from" : "bit-identical to", sc->name, single.n);
        KAT_CHECK_INT_EQ(rc, 0);
      }
      free_recs(&single);
    }
    free_recs(&seq);
  }
  kat_model_release(m);
}

/* Three box objects from frame 0 in a pipelined stream: frames 4..47 allocate nothing. */
KAT_TEST(test_stream_steady_allocations) {
  static const action acts[] = {{A_BOX, 0, 0, 0}, {A_BOX, 1, 0, 5}, {A_BOX, 2, 0, 30}};
  const scenario sc = {"three", acts, 3, NAN, 30};
  static recs r;
  size_t steady = 0;
  if (run_stream(&sc, -1, 1, &r, &steady) == 0) {
    printf("3 objects in a pipelined stream: %d records, %zu allocations on frames 4-47\n", r.n,
           steady);
    KAT_CHECK_INT_EQ(r.n, 3 * NF);
    KAT_CHECK_INT_EQ(steady, 0);
  }
  free_recs(&r);
}

KAT_TEST(test_bad_prompts) {
  kat_stream_options so;
  kat_stream_options_init(&so);
  so.tracker = opts(NULL);
  kat_stream *s = NULL;
  char err[KAT_ERROR_SIZE];
  KAT_CHECK_INT_EQ(kat_stream_open(g_bundle, NULL, g_gt[0], &so, &s, err, sizeof err), KAT_OK);
  if (!s) return;
  kat_track_result r;
  for (int i = 0; i < 3; i++) {
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g_frames[i]), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_next_timeout(s, &r, -1), KAT_OK);
  }
  action a = {A_BOX, 0, 1, 1};
  kat_prompt p = make_prompt(&a);
  KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, 0, 1, &p), KAT_ERANGE);
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "frame 1");
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "next frame it takes is 3");
  printf("passed frame: %s\n", kat_stream_prompt_error(s));
  uint8_t *empty = calloc((size_t)W * H, 1);
  kat_prompt mp;
  kat_prompt_init(&mp);
  mp.mask = empty;
  mp.mask_width = W;
  mp.mask_height = H;
  mp.mask_stride = W;
  KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, 1, 5, &mp), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "no object pixel");
  mp.mask = g_masks[5];
  mp.mask_width = W / 2;
  mp.mask_stride = W;
  KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, 1, 5, &mp), KAT_EINVAL);
  printf("wrong-size mask: %s\n", kat_stream_prompt_error(s));
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "160x180");
  free(empty);
  kat_stream_close(s);

  /* kat_tracker_step with two objects would drop the second one's result: refused. */
  kat_model *m = NULL;
  KAT_CHECK_INT_EQ(kat_model_open(g_bundle, NULL, &m, err, sizeof err), KAT_OK);
  kat_tracker_options o = opts(NULL);
  kat_tracker *t = NULL;
  KAT_CHECK_INT_EQ(kat_tracker_create_on_model(m, &o, &t, err, sizeof err), KAT_OK);
  kat_model_release(m);
  if (t) {
    KAT_CHECK_INT_EQ(kat_tracker_start(t, &g_frames[0], g_gt[0], &r), KAT_OK);
    kat_prompt q = make_prompt(&(action){A_BOX, 1, 1, 1});
    KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 1, 1, &q), KAT_OK);
    KAT_CHECK_INT_EQ(kat_tracker_step(t, &g_frames[1], &r), KAT_ESTATE);
    printf("step with 2 objects: %s\n", kat_tracker_last_error(t));
    KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "kat_tracker_track");
    kat_tracker_destroy(t);
  }

  /* Format 1 (a format-1 export of the micro test model): corrections, mask prompts and reseeds
   * are refused in the tracker and in a stream. */
  char v1[4300];
  snprintf(v1, sizeof v1, "%s", kat_test_data("bundles/micro_efficienttam_v1"));
  char probe[4400];
  snprintf(probe, sizeof probe, "%s/katana.json", v1);
  FILE *pf = fopen(probe, "r");
  if (!pf) {
    fprintf(stderr, "no format 1 fixture at %s (scripts/testdata/10-bundles)\n", v1);
    KAT_CHECK(pf != NULL);
    return;
  }
  fclose(pf);
  KAT_CHECK_INT_EQ(kat_stream_open(v1, NULL, g_gt[0], &so, &s, err, sizeof err), KAT_OK);
  if (!s) return;
  KAT_CHECK_INT_EQ(kat_stream_push(s, &g_frames[0]), KAT_OK);
  KAT_CHECK_INT_EQ(kat_stream_next_timeout(s, &r, -1), KAT_OK);
  KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, 0, 6, &p), KAT_ENOTSUP);
  printf("format 1 correction: %s\n", kat_stream_prompt_error(s));
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "a correction");
  mp.mask = g_masks[6];
  mp.mask_width = W;
  KAT_CHECK_INT_EQ(kat_stream_add_prompt(s, 1, 6, &mp), KAT_ENOTSUP);
  KAT_CHECK_CONTAINS(kat_stream_prompt_error(s), "a mask prompt");
  kat_stream_close(s);
}

/* Counts allocations; loads the clip and the default model's image size every case needs. */
static void setup(void) {
  static const kat_allocator a = {count_malloc, count_realloc, count_free, NULL};
  kat_set_allocator(&a);
  const char *b = kat_test_data("bundles/micro_efficienttam/katana.json");
  if (!b) KAT_SKIP("KAT_TEST_DATA not set");
  const char *src = getenv("KAT_SOURCE_DIR");
  if (!src) KAT_SKIP("KAT_SOURCE_DIR not set (models/default)");
  snprintf(g_bundle, sizeof g_bundle, "%s/models/default", src);
  int rc = load_clip();
  if (rc) fprintf(stderr, "track/clip not generated (scripts/testdata/30-track)\n");
  KAT_CHECK_INT_EQ(rc, 0);
  kat_model *m = NULL;
  char err[KAT_ERROR_SIZE];
  rc = kat_model_open(g_bundle, NULL, &m, err, sizeof err);
  if (rc) fprintf(stderr, "models/default: %s\n", err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (m) g_L = kat_model_image_size(m) / 4;
  kat_model_release(m);
}

static void teardown(void) {
  for (int i = 0; i < NF; i++) {
    free(g_pix[i]);
    free(g_masks[i]);
  }
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_scenarios), KAT_CASE(test_stream_steady_allocations),
              KAT_CASE(test_bad_prompts), KAT_TEARDOWN(teardown))
