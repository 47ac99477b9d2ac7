/*
 * Several objects and prompts in one tracker (katana/tracker.h, katana/model.h):
 *  - parity with the Python reference MultiTracker (tools/reference/katana_reference/multi.py,
 *    PyTorch backend, so not our exporter's graphs) on scenario "multi" of
 *    scripts/testdata/track_multi_goldens.py: a box, positive + negative points and a single
 *    point on frame 0, a box object added on frame 10, one object removed on frame 30; per record
 *    the same candidate and presence, box within 1 px and low-res mask IoU >= 0.999;
 *  - each object of the multi-object run bit-identical to a single-object tracker on the same
 *    shared model (low-res logits compared with memcmp);
 *  - no allocation per frame in steady state with 3 objects;
 *  - bad prompts: a point outside the frame, an unknown id, an empty mask, a frame already
 *    passed, a correction on a format-1 bundle, too many objects.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kat_test.h"
#include "katana/katana.h"
#include "media/image_io.h"

static size_t n_allocs = 0;
static void *count_malloc(void *u, size_t n) {
  (void)u;
  n_allocs++;
  return malloc(n);
}
static void *count_realloc(void *u, void *p, size_t n) {
  (void)u;
  n_allocs++;
  return realloc(p, n);
}
static void count_free(void *u, void *p) {
  (void)u;
  free(p);
}

enum { NF = 48, MAXREC = 256 };

typedef struct rec {
  int frame, obj, chosen, present, box[4];
  float score;
  float *low; /* [L*L] */
} rec;

static kat__file_list g_files;
static kat__image g_img;
static double g_box[4];

static int load_frame(size_t i, kat_frame *f) {
  kat__errbuf eb;
  if (kat__image_read(g_files.paths[i], &g_img, &eb)) return -1;
  memset(f, 0, sizeof *f);
  f->format = KAT_PIXEL_RGB24;
  f->width = g_img.width;
  f->height = g_img.height;
  f->data[0] = g_img.data;
  f->stride[0] = g_img.stride;
  f->index = (int64_t)i;
  return 0;
}

static kat_tracker_options opts(void) {
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  o.want_logits = 1;
  o.num_frames = NF;
  return o;
}

static kat_prompt box_prompt(double x, double y, double w, double h) {
  kat_prompt p;
  kat_prompt_init(&p);
  p.has_box = 1;
  p.box[0] = x;
  p.box[1] = y;
  p.box[2] = w;
  p.box[3] = h;
  return p;
}

/* The scenario of track_multi_goldens.py; records in out[], returns their count or -1. */
static int run_scenario(kat_tracker *t, rec *out, int L, size_t *steady_allocs) {
  kat_frame f;
  if (load_frame(0, &f)) return -1;
  KAT_CHECK_INT_EQ(kat_tracker_reset(t, f.width, f.height), KAT_OK);
  const double cx = g_box[0] + g_box[2] / 2, cy = g_box[1] + g_box[3] / 2;
  kat_prompt p0 = box_prompt(g_box[0], g_box[1], g_box[2], g_box[3]);
  kat_prompt p1, p3;
  kat_prompt_init(&p1);
  p1.n_points = 2;
  p1.points[0][0] = cx;
  p1.points[0][1] = cy;
  p1.labels[0] = 1;
  p1.points[1][0] = cx - 30;
  p1.points[1][1] = cy;
  p1.labels[1] = 0;
  kat_prompt_init(&p3);
  p3.n_points = 1;
  p3.points[0][0] = cx;
  p3.points[0][1] = cy;
  p3.labels[0] = 1;
  kat_prompt p2 = box_prompt(150, 40, 40, 40);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &p0), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 1, 0, &p1), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 3, 0, &p3), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 2, 10, &p2), KAT_OK);
  int n = 0;
  kat_track_result res[8];
  for (int i = 0; i < NF && i < (int)g_files.count; i++) {
    if (load_frame((size_t)i, &f)) return -1;
    if (i == 30) KAT_CHECK_INT_EQ(kat_tracker_remove_object(t, 1), KAT_OK);
    int count = 0;
    size_t before = n_allocs;
    int rc = kat_tracker_track(t, &f, res, 8, &count);
    if (rc) {
      fprintf(stderr, "frame %d: %s: %s\n", i, kat_status_name(rc), kat_tracker_last_error(t));
      return -1;
    }
    /* Steady state: frames without a new object, past the first tracked frames. */
    if (steady_allocs && i >= 2 && i != 10 && i != 30) *steady_allocs += n_allocs - before;
    for (int k = 0; k < count && n < MAXREC; k++, n++) {
      rec *r = &out[n];
      r->frame = i;
      r->obj = res[k].obj_id;
      r->chosen = res[k].candidate;
      r->present = res[k].presence == KAT_PRESENCE_TRACKED;
      for (int j = 0; j < 4; j++) r->box[j] = (int)res[k].box[j];
      r->score = res[k].object_score;
      KAT_CHECK(res[k].low_res != NULL && res[k].low_res_size == L);
      r->low = malloc((size_t)L * L * sizeof(float));
      if (res[k].low_res) memcpy(r->low, res[k].low_res, (size_t)L * L * sizeof(float));
    }
  }
  return n;
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

