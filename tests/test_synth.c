/*
 * Tests for the synthetic clip generator (src/tools/synth/render.c, kat__synth_write, `katana
 * synth`): determinism by seed, ground truth equal to the mask's bounding box, occlusion and
 * out-of-view frames present, the LaSOT-style files on disk, and the CLI's argument handling.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "kat_test.h"
#include "tools/synth/synth.h"
#include "media/image_io.h"
#include "tools/synth/render.h"

static char g_tmp[256];

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

/* Renders a whole clip; returns a hash of every frame and mask, and counts events. */
static uint64_t render_clip(kat__synth_suite suite, uint64_t seed, int w, int h, int frames,
                            int *occluded, int *out_of_view, int *bad_boxes) {
  kat__synth_clip *c = NULL;
  kat__errbuf eb;
  uint8_t *rgb = malloc((size_t)w * h * 3), *mask = malloc((size_t)w * h);
  uint64_t hash = 0xCBF29CE484222325ull;
  *occluded = *out_of_view = *bad_boxes = 0;
  KAT_CHECK_INT_EQ(kat__synth_clip_create(suite, seed, w, h, frames, &c, &eb), KAT_OK);
  for (int t = 0; c && t < frames; t++) {
    kat__synth_info info;
    KAT_CHECK_INT_EQ(kat__synth_clip_render(c, t, rgb, mask, &info), KAT_OK);
    hash = fnv1a(fnv1a(hash, rgb, (size_t)w * h * 3), mask, (size_t)w * h);
    /* Recompute the visible bounding box from the mask independently. */
    int x0 = w, y0 = h, x1 = -1, y1 = -1, n = 0, nonbinary = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        uint8_t m = mask[(size_t)y * w + x];
        if (m != 0 && m != 255) nonbinary++;
        if (!m) continue;
        n++;
        x0 = x < x0 ? x : x0;
        x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0;
        y1 = y > y1 ? y : y1;
      }
    int want[4] = {0, 0, 0, 0};
    if (n) {
      want[0] = x0;
      want[1] = y0;
      want[2] = x1 - x0 + 1;
      want[3] = y1 - y0 + 1;
    }
    if (memcmp(want, info.box, sizeof want) != 0 || n != info.visible_px || nonbinary)
      (*bad_boxes)++;
    *occluded += info.full_occlusion;
    *out_of_view += info.out_of_view;
    if (info.full_occlusion && info.drawn_px == 0) (*bad_boxes)++;
  }
  kat__synth_clip_destroy(c);
  free(rgb);
  free(mask);
  return hash;
}

KAT_TEST(test_determinism_and_boxes) {
  int occ, oov, bad, occ2, oov2, bad2;
  uint64_t a = render_clip(KAT_SYNTH_EVAL, 42, 192, 112, 90, &occ, &oov, &bad);
  uint64_t b = render_clip(KAT_SYNTH_EVAL, 42, 192, 112, 90, &occ2, &oov2, &bad2);
  KAT_CHECK(a == b);
  KAT_CHECK_INT_EQ(occ, occ2);
  KAT_CHECK_INT_EQ(bad, 0);
  printf("eval seed 42: %d fully occluded, %d out-of-view frames of 90\n", occ, oov);
  KAT_CHECK(occ > 0);
  uint64_t c = render_clip(KAT_SYNTH_EVAL, 43, 192, 112, 90, &occ2, &oov2, &bad2);
  KAT_CHECK(a != c);
  KAT_CHECK_INT_EQ(bad2, 0);
  uint64_t d = render_clip(KAT_SYNTH_TRAIN, 42, 192, 112, 90, &occ2, &oov2, &bad2);
  KAT_CHECK(a != d); /* suites differ for the same seed */
  KAT_CHECK_INT_EQ(bad2, 0);
  /* Across a few seeds, both suites show occlusion and leaving the frame. */
  int tot_occ[2] = {0, 0}, tot_oov[2] = {0, 0};
  for (int s = 0; s < 2; s++)
    for (uint64_t seed = 1; seed <= 4; seed++) {
      render_clip((kat__synth_suite)s, seed, 160, 96, 120, &occ, &oov, &bad);
      KAT_CHECK_INT_EQ(bad, 0);
      tot_occ[s] += occ;
      tot_oov[s] += oov;
    }
  printf(
      "4 clips x 120 frames: train %d occluded %d out-of-view; eval %d occluded %d out-of-view\n",
      tot_occ[0], tot_oov[0], tot_occ[1], tot_oov[1]);
  KAT_CHECK(tot_occ[0] > 0 && tot_occ[1] > 0);
  KAT_CHECK(tot_oov[0] > 0 && tot_oov[1] > 0);
  KAT_CHECK(tot_occ[1] > tot_occ[0]); /* eval is harder */
}

