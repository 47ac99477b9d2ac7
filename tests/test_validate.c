/*
 * Tests of input validation (src/core/validate.h) and of every entry point that uses it: each bad
 * input ends in a status and a message naming the problem, never a crash, a hang or NaN output.
 *  - the module alone: frames, boxes (clipping and its WARN log), tracker options, SAMURAI
 *    parameters, constants, regular-file opening (FIFO, symlink to /dev/zero, folder, size limit);
 *  - the public tracker and stream on the real micro bundle ($KAT_TEST_DATA/bundles/
 *    micro_efficienttam) with hand-made frames: NULL handles, bad strides, non-finite and
 *    out-of-frame boxes, out-of-range options and enums;
 *  - hand-edited copies of the real bundle: a FIFO and a /dev/zero symlink in place of a module
 *    file and of katana.json (each under alarm(), so a hang fails the test), a constants.bin of
 *    NaNs with its manifest hash updated, and SAMURAI values out of range in katana.json;
 *  - docs/errors.md names every status of KAT_STATUS_MAP.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/validate.h"
#include "kat_bundle_fixture.h"
#include "kat_test.h"
#include "katana/katana.h"
#include "model/bundle.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_validate: timed out (a file was read forever)\n";
  if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
  _exit(1);
}

/* Arms a 300 s watchdog: a hang on a FIFO or /dev/zero fails the test instead of blocking CTest.
 * The bound is loose because the guarded cases also create trackers, which take minutes under
 * TSan on a loaded 2-core machine; a read that never ends still trips it. */
static void watchdog(void) {
  signal(SIGALRM, on_alarm);
  alarm(300);
}

static char g_log[2048];
static int g_warns;
static void capture_log(void *user, kat_log_level level, const char *origin, const char *msg) {
  (void)user;
  (void)origin;
  if (level == KAT_LOG_WARN) {
    g_warns++;
    kat__strlcpy(g_log, msg, sizeof g_log);
  }
}

/* A hand-made RGB24 frame: a gradient with a bright square (not from any generator of ours). */
enum { FW = 320, FH = 240 };
static uint8_t g_pixels[FH * FW * 3];
static kat_frame make_frame(void) {
  for (int y = 0; y < FH; y++)
    for (int x = 0; x < FW; x++) {
      uint8_t *p = g_pixels + ((size_t)y * FW + x) * 3;
      int in = x >= 100 && x < 180 && y >= 80 && y < 160;
      p[0] = in ? 250 : (uint8_t)(x * 255 / FW);
      p[1] = in ? 240 : (uint8_t)(y * 255 / FH);
      p[2] = in ? 30 : 90;
    }
  kat_frame f;
  memset(&f, 0, sizeof f);
  f.format = KAT_PIXEL_RGB24;
  f.width = FW;
  f.height = FH;
  f.data[0] = g_pixels;
  f.stride[0] = (size_t)FW * 3;
  return f;
}

static int copy_file(const char *from, const char *to) {
  size_t n = 0;
  char *data = kat_test_read_file(from, &n);
  if (!data) return -1;
  FILE *f = fopen(to, "wb");
  int rc = f && fwrite(data, 1, n, f) == n ? 0 : -1;
  if (f) fclose(f);
  free(data);
  return rc;
}

static const char *const k_bundle_files[] = {"katana.json",        "constants.bin",
                                             "image_encoder.onnx", "memory_attention.onnx",
                                             "mask_decoder.onnx",  "memory_encoder.onnx"};
#define N_BUNDLE_FILES (sizeof k_bundle_files / sizeof k_bundle_files[0])

/* Copies the real bundle `src` into `dst` (every file replaced, links removed first). */
static void copy_bundle(const char *src, const char *dst) {
  for (size_t i = 0; i < N_BUNDLE_FILES; i++) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/%s", src, k_bundle_files[i]);
    snprintf(b, sizeof b, "%s/%s", dst, k_bundle_files[i]);
    unlink(b);
    KAT_CHECK_INT_EQ(copy_file(a, b), 0);
  }
}

static void remove_bundle(const char *dir) {
  char p[4096];
  for (size_t i = 0; i < N_BUNDLE_FILES; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, k_bundle_files[i]);
    unlink(p);
  }
  snprintf(p, sizeof p, "%s/elsewhere.json", dir);
  unlink(p);
  rmdir(dir);
}