static void compare_golden(const rec *got, int n, int L) {
  char path[4096];
  snprintf(path, sizeof path, "%s", kat_test_data("track/multi_micro_efficienttam/records.txt"));
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "no multi-object goldens at %s (scripts/testdata/30-track)\n", path);
    KAT_CHECK(f != NULL);
    return;
  }
  snprintf(path, sizeof path, "%s", kat_test_data("track/multi_micro_efficienttam/low_res.f32"));
  FILE *lf = fopen(path, "rb");
  KAT_CHECK(lf != NULL);
  float *low = malloc((size_t)L * L * sizeof(float));
  int ng = 0, cand = 0, pres = 0, boxd = 0, keyd = 0;
  double worst = 1.0;
  rec g;
  while (fscanf(f, "%d %d %d %d %d %d %d %d %f", &g.frame, &g.obj, &g.chosen, &g.present, &g.box[0],
                &g.box[1], &g.box[2], &g.box[3], &g.score) == 9) {
    if (!lf || fread(low, sizeof(float), (size_t)L * L, lf) != (size_t)L * L) break;
    if (ng < n) {
      const rec *r = &got[ng];
      keyd += r->frame != g.frame || r->obj != g.obj;
      cand += r->chosen != g.chosen;
      pres += r->present != g.present;
      for (int j = 0; j < 4; j++) boxd += abs(r->box[j] - g.box[j]) > 1;
      double iou = mask_iou(r->low, low, L * L);
      if (iou < worst) worst = iou;
    }
    ng++;
  }
  fclose(f);
  if (lf) fclose(lf);
  free(low);
  printf(
      "multi parity vs reference: %d records (reference %d), order differences %d, candidate "
      "%d, presence %d, box coords > 1 px %d, worst low-res mask IoU %.6f\n",
      n, ng, keyd, cand, pres, boxd, worst);
  KAT_CHECK_INT_EQ(ng, n);
  KAT_CHECK_INT_EQ(keyd, 0);
  KAT_CHECK_INT_EQ(cand, 0);
  KAT_CHECK_INT_EQ(pres, 0);
  KAT_CHECK_INT_EQ(boxd, 0);
  KAT_CHECK(worst >= 0.999);
}

/* Object `obj` alone in a tracker on `m`, prompted as in the scenario; its records must equal
 * the multi-object run's bit for bit. */
