/*
 * Tests for the benchmark statistics (src/eval/bench.c): percentiles by linear interpolation,
 * spread, the throttling check, the machine line, and a short kat_bench_run on the micro test
 * bundle when the test data has it. Expected values are worked out by hand next to each check.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "eval/bench.h"
#include "katana/bench.h"
#include "katana/synth.h"
#include "kat_test.h"

KAT_TEST(test_percentiles) {
  /* 1..10 shuffled. Ranks p/100 * 9: p50 4.5 -> 5.5; p95 8.55 -> 9.55; p99 8.91 -> 9.91;
   * p75 6.75 -> 7.75, p25 2.25 -> 3.25, so IQR 4.5. Population variance: sum (i-5.5)^2 / 10 =
   * 82.5 / 10 = 8.25. */
  const double v[10] = {7, 3, 10, 1, 9, 2, 8, 5, 4, 6};
  kat_bench_stats s;
  KAT_CHECK_INT_EQ(kat_bench_stats_compute(v, 10, &s), KAT_OK);
  KAT_CHECK_INT_EQ(s.count, 10);
  KAT_CHECK_NEAR(s.min, 1, 0);
  KAT_CHECK_NEAR(s.max, 10, 0);
  KAT_CHECK_NEAR(s.mean, 5.5, 1e-12);
  KAT_CHECK_NEAR(s.p50, 5.5, 1e-12);
  KAT_CHECK_NEAR(s.p95, 9.55, 1e-12);
  KAT_CHECK_NEAR(s.p99, 9.91, 1e-12);
  KAT_CHECK_NEAR(s.iqr, 4.5, 1e-12);
  KAT_CHECK_NEAR(s.stddev, sqrt(8.25), 1e-12);
  KAT_CHECK_NEAR(s.cv, sqrt(8.25) / 5.5, 1e-12);
  /* The input is not reordered. */
  KAT_CHECK_NEAR(v[0], 7, 0);

  const double sorted[4] = {10, 20, 30, 40};
  KAT_CHECK_NEAR(kat__percentile_sorted(sorted, 4, 0), 10, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(sorted, 4, 100), 40, 0);
  KAT_CHECK_NEAR(kat__percentile_sorted(sorted, 4, 50), 25, 1e-12); /* rank 1.5 */
  KAT_CHECK_NEAR(kat__percentile_sorted(sorted, 4, 90), 37, 1e-12); /* rank 2.7 */
  double scratch[4];
  const double odd[3] = {5, 1, 3};
  KAT_CHECK_NEAR(kat__median(odd, 3, scratch), 3, 0);

  /* One sample: every statistic is that sample, no spread. */
  const double one = 4.25;
  KAT_CHECK_INT_EQ(kat_bench_stats_compute(&one, 1, &s), KAT_OK);
  KAT_CHECK_NEAR(s.p50, 4.25, 0);
  KAT_CHECK_NEAR(s.p99, 4.25, 0);
  KAT_CHECK_NEAR(s.stddev, 0, 0);
  KAT_CHECK_NEAR(s.iqr, 0, 0);

  /* No samples, or a non-finite one: an error. */
  KAT_CHECK_INT_EQ(kat_bench_stats_compute(v, 0, &s), KAT_EINVAL);
  const double bad[3] = {1, NAN, 2};
  KAT_CHECK_INT_EQ(kat_bench_stats_compute(bad, 3, &s), KAT_EINVAL);
}