KAT_TEST(test_speed_print) {
  kat__synth_clip *c = NULL;
  const int w = 640, h = 360;
  uint8_t *rgb = malloc((size_t)w * h * 3), *mask = malloc((size_t)w * h);
  double t0 = kat__now_ms();
  KAT_CHECK_INT_EQ(kat__synth_clip_create(KAT_SYNTH_EVAL, 7, w, h, 60, &c, NULL), KAT_OK);
  for (int t = 0; c && t < 60; t++) {
    kat__synth_info info;
    KAT_CHECK_INT_EQ(kat__synth_clip_render(c, t, rgb, mask, &info), KAT_OK);
  }
  printf("bench synth: plan + render 60 frames 640x360: %.1f ms (no PNG encoding)\n",
         kat__now_ms() - t0);
  kat__synth_info info;
  KAT_CHECK_INT_EQ(kat__synth_clip_render(c, 60, rgb, mask, &info), KAT_EINVAL);
  kat__synth_clip_destroy(c);
  kat__errbuf eb;
  KAT_CHECK_INT_EQ(kat__synth_clip_create(KAT_SYNTH_EVAL, 7, 16, 360, 60, &c, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "16x360");
  free(rgb);
  free(mask);
}

static void check_written(const char *root, int frames) {
  char path[600];
  size_t n;
  snprintf(path, sizeof path, "%s/eval-000/groundtruth.txt", root);
  char *gt = kat_test_read_file(path, &n);
  KAT_CHECK(gt != NULL);
  if (!gt) return;
  const char *p = gt;
  kat__image img = {0};
  kat__errbuf eb;
  for (int t = 0; t < frames; t++) {
    int box[4], used = 0;
    KAT_CHECK_INT_EQ(sscanf(p, "%d,%d,%d,%d\n%n", &box[0], &box[1], &box[2], &box[3], &used), 4);
    p += used;
    snprintf(path, sizeof path, "%s/eval-000/masks/%05d.png", root, t);
    KAT_CHECK_INT_EQ(kat__image_read(path, &img, &eb), KAT_OK);
    int x0 = img.width, y0 = img.height, x1 = -1, y1 = -1;
    for (int y = 0; y < img.height; y++)
      for (int x = 0; x < img.width; x++)
        if (img.data[(size_t)y * img.stride + (size_t)x * 3]) {
          x0 = x < x0 ? x : x0;
          x1 = x > x1 ? x : x1;
          y0 = y < y0 ? y : y0;
          y1 = y > y1 ? y : y1;
        }
    if (x1 < 0)
      KAT_CHECK(box[0] == 0 && box[1] == 0 && box[2] == 0 && box[3] == 0);
    else
      KAT_CHECK(box[0] == x0 && box[1] == y0 && box[2] == x1 - x0 + 1 && box[3] == y1 - y0 + 1);
    snprintf(path, sizeof path, "%s/eval-000/img/%05d.png", root, t);
    KAT_CHECK_INT_EQ(kat__image_read(path, &img, &eb), KAT_OK);
    KAT_CHECK(img.width == 128 && img.height == 80);
  }
  KAT_CHECK_INT_EQ(*p, '\0');
  kat__image_cleanup(&img);
  free(gt);
  snprintf(path, sizeof path, "%s/eval-000/full_occlusion.txt", root);
  char *occ = kat_test_read_file(path, &n);
  KAT_CHECK(occ && n == (size_t)frames * 2); /* "0,1,...\n" */
  free(occ);
}

KAT_TEST(test_write_files) {
  char d1[300], d2[300];
  snprintf(d1, sizeof d1, "%s/a", g_tmp);
  snprintf(d2, sizeof d2, "%s/b/c", g_tmp);
  kat__synth_options o;
  kat__synth_options_init(&o);
  o.suite = KAT_SYNTH_EVAL;
  o.seed = 9;
  o.count = 2;
  o.frames = 45;
  o.width = 128;
  o.height = 80;
  o.out_dir = d1;
  char err[256];
  KAT_CHECK_INT_EQ(kat__synth_write(&o, err, sizeof err), KAT_OK);
  o.out_dir = d2;
  KAT_CHECK_INT_EQ(kat__synth_write(&o, err, sizeof err), KAT_OK);
  check_written(d1, 45);
  /* Same options, same bytes: ground truth and a frame PNG. */
  const char *files[] = {"eval-001/groundtruth.txt", "eval-001/img/00030.png",
                         "eval-000/masks/00012.png"};
  for (int i = 0; i < 3; i++) {
    char p1[600], p2[600];
    size_t n1, n2;
    snprintf(p1, sizeof p1, "%s/%s", d1, files[i]);
    snprintf(p2, sizeof p2, "%s/%s", d2, files[i]);
    char *a = kat_test_read_file(p1, &n1), *b = kat_test_read_file(p2, &n2);
    KAT_CHECK(a && b && n1 == n2 && n1 > 0 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
  }
  o.width = 8;
  KAT_CHECK_INT_EQ(kat__synth_write(&o, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "bad options");
  KAT_CHECK_INT_EQ(kat__synth_suite_parse("eval"), KAT_SYNTH_EVAL);
  KAT_CHECK_INT_EQ(kat__synth_suite_parse("test"), -1);
}

KAT_TEST(test_cli) {
  const char *cli = getenv("KAT_CLI");
  if (!cli || access(cli, X_OK) != 0) {
    printf("KAT_CLI not set: CLI checks skipped\n");
    return;
  }
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "'%s' synth --out '%s/cli' --frames 3 --size 64x48 --seed 5 >/dev/null",
           cli, g_tmp);
  KAT_CHECK_INT_EQ(system(cmd), 0);
  char p[600];
  snprintf(p, sizeof p, "%s/cli/train-000/masks/00002.png", g_tmp);
  KAT_CHECK(access(p, R_OK) == 0);
  snprintf(cmd, sizeof cmd, "'%s' synth --out '%s/cli' --size 64 2>/dev/null", cli, g_tmp);
  int rc = system(cmd);
  KAT_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  snprintf(cmd, sizeof cmd, "'%s' synth --suite nope --out x 2>/dev/null", cli);
  rc = system(cmd);
  KAT_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

static void setup(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/kat_test_synth_XXXXXX");
  if (!mkdtemp(g_tmp)) KAT_SKIP("cannot create a temporary folder");
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_determinism_and_boxes), KAT_CASE(test_speed_print),
              KAT_CASE(test_write_files), KAT_CASE(test_cli), KAT_TEARDOWN(teardown))