static void check_single(kat_model *m, const rec *multi, int n, int obj, int start,
                         const kat_prompt *p, int L) {
  kat_tracker_options o = opts();
  kat_tracker *t = NULL;
  char err[KAT_ERROR_SIZE];
  KAT_CHECK_INT_EQ(kat_tracker_create_on_model(m, &o, &t, err, sizeof err), KAT_OK);
  if (!t) return;
  kat_frame f;
  if (load_frame(0, &f)) return;
  KAT_CHECK_INT_EQ(kat_tracker_reset(t, f.width, f.height), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, obj, start, p), KAT_OK);
  int k = 0, same = 0, compared = 0;
  int end = obj == 1 ? 30 : NF;
  for (int i = 0; i < end; i++) {
    if (load_frame((size_t)i, &f)) break;
    kat_track_result r;
    int count = 0;
    KAT_CHECK_INT_EQ(kat_tracker_track(t, &f, &r, 1, &count), KAT_OK);
    KAT_CHECK_INT_EQ(count, i >= start ? 1 : 0);
    if (!count) continue;
    while (k < n && !(multi[k].frame == i && multi[k].obj == obj)) k++;
    if (k >= n) break;
    compared++;
    same += multi[k].chosen == r.candidate &&
            memcmp(multi[k].low, r.low_res, (size_t)L * L * sizeof(float)) == 0 &&
            multi[k].score == r.object_score;
  }
  printf("object %d alone (from frame %d): %d of %d frames bit-identical to the 4-object run\n",
         obj, start, same, compared);
  KAT_CHECK(compared == end - start);
  KAT_CHECK_INT_EQ(same, compared);
  kat_tracker_destroy(t);
}

static void check_bad_prompts(kat_model *m) {
  kat_tracker_options o = opts();
  kat_tracker *t = NULL;
  char err[KAT_ERROR_SIZE];
  o.max_objects = 2;
  KAT_CHECK_INT_EQ(kat_tracker_create_on_model(m, &o, &t, err, sizeof err), KAT_OK);
  if (!t) return;
  kat_frame f;
  if (load_frame(0, &f)) return;
  kat_prompt p = box_prompt(10, 10, 20, 20);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &p), KAT_ESTATE); /* no video yet */
  KAT_CHECK_INT_EQ(kat_tracker_reset(t, f.width, f.height), KAT_OK);
  kat_prompt q;
  kat_prompt_init(&q);
  q.n_points = 1;
  q.points[0][0] = f.width + 5.0;
  q.points[0][1] = 3;
  q.labels[0] = 1;
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &q), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "outside the 320x180 frame");
  q.points[0][0] = 5;
  q.labels[0] = 2;
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &q), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "label 2");
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, -1, 0, &p), KAT_EINVAL);
  uint8_t *empty = calloc((size_t)f.width * f.height, 1);
  kat_prompt mp;
  kat_prompt_init(&mp);
  mp.mask = empty;
  mp.mask_width = f.width;
  mp.mask_height = f.height;
  mp.mask_stride = (size_t)f.width;
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &mp), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "no object pixel");
  KAT_CHECK_INT_EQ(kat_tracker_reseed(t, 7, p.box), KAT_ENOENT);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "object 7");
  KAT_CHECK_INT_EQ(kat_tracker_remove_object(t, 7), KAT_ENOENT);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &p), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 1, 0, &p), KAT_OK);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 2, 0, &p), KAT_ERANGE); /* max_objects 2 */
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "max_objects");
  kat_track_result r[2];
  int count = 0;
  KAT_CHECK_INT_EQ(kat_tracker_track(t, &f, r, 2, &count), KAT_OK);
  KAT_CHECK_INT_EQ(count, 2);
  KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 0, &p), KAT_ERANGE);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "frame 0 has already reached the tracker");
  if (!kat_model_supports_mask_input(m)) {
    /* Format 1: a correction, a mask prompt and a reseed are refused, not silently dropped. */
    KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 0, 5, &p), KAT_ENOTSUP);
    KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "a correction");
    KAT_CHECK_INT_EQ(kat_tracker_reseed(t, 0, p.box), KAT_ENOTSUP);
    empty[0] = 1;
    KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 5, 3, &mp), KAT_ERANGE); /* third object */
    KAT_CHECK_INT_EQ(kat_tracker_add_prompt(t, 1, 3, &mp), KAT_ENOTSUP);
    KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "a mask prompt");
  }
  free(empty);
  kat_tracker_destroy(t);
}