KAT_TEST(test_throttle) {
  double r = 0;
  /* Thirds with medians 10 and 12: 1.2 > 1.1. */
  const double slow[9] = {10, 10, 10, 11, 11, 11, 12, 12, 12};
  KAT_CHECK_INT_EQ(kat_bench_throttle_check(slow, 9, &r), 1);
  KAT_CHECK_NEAR(r, 1.2, 1e-12);
  /* Exactly 10% slower is not more than 10%. */
  const double edge[9] = {10, 10, 10, 10, 10, 10, 11, 11, 11};
  KAT_CHECK_INT_EQ(kat_bench_throttle_check(edge, 9, &r), 0);
  KAT_CHECK_NEAR(r, 1.1, 1e-12);
  /* A single spike in the last third does not move its median. */
  const double spike[9] = {10, 10, 10, 10, 10, 10, 10, 90, 10};
  KAT_CHECK_INT_EQ(kat_bench_throttle_check(spike, 9, &r), 0);
  KAT_CHECK_NEAR(r, 1.0, 1e-12);
  /* Faster at the end is fine. */
  const double faster[12] = {20, 20, 20, 20, 15, 15, 15, 15, 10, 10, 10, 10};
  KAT_CHECK_INT_EQ(kat_bench_throttle_check(faster, 12, &r), 0);
  KAT_CHECK_NEAR(r, 0.5, 1e-12);
  /* Too few samples to say. */
  KAT_CHECK_INT_EQ(kat_bench_throttle_check(slow, 8, &r), 0);
  KAT_CHECK_NEAR(r, 1.0, 0);
}

KAT_TEST(test_machine) {
  char buf[256] = "";
  kat_bench_machine(buf, sizeof buf);
  KAT_CHECK_CONTAINS(buf, " cores");
  KAT_CHECK(strlen(buf) > strlen(" cores"));
  kat_bench_options o;
  kat_bench_options_init(&o);
  KAT_CHECK_STR_EQ(o.preset, "cpu");
  KAT_CHECK_STR_EQ(o.mode, "exact");
  kat_bench_report rep;
  char err[256] = "";
  KAT_CHECK_INT_EQ(kat_bench_run(&o, &rep, err, sizeof err), KAT_EINVAL); /* no bundle */
  KAT_CHECK(err[0] != '\0');
}