/* Replaces the first `from` in dir/katana.json by `to`. */
static int edit_manifest(const char *dir, const char *from, const char *to) {
  char path[4096];
  snprintf(path, sizeof path, "%s/katana.json", dir);
  size_t n = 0;
  char *text = kat_test_read_file(path, &n);
  if (!text) return -1;
  char *out = kat_fx_replace(text, from, to);
  free(text);
  if (!out) return -1;
  FILE *f = fopen(path, "wb");
  int rc = f && fwrite(out, 1, strlen(out), f) == strlen(out) ? 0 : -1;
  if (f) fclose(f);
  free(out);
  return rc;
}

static const char *micro_bundle(void) {
  static char path[4096];
  const char *p = kat_test_data("bundles/micro_efficienttam/katana.json");
  if (!p || access(p, R_OK) != 0) return NULL;
  snprintf(path, sizeof path, "%s", kat_test_data("bundles/micro_efficienttam"));
  return path;
}

static kat_tracker_options cpu_options(void) {
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  o.ep.module[0].intra_op_threads = 1;
  return o;
}

/* ---- the module alone --------------------------------------------------------------------- */

KAT_TEST(test_frame) {
  kat__errbuf eb = {{0}};
  kat_frame f = make_frame();
  KAT_CHECK_INT_EQ(kat__validate_frame(&f, "t", &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__validate_frame(NULL, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "frame is NULL");

  kat_frame g = f;
  g.stride[0] = 100;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "stride 100 < width*3 = 960");
  g = f;
  g.format = (kat_pixel_format)7;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "unknown pixel format 7");
  g = f;
  g.width = 0;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "size 0x240 is not positive");
  g = f;
  g.height = -3;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "size 320x-3 is not positive");
  g = f;
  g.data[0] = NULL;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "data[0] is NULL");
  g = f;
  g.stride[0] = SIZE_MAX / 2;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "overflows");
  /* GRAY8: one byte per pixel. */
  g = f;
  g.format = KAT_PIXEL_GRAY8;
  g.stride[0] = FW;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_OK);
  g.stride[0] = FW - 1;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "stride 319 < width*1 = 320");
  /* NV12: even sizes and a U,V plane of width bytes per row. */
  g = f;
  g.format = KAT_PIXEL_NV12;
  g.stride[0] = FW;
  g.data[1] = g_pixels;
  g.stride[1] = FW;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_OK);
  g.width = FW - 1;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "width and height must be even");
  g.width = FW;
  g.data[1] = NULL;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "data[1] (U,V plane) is NULL");
  g.data[1] = g_pixels;
  g.stride[1] = 100;
  KAT_CHECK_INT_EQ(kat__validate_frame(&g, "t", &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "stride[1] 100 < width = 320");
}