KAT_TEST(test_multi) {
  const char *b = kat_test_data("bundles/micro_efficienttam/katana.json");
  if (!b) KAT_SKIP("KAT_TEST_DATA not set");
  FILE *probe = fopen(b, "r");
  if (!probe) KAT_SKIP("bundles/micro_efficienttam not generated");
  fclose(probe);
  kat__errbuf eb;
  if (kat__image_dir_list(kat_test_data("track/clip/img"), &g_files, &eb) || g_files.count < NF) {
    fprintf(stderr, "track/clip/img not generated\n");
    KAT_CHECK(0);
    return;
  }
  FILE *g = fopen(kat_test_data("track/clip/groundtruth.txt"), "r");
  KAT_CHECK(g != NULL);
  if (!g) return;
  KAT_CHECK(fscanf(g, "%lf,%lf,%lf,%lf", &g_box[0], &g_box[1], &g_box[2], &g_box[3]) == 4);
  fclose(g);
  char bundle[4096], err[KAT_ERROR_SIZE];
  snprintf(bundle, sizeof bundle, "%s", kat_test_data("bundles/micro_efficienttam"));
  kat_model *m = NULL;
  KAT_CHECK_INT_EQ(kat_model_open(bundle, NULL, &m, err, sizeof err), KAT_OK);
  if (!m) return;
  const int S = kat_model_image_size(m), L = S / 4;
  kat_tracker_options o = opts();
  kat_tracker *t = NULL;
  KAT_CHECK_INT_EQ(kat_tracker_create_on_model(m, &o, &t, err, sizeof err), KAT_OK);
  static rec multi[MAXREC];
  size_t steady = 0;
  int n = t ? run_scenario(t, multi, L, &steady) : -1;
  KAT_CHECK(n > 0);
  printf("4-object scenario: %d records, %zu allocations on steady frames\n", n, steady);
  KAT_CHECK_INT_EQ(steady, 0);
  kat_tracker_destroy(t);
  if (n > 0) {
    compare_golden(multi, n, L);
    const double cx = g_box[0] + g_box[2] / 2, cy = g_box[1] + g_box[3] / 2;
    kat_prompt p0 = box_prompt(g_box[0], g_box[1], g_box[2], g_box[3]);
    kat_prompt p1, p3;
    kat_prompt_init(&p1);
    p1.n_points = 2;
    p1.points[0][0] = cx;
    p1.points[0][1] = cy;
    p1.labels[0] = 1;
    p1.points[1][0] = cx - 30;
    p1.points[1][1] = cy;
    p1.labels[1] = 0;
    p3 = p1;
    p3.n_points = 1;
    kat_prompt p2 = box_prompt(150, 40, 40, 40);
    check_single(m, multi, n, 0, 0, &p0, L);
    check_single(m, multi, n, 1, 0, &p1, L);
    check_single(m, multi, n, 3, 0, &p3, L);
    check_single(m, multi, n, 2, 10, &p2, L);
  }
  for (int i = 0; i < n; i++) free(multi[i].low);
  check_bad_prompts(m);
  /* The caller's reference goes first; the model lives while a tracker holds it. */
  kat_tracker *t2 = NULL;
  KAT_CHECK_INT_EQ(kat_tracker_create_on_model(m, &o, &t2, err, sizeof err), KAT_OK);
  kat_model_release(m);
  KAT_CHECK(kat_tracker_image_size(t2) == S);
  kat_tracker_destroy(t2);
  kat__image_cleanup(&g_img);
  kat__file_list_cleanup(&g_files);
}

/* Counts allocations, so the steady frames can be checked to allocate nothing. */
static void setup(void) {
  static const kat_allocator a = {count_malloc, count_realloc, count_free, NULL};
  kat_set_allocator(&a);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_multi))