KAT_TEST(test_bench_run_micro) {
  const char *bundle = kat_test_data("bundles/micro_efficienttam");
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/katana.json", bundle ? bundle : "");
  if (!bundle || access(probe, R_OK) != 0) {
    printf("note: no bundles/micro_efficienttam under KAT_TEST_DATA; kat_bench_run not run\n");
    return;
  }
  kat_bench_options o;
  kat_bench_options_init(&o);
  o.bundle_dir = bundle;
  o.frames = 9;
  o.iterations = 3;
  o.warmup = 1;
  o.width = 96;
  o.height = 64;
  o.intra_op_threads = 1;
  kat_bench_report rep;
  char err[1024] = "";
  int st = kat_bench_run(&o, &rep, err, sizeof err);
  if (st != KAT_OK) fprintf(stderr, "kat_bench_run: %s\n", err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  if (st != KAT_OK) return;
  KAT_CHECK_INT_EQ(rep.frame.count, 9);
  KAT_CHECK(rep.frame.min > 0 && rep.frame.min <= rep.frame.p50);
  KAT_CHECK(rep.frame.p50 <= rep.frame.p95 && rep.frame.p95 <= rep.frame.p99);
  KAT_CHECK(rep.frame.p99 <= rep.frame.max);
  KAT_CHECK_NEAR(rep.fps_p50, 1000.0 / rep.frame.p50, 1e-9);
  KAT_CHECK(rep.wall_fps > 0 && rep.wall_fps <= rep.fps_p50 * 10);
  KAT_CHECK(rep.init_cold_ms > 0 && rep.init_warm_ms > 0);
  KAT_CHECK(rep.peak_rss_mb > 1);
  KAT_CHECK(rep.host_overhead_ratio >= 0 && rep.host_overhead_ratio < 1);
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    KAT_CHECK_INT_EQ(rep.module_ran[m], 1);
    KAT_CHECK_INT_EQ(rep.module[m].count, 3);
    KAT_CHECK(rep.module[m].min > 0 && rep.module[m].p50 <= rep.module[m].max);
  }
  KAT_CHECK_STR_EQ(rep.preset, "cpu");
  KAT_CHECK_CONTAINS(rep.machine, "cores");
  KAT_CHECK(!rep.has_accuracy);

  /* On a clip folder (katana synth: img/, groundtruth.txt, masks/) the tracked frames are also
   * scored: 1 warmup + 5 timed steps after frame 0 = 7 frames, each with a gt mask. The micro
   * bundle has random weights, so only the ranges are checked. */
  char clip_root[512], clip[600];
  snprintf(clip_root, sizeof clip_root, "%s/kat_test_bench_clip_XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(clip_root)) {
    KAT_CHECK(0);
    return;
  }
  kat_synth_options so;
  kat_synth_options_init(&so);
  so.frames = 8;
  so.width = 96;
  so.height = 64;
  so.out_dir = clip_root;
  KAT_CHECK_INT_EQ(kat_synth_write(&so, err, sizeof err), KAT_OK);
  snprintf(clip, sizeof clip, "%s/train-000", clip_root);
  o.clip_dir = clip;
  o.frames = 5;
  o.skip_modules = 1;
  st = kat_bench_run(&o, &rep, err, sizeof err);
  if (st != KAT_OK) fprintf(stderr, "kat_bench_run (clip): %s\n", err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  if (st == KAT_OK) {
    KAT_CHECK(rep.has_accuracy);
    KAT_CHECK_INT_EQ(rep.frame.count, 5);
    KAT_CHECK_INT_EQ(rep.mask_frames, 6);
    KAT_CHECK(rep.scored_frames >= 1 && rep.scored_frames <= 7);
    KAT_CHECK(rep.auc >= 0 && rep.auc <= 1);
    KAT_CHECK(rep.mean_box_iou >= 0 && rep.mean_box_iou <= 1);
    KAT_CHECK(rep.miou >= 0 && rep.miou <= 1);
    KAT_CHECK_INT_EQ(rep.module_ran[0], 0);
  }
  /* A clip shorter than the warmup is refused. */
  o.warmup = 50;
  KAT_CHECK_INT_EQ(kat_bench_run(&o, &rep, err, sizeof err), KAT_EINVAL);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", clip_root);
  KAT_CHECK_INT_EQ(system(cmd), 0);
}

/* `katana bench --json` on the micro bundle: the report has every key the brief fixes, per preset
 * and mode. */
KAT_TEST(test_cli_bench_json) {
  const char *cli = getenv("KAT_CLI");
  const char *bundle = kat_test_data("bundles/micro_efficienttam");
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/katana.json", bundle ? bundle : "");
  if (!cli || access(cli, X_OK) != 0 || !bundle || access(probe, R_OK) != 0) {
    printf("note: KAT_CLI or the micro bundle missing; katana bench not exercised\n");
    return;
  }
  char out[256], cmd[8192];
  snprintf(out, sizeof out, "%s/kat_test_bench_%d.json",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  snprintf(cmd, sizeof cmd,
           "'%s' bench --bundle '%s' --frames 3 --iterations 2 --warmup 0 --size 64x64 "
           "--threads 1 --mode exact,fast --json '%s' >/dev/null",
           cli, bundle, out);
  KAT_CHECK_INT_EQ(system(cmd), 0);
  static char json[65536];
  FILE *f = fopen(out, "rb");
  size_t n = f ? fread(json, 1, sizeof json - 1, f) : 0;
  if (f) fclose(f);
  json[n] = '\0';
  unlink(out);
  const char *keys[] = {"\"results\": {",
                        "\"cpu\": {",
                        "\"exact\": {",
                        "\"fast\": {",
                        "\"machine\": ",
                        "\"modules\": {",
                        "\"image_encoder\": {",
                        "\"memory_attention\": {",
                        "\"mask_decoder\": {",
                        "\"memory_encoder\": {",
                        "\"p50_ms\": ",
                        "\"p95_ms\": ",
                        "\"p99_ms\": ",
                        "\"frame\": {",
                        "\"fps_p50\": ",
                        "\"wall_fps\": ",
                        "\"init_ms\": {\"cold\": ",
                        "\"warm\": ",
                        "\"peak_rss_mb\": ",
                        "\"host_overhead_ratio\": ",
                        "cores"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) KAT_CHECK_CONTAINS(json, keys[i]);
  /* Bad usage exits with 2. */
  snprintf(cmd, sizeof cmd, "'%s' bench --frames 3 >/dev/null 2>&1", cli);
  int rc = system(cmd);
  KAT_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

KAT_TEST_MAIN(test_percentiles, test_throttle, test_machine, test_bench_run_micro,
              test_cli_bench_json)