KAT_TEST(test_box) {
  kat__errbuf eb = {{0}};
  double out[4];
  int clipped = -1;
  const double ok[4] = {10, 20, 30, 40};
  KAT_CHECK_INT_EQ(kat__validate_box(ok, FW, FH, "t", out, &clipped, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(clipped, 0);
  KAT_CHECK(memcmp(out, ok, sizeof ok) == 0);

  /* Inside, with x + w not exact in binary: returned bit for bit, not clipped, not logged. */
  const double inside[4] = {41.6, 32.964, 12.8, 12.8};
  KAT_CHECK_INT_EQ(kat__validate_box(inside, 96, 64, "t", out, &clipped, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(clipped, 0);
  KAT_CHECK(memcmp(out, inside, sizeof inside) == 0);

  const double inf_w[4] = {10, 10, INFINITY, 5};
  KAT_CHECK_INT_EQ(kat__validate_box(inf_w, FW, FH, "t", out, &clipped, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "box w is not finite");
  const double nan_x[4] = {NAN, 10, 5, 5};
  KAT_CHECK_INT_EQ(kat__validate_box(nan_x, 0, 0, "t", NULL, NULL, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "box x is not finite");
  const double neg_h[4] = {10, 10, 5, -1};
  KAT_CHECK_INT_EQ(kat__validate_box(neg_h, FW, FH, "t", out, &clipped, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "is empty (w and h must be > 0)");
  KAT_CHECK_INT_EQ(kat__validate_box(NULL, FW, FH, "t", out, &clipped, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "box is NULL");
  const double outside[4] = {400, 10, 50, 50};
  KAT_CHECK_INT_EQ(kat__validate_box(outside, FW, FH, "t", out, &clipped, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "lies outside the 320x240 frame");
  const double left[4] = {-60, 10, 50, 50}; /* ends at x = -10 */
  KAT_CHECK_INT_EQ(kat__validate_box(left, FW, FH, "t", out, &clipped, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "lies outside");
  /* Without a frame size only the values are checked. */
  KAT_CHECK_INT_EQ(kat__validate_box(outside, 0, 0, "t", out, &clipped, &eb), KAT_OK);

  /* Partly outside: clipped, reported in *clipped and as a WARN log line. */
  kat_log_set(capture_log, NULL, KAT_LOG_WARN);
  g_warns = 0;
  const double huge[4] = {10, 10, 1e308, 1e308};
  KAT_CHECK_INT_EQ(kat__validate_box(huge, FW, FH, "t", out, &clipped, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(clipped, 1);
  KAT_CHECK_NEAR(out[0], 10, 0);
  KAT_CHECK_NEAR(out[1], 10, 0);
  KAT_CHECK_NEAR(out[2], FW - 10, 0);
  KAT_CHECK_NEAR(out[3], FH - 10, 0);
  KAT_CHECK_INT_EQ(g_warns, 1);
  KAT_CHECK_CONTAINS(g_log, "clipped to 10,10,310,230");
  const double corner[4] = {-5, -8, 20, 20};
  KAT_CHECK_INT_EQ(kat__validate_box(corner, FW, FH, "t", out, &clipped, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(clipped, 1);
  KAT_CHECK_NEAR(out[0], 0, 0);
  KAT_CHECK_NEAR(out[2], 15, 0);
  KAT_CHECK_NEAR(out[3], 12, 0);
  KAT_CHECK_INT_EQ(g_warns, 2);
  kat_log_set(NULL, NULL, KAT_LOG_WARN);
}

KAT_TEST(test_options) {
  kat__errbuf eb = {{0}};
  kat_tracker_options o;
  kat_tracker_options_init(&o);
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(NULL, &eb), KAT_EINVAL);
  o.selection = (kat_selection)7;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "selection 7 is not");
  kat_tracker_options_init(&o);
  o.box_mode = (kat_box_mode)7;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "box_mode 7 is not");
  kat_tracker_options_init(&o);
  o.kf_score_weight = 1e308;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "kf_score_weight 1e+308 out of range [0,1]");
  kat_tracker_options_init(&o);
  o.stable_ious_threshold = 5;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "stable_ious_threshold 5 out of range [0,1]");
  kat_tracker_options_init(&o);
  o.memory_bank_iou_threshold = -1e9;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "memory_bank_iou_threshold -1e+09 out of range [0,1]");
  kat_tracker_options_init(&o);
  o.min_obj_score_logits = INFINITY;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "min_obj_score_logits is not finite (inf)");
  kat_tracker_options_init(&o);
  o.memory_bank_obj_score_threshold = 500;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "memory_bank_obj_score_threshold 500 out of range [-100,100]");
  kat_tracker_options_init(&o);
  o.memory_bank_kf_score_threshold = 1.5;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "memory_bank_kf_score_threshold 1.5 out of range [0,1]");
  kat_tracker_options_init(&o);
  o.stable_frames_threshold = -5;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "stable_frames_threshold -5 out of range [0,1000000]");
  kat_tracker_options_init(&o);
  o.lost_after_frames = 0;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "lost_after_frames 0 must be >= 1");
  kat_tracker_options_init(&o);
  o.num_frames = -2;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "num_frames -2 must be >= 0");
  /* Range ends are accepted. */
  kat_tracker_options_init(&o);
  o.kf_score_weight = 1.0;
  o.stable_ious_threshold = 0.0;
  o.min_obj_score_logits = -100.0;
  o.stable_frames_threshold = 0;
  KAT_CHECK_INT_EQ(kat__validate_tracker_options(&o, &eb), KAT_OK);
}

KAT_TEST(test_samurai_params) {
  kat__errbuf eb = {{0}};
  const kat__samurai_defaults good = {15, 0.3, -1.0, 0.25, 0.5, 0.0, 0.0};
  KAT_CHECK_INT_EQ(kat__validate_samurai_defaults(&good, &eb), KAT_OK);
  kat__samurai_defaults p = good;
  p.kf_score_weight = 1e308;
  KAT_CHECK_INT_EQ(kat__validate_samurai_defaults(&p, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "samurai.kf_score_weight 1e+308 out of range [0,1]");
  p = good;
  p.stable_ious_threshold = NAN;
  KAT_CHECK_INT_EQ(kat__validate_samurai_defaults(&p, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "samurai.stable_ious_threshold is not finite");
  p = good;
  p.stable_frames_threshold = -1;
  KAT_CHECK_INT_EQ(kat__validate_samurai_defaults(&p, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "samurai.stable_frames_threshold -1 out of range");
}

KAT_TEST(test_constant) {
  kat__errbuf eb = {{0}};
  float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  KAT_CHECK_INT_EQ(kat__validate_constant("no_mem_embed", v, 8, &eb), KAT_OK);
  v[5] = NAN;
  KAT_CHECK_INT_EQ(kat__validate_constant("no_mem_embed", v, 8, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "constant 'no_mem_embed' value [5] is not finite (nan)");
  v[5] = 0;
  v[2] = -INFINITY;
  KAT_CHECK_INT_EQ(kat__validate_constant("x", v, 8, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "value [2] is not finite (-inf)");
}

KAT_TEST(test_open_regular_file) {
  watchdog();
  kat__errbuf eb = {{0}};
  char dir[512], path[1024], link[1024];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/kat_validate_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  KAT_CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/regular", dir);
  FILE *w = fopen(path, "wb");
  KAT_CHECK(w != NULL);
  if (w) {
    fputs("0123456789", w);
    fclose(w);
  }
  FILE *f = NULL;
  uint64_t size = 0;
  KAT_CHECK_INT_EQ(kat__open_regular_file(path, "file", 100, &f, &size, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(size, 10);
  KAT_CHECK(f != NULL && fgetc(f) == '0');
  if (f) fclose(f);
  /* Over the size limit. */
  KAT_CHECK_INT_EQ(kat__open_regular_file(path, "file", 4, &f, &size, &eb), KAT_ERANGE);
  KAT_CHECK_CONTAINS(eb.msg, "is 10 bytes, more than the limit of 4");
  KAT_CHECK(f == NULL);
  /* A symlink to a regular file still works. */
  snprintf(link, sizeof link, "%s/link", dir);
  KAT_CHECK_INT_EQ(symlink(path, link), 0);
  KAT_CHECK_INT_EQ(kat__open_regular_file(link, "file", 100, &f, NULL, &eb), KAT_OK);
  if (f) fclose(f);
  unlink(link);
  /* A symlink to /dev/zero, a FIFO, a folder, a missing file. */
  KAT_CHECK_INT_EQ(symlink("/dev/zero", link), 0);
  KAT_CHECK_INT_EQ(kat__open_regular_file(link, "file", 100, &f, NULL, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "is a character device, not a regular file");
  unlink(link);
  KAT_CHECK_INT_EQ(mkfifo(link, 0600), 0);
  KAT_CHECK_INT_EQ(kat__open_regular_file(link, "file", 100, &f, NULL, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "is a FIFO, not a regular file");
  unlink(link);
  KAT_CHECK_INT_EQ(kat__open_regular_file(dir, "file", 100, &f, NULL, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "is a folder");
  KAT_CHECK_INT_EQ(kat__open_regular_file(link, "file", 100, &f, NULL, &eb), KAT_ENOENT);
  unlink(path);
  rmdir(dir);
  alarm(0);
}

/* ---- the public entry points on the real bundle ------------------------------------------ */

KAT_TEST(test_tracker_entry_points) {
  char err[KAT_ERROR_SIZE];
  kat_frame f = make_frame();
  const double box[4] = {100, 80, 80, 80};
  kat_track_result r;
  /* NULL handles: no crash, KAT_EINVAL. */
  KAT_CHECK_INT_EQ(kat_tracker_start(NULL, &f, box, &r), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_tracker_step(NULL, &f, &r), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_tracker_image_size(NULL), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_tracker_create("/nonexistent", NULL, NULL, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "out is NULL");
  /* Options are checked before the bundle is opened. */
  kat_tracker *t = (kat_tracker *)&f;
  kat_tracker_options o = cpu_options();
  o.selection = (kat_selection)7;
  KAT_CHECK_INT_EQ(kat_tracker_create("/nonexistent", &o, &t, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "selection 7 is not");
  KAT_CHECK(t == NULL);
  o = cpu_options();
  o.box_mode = (kat_box_mode)7;
  KAT_CHECK_INT_EQ(kat_tracker_create("/nonexistent", &o, &t, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "box_mode 7 is not");
  o = cpu_options();
  o.kf_score_weight = 1e308;
  KAT_CHECK_INT_EQ(kat_tracker_create("/nonexistent", &o, &t, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "kf_score_weight 1e+308 out of range [0,1]");

  const char *bundle = micro_bundle();
  if (!bundle) KAT_SKIP("no $KAT_TEST_DATA/bundles/micro_efficienttam (run make_test_data)");
  o = cpu_options();
  KAT_CHECK_INT_EQ(kat_tracker_create(bundle, &o, &t, err, sizeof err), KAT_OK);
  if (!t) {
    fprintf(stderr, "create: %s\n", err);
    return;
  }
  KAT_CHECK(kat_tracker_image_size(t) > 0);
  /* Bad frames at start. */
  kat_frame g = f;
  g.stride[0] = 100;
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &g, box, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "stride 100 < width*3 = 960");
  KAT_CHECK_INT_EQ(kat_tracker_start(t, NULL, box, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "frame is NULL");
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, box, NULL), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "result is NULL");
  g = f;
  g.format = (kat_pixel_format)9;
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &g, box, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "unknown pixel format 9");
  /* Bad boxes at start. */
  const double inf_w[4] = {10, 10, INFINITY, 20};
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, inf_w, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "box w is not finite");
  const double nan_x[4] = {NAN, 10, 20, 20};
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, nan_x, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "box x is not finite");
  const double outside[4] = {330, 10, 20, 20};
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, outside, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "lies outside the 320x240 frame");
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, NULL, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "box is NULL");
  /* A huge box is clipped to the frame and reported; scores stay finite. */
  g_warns = 0;
  kat_log_set(capture_log, NULL, KAT_LOG_WARN);
  const double huge[4] = {10, 10, 1e308, 1e308};
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, huge, &r), KAT_OK);
  kat_log_set(NULL, NULL, KAT_LOG_WARN);
  KAT_CHECK_INT_EQ(r.prompt_clipped, 1);
  KAT_CHECK_NEAR(r.prompt_box[2], FW - 10, 0);
  KAT_CHECK_NEAR(r.prompt_box[3], FH - 10, 0);
  KAT_CHECK_INT_EQ(g_warns, 1);
  KAT_CHECK_CONTAINS(g_log, "clipped to 10,10,310,230");
  KAT_CHECK(isfinite(r.object_score));
  KAT_CHECK(isfinite(r.iou_pred));
  /* Steps: bad frames are refused; a good one then works. */
  g = f;
  g.data[0] = NULL;
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &g, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "kat_tracker_step: frame RGB24 320x240: data[0]");
  g = f;
  g.stride[0] = 959;
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &g, &r), KAT_EINVAL);
  KAT_CHECK_CONTAINS(kat_tracker_last_error(t), "stride 959 < width*3 = 960");
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &f, NULL), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_tracker_step(t, &f, &r), KAT_OK);
  KAT_CHECK(isfinite(r.object_score));
  KAT_CHECK_INT_EQ(r.prompt_clipped, 0);
  /* An in-frame box is not clipped. */
  KAT_CHECK_INT_EQ(kat_tracker_start(t, &f, box, &r), KAT_OK);
  KAT_CHECK_INT_EQ(r.prompt_clipped, 0);
  KAT_CHECK_NEAR(r.prompt_box[2], 80, 0);
  kat_tracker_destroy(t);
}

KAT_TEST(test_stream_entry_points) {
  const char *bundle = micro_bundle();
  if (!bundle) KAT_SKIP("no $KAT_TEST_DATA/bundles/micro_efficienttam (run make_test_data)");
  char err[KAT_ERROR_SIZE];
  kat_stream *s = NULL;
  kat_stream_options so;
  kat_stream_options_init(&so);
  so.pipeline = 0;
  so.tracker.ep.module[0].intra_op_threads = 1;
  const double nan_x[4] = {NAN, 10, 20, 20};
  KAT_CHECK_INT_EQ(kat_stream_open(bundle, NULL, nan_x, &so, &s, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "box x is not finite");
  KAT_CHECK(s == NULL);
  const double inf_w[4] = {10, 10, INFINITY, 20};
  KAT_CHECK_INT_EQ(kat_stream_open(bundle, NULL, inf_w, &so, &s, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "box w is not finite");
  const double box[4] = {100, 80, 80, 80};
  so.tracker.selection = (kat_selection)7;
  KAT_CHECK_INT_EQ(kat_stream_open(bundle, NULL, box, &so, &s, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "selection 7 is not");
  so.tracker.selection = KAT_SELECTION_SAMURAI;
  /* Pull mode: a box outside the source's frames. */
  const char *clip = kat_test_data("track/clip/img");
  if (clip && access(clip, R_OK) == 0) {
    const double far[4] = {1e6, 1e6, 10, 10};
    KAT_CHECK_INT_EQ(kat_stream_open(bundle, clip, far, &so, &s, err, sizeof err), KAT_EINVAL);
    KAT_CHECK_CONTAINS(err, "lies outside the");
    /* A box partly outside: checked at open, clipped by the tracker, logged once. */
    const double huge[4] = {10, 10, 1e308, 1e308};
    so.max_frames = 2;
    g_warns = 0;
    kat_log_set(capture_log, NULL, KAT_LOG_WARN);
    KAT_CHECK_INT_EQ(kat_stream_open(bundle, clip, huge, &so, &s, err, sizeof err), KAT_OK);
    if (s) {
      kat_track_result r;
      KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
      KAT_CHECK_INT_EQ(r.prompt_clipped, 1);
      KAT_CHECK(isfinite(r.object_score) && isfinite(r.iou_pred));
      KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
      KAT_CHECK(isfinite(r.object_score));
      kat_stream_close(s);
      s = NULL;
    }
    kat_log_set(NULL, NULL, KAT_LOG_WARN);
    KAT_CHECK_INT_EQ(g_warns, 1);
    KAT_CHECK_CONTAINS(g_log, "clipped to 10,10,");
    so.max_frames = 0;
  }

  /* Push mode: a bad stride fails the push and the stream with the message. */
  kat_frame f = make_frame();
  KAT_CHECK_INT_EQ(kat_stream_open(bundle, NULL, box, &so, &s, err, sizeof err), KAT_OK);
  if (s) {
    kat_frame g = f;
    g.stride[0] = 100;
    KAT_CHECK_INT_EQ(kat_stream_push(s, &g), KAT_EINVAL);
    kat_track_result r;
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_EINVAL);
    KAT_CHECK_CONTAINS(kat_stream_last_error(s), "stride 100 < width*3 = 960");
    kat_stream_close(s);
    s = NULL;
  }
  /* Push mode: a box partly outside is clipped on the first frame and reported. */
  const double huge[4] = {10, 10, 1e308, 1e308};
  KAT_CHECK_INT_EQ(kat_stream_open(bundle, NULL, huge, &so, &s, err, sizeof err), KAT_OK);
  if (s) {
    kat_track_result r;
    KAT_CHECK_INT_EQ(kat_stream_push(s, &f), KAT_OK);
    KAT_CHECK_INT_EQ(kat_stream_next(s, &r), KAT_OK);
    KAT_CHECK_INT_EQ(r.prompt_clipped, 1);
    KAT_CHECK_NEAR(r.prompt_box[2], FW - 10, 0);
    KAT_CHECK(isfinite(r.object_score));
    kat_stream_close(s);
  }
}

/* ---- hand-edited copies of the real bundle ------------------------------------------------ */

KAT_TEST(test_bundle_files) {
  const char *bundle = micro_bundle();
  if (!bundle) KAT_SKIP("no $KAT_TEST_DATA/bundles/micro_efficienttam (run make_test_data)");
  watchdog();
  char dir[512], path[4096], other[4096], err[KAT_ERROR_SIZE];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/kat_validate_bundle_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  KAT_CHECK(mkdtemp(dir) != NULL);
  kat__errbuf eb = {{0}};
  kat__bundle *b = NULL;
  kat__bundle_options bo;
  kat__bundle_options_init(&bo);
  kat_tracker *t = NULL;
  kat_tracker_options o = cpu_options();

  /* A module file replaced by a symlink to /dev/zero, then by a FIFO: hashed or not. */
  const char *modules[2] = {"image_encoder.onnx", "memory_encoder.onnx"};
  for (int i = 0; i < 2; i++) {
    for (int verify = 0; verify <= 1; verify++) {
      copy_bundle(bundle, dir);
      snprintf(path, sizeof path, "%s/%s", dir, modules[i]);
      unlink(path);
      KAT_CHECK_INT_EQ(i == 0 ? symlink("/dev/zero", path) : mkfifo(path, 0600), 0);
      o.verify_hashes = verify;
      KAT_CHECK_INT_EQ(kat_tracker_create(dir, &o, &t, err, sizeof err), KAT_EFORMAT);
      KAT_CHECK_CONTAINS(err, modules[i]);
      KAT_CHECK_CONTAINS(err, i == 0 ? "is a character device, not a regular file"
                                     : "is a FIFO, not a regular file");
      KAT_CHECK(t == NULL);
    }
  }
  o.verify_hashes = 1;
  /* katana.json as a FIFO and as a symlink to /dev/zero. */
  for (int i = 0; i < 2; i++) {
    copy_bundle(bundle, dir);
    snprintf(path, sizeof path, "%s/katana.json", dir);
    unlink(path);
    KAT_CHECK_INT_EQ(i == 0 ? mkfifo(path, 0600) : symlink("/dev/zero", path), 0);
    KAT_CHECK_INT_EQ(kat__bundle_open(dir, &bo, &b, &eb), KAT_EFORMAT);
    KAT_CHECK_CONTAINS(eb.msg, "katana.json is a");
    KAT_CHECK(b == NULL);
  }
  /* constants.bin as a FIFO. */
  copy_bundle(bundle, dir);
  snprintf(path, sizeof path, "%s/constants.bin", dir);
  unlink(path);
  KAT_CHECK_INT_EQ(mkfifo(path, 0600), 0);
  KAT_CHECK_INT_EQ(kat__bundle_open(dir, &bo, &b, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "constants.bin is a FIFO");
  /* A symlink to a regular katana.json elsewhere still opens. */
  copy_bundle(bundle, dir);
  snprintf(path, sizeof path, "%s/katana.json", dir);
  snprintf(other, sizeof other, "%s/elsewhere.json", dir);
  KAT_CHECK_INT_EQ(rename(path, other), 0);
  KAT_CHECK_INT_EQ(symlink(other, path), 0);
  KAT_CHECK_INT_EQ(kat__bundle_open(dir, &bo, &b, &eb), KAT_OK);
  kat__bundle_destroy(b);
  b = NULL;
  alarm(0);

  /* constants.bin overwritten with NaNs, its manifest hash updated (so the hash check passes). */
  copy_bundle(bundle, dir);
  snprintf(path, sizeof path, "%s/constants.bin", dir);
  size_t n = 0;
  char *data = kat_test_read_file(path, &n);
  KAT_CHECK(data != NULL && n >= 4 && n % 4 == 0);
  if (data) {
    const float nan = NAN;
    for (size_t i = 0; i + 4 <= n; i += 4) memcpy(data + i, &nan, 4);
    FILE *w = fopen(path, "wb");
    KAT_CHECK(w && fwrite(data, 1, n, w) == n);
    if (w) fclose(w);
    char old_hex[KAT_SHA256_HEX_SIZE], new_hex[KAT_SHA256_HEX_SIZE];
    kat__bundle *src = NULL;
    KAT_CHECK_INT_EQ(kat__bundle_open(bundle, &bo, &src, &eb), KAT_OK);
    if (src) {
      kat__strlcpy(old_hex, kat__bundle_manifest(src)->constants_sha256, sizeof old_hex);
      kat__bundle_destroy(src);
      kat_fx_hash(data, n, new_hex);
      KAT_CHECK_INT_EQ(edit_manifest(dir, old_hex, new_hex), 0);
      KAT_CHECK_INT_EQ(kat__bundle_open(dir, &bo, &b, &eb), KAT_EMODEL);
      KAT_CHECK_CONTAINS(eb.msg, "value [0] is not finite (nan)");
      KAT_CHECK_CONTAINS(eb.msg, "bundle: constant '");
      KAT_CHECK(strstr(eb.msg, "sha256") == NULL); /* not the hash check */
      KAT_CHECK_INT_EQ(kat_tracker_create(dir, &o, &t, err, sizeof err), KAT_EMODEL);
      KAT_CHECK_CONTAINS(err, "is not finite (nan)");
    }
    free(data);
  }

  /* SAMURAI values out of range in the real katana.json (line:column named). */
  const char *edits[][3] = {
      {"\"kf_score_weight\": 0.25", "\"kf_score_weight\": 1e308",
       "samurai.kf_score_weight 1e+308 out of range [0,1]"},
      {"\"stable_ious_threshold\": 0.3", "\"stable_ious_threshold\": 5",
       "samurai.stable_ious_threshold 5 out of range [0,1]"},
      {"\"memory_bank_iou_threshold\": 0.5", "\"memory_bank_iou_threshold\": -1e9",
       "samurai.memory_bank_iou_threshold -1e+09 out of range [0,1]"},
      {"\"min_obj_score_logits\": -1.0", "\"min_obj_score_logits\": -1e300",
       "samurai.min_obj_score_logits -1e+300 out of range [-100,100]"}};
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
    copy_bundle(bundle, dir);
    KAT_CHECK_INT_EQ(edit_manifest(dir, edits[i][0], edits[i][1]), 0);
    KAT_CHECK_INT_EQ(kat__bundle_open(dir, &bo, &b, &eb), KAT_EMODEL);
    KAT_CHECK_CONTAINS(eb.msg, edits[i][2]);
    KAT_CHECK_CONTAINS(eb.msg, "katana.json:");
    KAT_CHECK(b == NULL);
  }
  copy_bundle(bundle, dir);
  KAT_CHECK_INT_EQ(edit_manifest(dir, "\"kf_score_weight\": 0.25", "\"kf_score_weight\": 1e308"),
                   0);
  KAT_CHECK_INT_EQ(kat_tracker_create(dir, &o, &t, err, sizeof err), KAT_EMODEL);
  KAT_CHECK_CONTAINS(err, "samurai.kf_score_weight 1e+308 out of range [0,1]");
  remove_bundle(dir);
}

/* ---- docs/errors.md ----------------------------------------------------------------------- */

KAT_TEST(test_errors_doc) {
  const char *src = getenv("KAT_SOURCE_DIR");
  if (!src) KAT_SKIP("KAT_SOURCE_DIR is not set (run through CTest)");
  char path[4096];
  snprintf(path, sizeof path, "%s/docs/errors.md", src);
  size_t n = 0;
  char *doc = kat_test_read_file(path, &n);
  KAT_CHECK(doc != NULL);
  if (!doc) return;
    /* Each status has its own heading "## KAT_<NAME> (<value>)". */
#define KAT__DOC_CHECK(name, value, msg)                                      \
  do {                                                                        \
    char heading[96];                                                         \
    snprintf(heading, sizeof heading, "## KAT_%s (%d)", #name, (int)(value)); \
    KAT_CHECK_CONTAINS(doc, heading);                                         \
  } while (0);
  KAT_STATUS_MAP(KAT__DOC_CHECK)
#undef KAT__DOC_CHECK
  KAT_CHECK_CONTAINS(doc, "KAT_ERROR_SIZE");
  free(doc);
}

KAT_TEST_MAIN(KAT_CASE(test_frame), KAT_CASE(test_box), KAT_CASE(test_options),
              KAT_CASE(test_samurai_params), KAT_CASE(test_constant),
              KAT_CASE(test_open_regular_file), KAT_CASE(test_errors_doc),
              KAT_CASE(test_tracker_entry_points), KAT_CASE(test_stream_entry_points),
              KAT_CASE(test_bundle_files))
