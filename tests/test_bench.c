/*
 * Tests for the benchmark statistics and reports (src/bench/bench.c, report_json.c,
 * report_html.c): percentiles by linear interpolation, spread, the throttling check, the machine
 * line, the JSON keys and values of hand-made reports, well-formed self-contained HTML, and short
 * kat__bench_run / `katana bench` runs on the micro test bundle when the test data has it.
 * Expected values are worked out by hand next to each check; nothing asserts a timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "bench/bench.h"
#include "bench/bench.h"
#include "tools/synth/synth.h"
#include "kat_test.h"

KAT_TEST(test_percentiles) {
  /* 1..10 shuffled. Ranks p/100 * 9: p50 4.5 -> 5.5; p95 8.55 -> 9.55; p99 8.91 -> 9.91;
   * p75 6.75 -> 7.75, p25 2.25 -> 3.25, so IQR 4.5. Population variance: sum (i-5.5)^2 / 10 =
   * 82.5 / 10 = 8.25. */
  const double v[10] = {7, 3, 10, 1, 9, 2, 8, 5, 4, 6};
  kat__bench_stats s;
  KAT_CHECK_INT_EQ(kat__bench_stats_compute(v, 10, &s), KAT_OK);
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
  KAT_CHECK_INT_EQ(kat__bench_stats_compute(&one, 1, &s), KAT_OK);
  KAT_CHECK_NEAR(s.p50, 4.25, 0);
  KAT_CHECK_NEAR(s.p99, 4.25, 0);
  KAT_CHECK_NEAR(s.stddev, 0, 0);
  KAT_CHECK_NEAR(s.iqr, 0, 0);

  /* No samples, or a non-finite one: an error. */
  KAT_CHECK_INT_EQ(kat__bench_stats_compute(v, 0, &s), KAT_EINVAL);
  const double bad[3] = {1, NAN, 2};
  KAT_CHECK_INT_EQ(kat__bench_stats_compute(bad, 3, &s), KAT_EINVAL);
}

KAT_TEST(test_throttle) {
  double r = 0;
  /* Thirds with medians 10 and 12: 1.2 > 1.1. */
  const double slow[9] = {10, 10, 10, 11, 11, 11, 12, 12, 12};
  KAT_CHECK_INT_EQ(kat__bench_throttle_check(slow, 9, &r), 1);
  KAT_CHECK_NEAR(r, 1.2, 1e-12);
  /* Exactly 10% slower is not more than 10%. */
  const double edge[9] = {10, 10, 10, 10, 10, 10, 11, 11, 11};
  KAT_CHECK_INT_EQ(kat__bench_throttle_check(edge, 9, &r), 0);
  KAT_CHECK_NEAR(r, 1.1, 1e-12);
  /* A single spike in the last third does not move its median. */
  const double spike[9] = {10, 10, 10, 10, 10, 10, 10, 90, 10};
  KAT_CHECK_INT_EQ(kat__bench_throttle_check(spike, 9, &r), 0);
  KAT_CHECK_NEAR(r, 1.0, 1e-12);
  /* Faster at the end is fine. */
  const double faster[12] = {20, 20, 20, 20, 15, 15, 15, 15, 10, 10, 10, 10};
  KAT_CHECK_INT_EQ(kat__bench_throttle_check(faster, 12, &r), 0);
  KAT_CHECK_NEAR(r, 0.5, 1e-12);
  /* Too few samples to say. */
  KAT_CHECK_INT_EQ(kat__bench_throttle_check(slow, 8, &r), 0);
  KAT_CHECK_NEAR(r, 1.0, 0);
}

KAT_TEST(test_machine) {
  char buf[256] = "";
  kat__bench_machine(buf, sizeof buf);
  KAT_CHECK_CONTAINS(buf, " cores, GPU: ");
  KAT_CHECK(strlen(buf) > strlen(" cores, GPU: x"));
  kat__bench_options o;
  kat__bench_options_init(&o);
  KAT_CHECK_STR_EQ(o.preset, "cpu");
  KAT_CHECK_STR_EQ(o.mode, "seq");
  KAT_CHECK_STR_EQ(o.prep, "exact");
  KAT_CHECK_INT_EQ(o.repeat, 1);
  KAT_CHECK_STR_EQ(kat__bench_stage_name(KAT_BENCH_STAGE_PREPROCESS), "preprocess");
  KAT_CHECK_STR_EQ(kat__bench_stage_name(1 + KAT_MODULE_MASK_DECODER), "mask_decoder");
  KAT_CHECK_STR_EQ(kat__bench_stage_name(KAT_BENCH_STAGE_HOST), "host");
  KAT_CHECK_STR_EQ(kat__bench_stage_name(KAT_BENCH_STAGE_COUNT), "?");
  kat__bench_report rep;
  char err[256] = "";
  KAT_CHECK_INT_EQ(kat__bench_run(&o, &rep, err, sizeof err), KAT_EINVAL); /* no bundle */
  KAT_CHECK(err[0] != '\0');
  o.bundle_dir = "/nonexistent";
  o.mode = "exact"; /* the old meaning of mode is refused, not reinterpreted */
  err[0] = '\0';
  KAT_CHECK_INT_EQ(kat__bench_run(&o, &rep, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "unknown mode");
  o.mode = "pipe";
  o.repeat = KAT_BENCH_MAX_REPEAT + 1;
  KAT_CHECK_INT_EQ(kat__bench_run(&o, &rep, err, sizeof err), KAT_EINVAL);
  kat__bench_report_cleanup(&rep);
  kat__bench_report_cleanup(NULL);
}

/* ---- report writers on hand-made reports ---- */

/* A report with round numbers: module m has p50 = 10 * (m + 1) ms, frame p50 = 80 ms. */
static void fake_report(kat__bench_report *r, const char *model, const char *preset,
                        const char *mode, const char *prep, double *frame_ms, size_t n) {
  memset(r, 0, sizeof *r);
  snprintf(r->model, sizeof r->model, "%s", model);
  snprintf(r->bundle, sizeof r->bundle, "/b/%s", model);
  snprintf(r->preset, sizeof r->preset, "%s", preset);
  snprintf(r->mode, sizeof r->mode, "%s", mode);
  snprintf(r->prep, sizeof r->prep, "%s", prep);
  snprintf(r->machine, sizeof r->machine, "Test CPU, 2 cores, GPU: none");
  snprintf(r->threads, sizeof r->threads, "1,1,1,1");
  r->frames = (int)n / 2;
  r->repeat = 2;
  r->iterations = 5;
  r->warmup = 1;
  r->width = 64;
  r->height = 48;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    r->module_ran[m] = 1;
    r->module[m].count = 5;
    r->module[m].p50 = 10.0 * (m + 1);
    r->module[m].p95 = 11.0 * (m + 1);
  }
  kat__bench_stats_compute(frame_ms, n, &r->frame);
  kat__bench_stats_compute(frame_ms, n, &r->latency);
  r->fps_p50 = 1000.0 / r->frame.p50;
  r->wall_fps = 12.0;
  r->repeat_wall_fps[0] = 11.0;
  r->repeat_wall_fps[1] = 13.0;
  r->wall_fps_spread = 2.0 / 12.0;
  for (int s = 0; s < KAT_BENCH_STAGE_COUNT; s++) {
    r->stage_ms[s] = 10.0;
    r->stage_share[s] = 1.0 / KAT_BENCH_STAGE_COUNT;
  }
  r->init_cold_ms = 500.0;
  r->init_warm_ms = 250.0;
  r->peak_rss_mb = 123.5;
  r->host_overhead_ratio = r->frame.p50 / 100.0; /* modules sum to 10+20+30+40 */
  r->throttled = kat__bench_throttle_check(frame_ms, n, &r->throttle_ratio);
  r->frame_ms = frame_ms; /* borrowed: not cleaned up */
  r->frame_ms_count = n;
  r->miou = NAN;
}

static char *tmp_path(char *buf, size_t size, const char *ext) {
  static int seq = 0;
  snprintf(buf, size, "%s/kat_test_bench_%d_%d.%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid(), seq++, ext);
  return buf;
}

KAT_TEST(test_json_writer) {
  /* 12 frames: 80 ms each but a 90 ms last third: thirds' medians 80 and 90 -> ratio 1.125, so
   * throttled. Frame p50 = 80 (ranks 5.5 of 0..11 fall in the 80s). */
  double ms[12] = {80, 80, 80, 80, 80, 80, 80, 80, 90, 90, 90, 90};
  kat__bench_report r[3];
  fake_report(&r[0], "m1", "cpu", "seq", "exact", ms, 12);
  fake_report(&r[1], "m1", "cpu", "pipe", "fast", ms, 12);
  fake_report(&r[2], "m\"2", "cuda", "pipe", "exact", ms, 12);
  r[2].host_overhead_ratio = NAN; /* modules not timed: null */
  KAT_CHECK(r[0].throttled);
  KAT_CHECK_NEAR(r[0].throttle_ratio, 1.125, 1e-12);
  KAT_CHECK_NEAR(r[0].frame.p50, 80, 0);
  char path[512], err[512] = "";
  tmp_path(path, sizeof path, "json");
  KAT_CHECK_INT_EQ(kat__bench_write_json(path, r, 3, err, sizeof err), KAT_OK);
  size_t n = 0;
  char *json = kat_test_read_file(path, &n);
  KAT_CHECK(json != NULL);
  if (!json) return;
  const char *keys[] = {"\"katana_version\": ",
                        "\"machine\": \"Test CPU, 2 cores, GPU: none\"",
                        "\"results\": {",
                        "\"m1\": {",
                        "\"m\\\"2\": {",
                        "\"cpu\": {",
                        "\"cuda\": {",
                        "\"seq\": {",
                        "\"pipe-fast\": {",
                        "\"modules\": {",
                        "\"image_encoder\": {\"count\": 5",
                        "\"memory_encoder\": {",
                        "\"p50_ms\": 40.0000",
                        "\"frame\": {\"count\": 12",
                        "\"p50_ms\": 80.0000",
                        "\"p95_ms\": 90.0000",
                        "\"fps_p50\": 12.5000",
                        "\"wall_fps\": 12.0000",
                        "\"repeats\": {\"count\": 2, \"wall_fps\": [11.0000, 13.0000]",
                        "\"wall_fps_spread\": 0.1667",
                        "\"stages\": {\"preprocess\": {\"ms\": 10.0000",
                        "\"host\": {\"ms\": ",
                        "\"init_ms\": {\"cold\": 500.0000, \"warm\": 250.0000}",
                        "\"peak_rss_mb\": 123.5000",
                        "\"host_overhead_ratio\": 0.8000",
                        "\"host_overhead_ratio\": null",
                        "\"throttled\": true, \"throttle_ratio\": 1.1250",
                        "\"frame_definition\": \"interval between consecutive results\"",
                        "\"frame_ms\": [80.000, 80.000"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) KAT_CHECK_CONTAINS(json, keys[i]);
  /* m1 is one object holding both of its runs, in order. */
  const char *m1 = strstr(json, "\"m1\": {"), *m2 = strstr(json, "\"m\\\"2\": {");
  KAT_CHECK(m1 && m2 && m1 < m2 && strstr(m1, "\"pipe-fast\"") < m2);
  free(json);
  /* A JSON parser agrees (Debian's Python, when the test environment names it). */
  const char *py = getenv("KAT_PYTHON");
  if (py && access(py, X_OK) == 0) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' -c \"import json,sys; d=json.load(open(sys.argv[1])); "
             "r=d['results']; e=r['m1']['cpu']['pipe-fast']; "
             "assert e['modules']['mask_decoder']['p50_ms']==30 and e['frame']['p95_ms']==90; "
             "assert e['init_ms']=={'cold':500,'warm':250} and e['peak_rss_mb']==123.5; "
             "assert r['m\\\\\\\"2']['cuda']['pipe']['host_overhead_ratio'] is None; "
             "assert len(e['frame_ms'])==12 and e['prep']=='fast'\" '%s'",
             py, path);
    KAT_CHECK_INT_EQ(system(cmd), 0);
  }
  unlink(path);
  /* Nothing to write, or nowhere to write it. */
  KAT_CHECK_INT_EQ(kat__bench_write_json(path, r, 0, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat__bench_write_json("/nonexistent/dir/x.json", r, 1, err, sizeof err),
                   KAT_EIO);
  if (!py || access(py, X_OK) != 0)
    KAT_SKIP("KAT_PYTHON not set: the JSON was not parsed by Python (the C checks ran)");
}

/* 1 when every tag in `s` (after the doctype) is closed in order, self-closing tags end in "/>",
 * and every '&' starts an entity the writer uses; else 0 with the reason printed. */
static int html_well_formed(const char *s) {
  const char *stack[64];
  size_t len[64];
  int depth = 0;
  if (strncmp(s, "<!DOCTYPE html>", 15) != 0) {
    fprintf(stderr, "no doctype\n");
    return 0;
  }
  for (const char *p = s + 15; *p; p++) {
    if (*p == '&') {
      const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
      int ok = 0;
      for (int i = 0; i < 5; i++) ok |= strncmp(p, ents[i], strlen(ents[i])) == 0;
      if (!ok) {
        fprintf(stderr, "bare '&' at %.20s\n", p);
        return 0;
      }
      continue;
    }
    if (*p == '>') {
      fprintf(stderr, "bare '>' at %.20s\n", p);
      return 0;
    }
    if (*p != '<') continue;
    const char *e = strchr(p, '>');
    if (!e) return 0;
    if (p[1] == '/') {
      size_t n = strcspn(p + 2, " >");
      if (depth == 0 || len[depth - 1] != n || strncmp(stack[depth - 1], p + 2, n) != 0) {
        fprintf(stderr, "unexpected %.*s\n", (int)(n + 3), p);
        return 0;
      }
      depth--;
    } else if (e[-1] != '/') {
      if (depth == 64) return 0;
      stack[depth] = p + 1;
      len[depth] = strcspn(p + 1, " />\n");
      depth++;
    }
    p = e;
  }
  if (depth) fprintf(stderr, "%d unclosed, first <%.*s>\n", depth, (int)len[0], stack[0]);
  return depth == 0;
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
  return n;
}

KAT_TEST(test_html_writer) {
  double ms[12] = {80, 81, 79, 80, 250, 80, 80, 80, 92, 92, 92, 92};
  kat__bench_report r[2];
  fake_report(&r[0], "tiny<b>&\"x'", "cpu", "seq", "exact", ms, 12);
  fake_report(&r[1], "tiny", "cpu", "pipe", "exact", ms, 12);
  r[1].module_ran[0] = r[1].module_ran[1] = r[1].module_ran[2] = r[1].module_ran[3] = 0;
  r[1].host_overhead_ratio = NAN;
  char path[512], err[512] = "";
  tmp_path(path, sizeof path, "html");
  KAT_CHECK_INT_EQ(kat__bench_write_html(path, r, 2, err, sizeof err), KAT_OK);
  size_t n = 0;
  char *html = kat_test_read_file(path, &n);
  unlink(path);
  KAT_CHECK(html != NULL);
  if (!html) return;
  KAT_CHECK(html_well_formed(html));
  KAT_CHECK(n > 16 && strcmp(html + n - 8, "</html>\n") == 0);
  /* The name is escaped wherever it appears, never raw. */
  KAT_CHECK(strstr(html, "tiny<b>") == NULL);
  KAT_CHECK_CONTAINS(html, "tiny&lt;b&gt;&amp;&quot;x&#39;");
  KAT_CHECK_CONTAINS(html, "Machine: <b>Test CPU, 2 cores, GPU: none</b>");
  /* Self-contained: no script, no external reference. */
  KAT_CHECK(strstr(html, "<script") == NULL);
  KAT_CHECK(strstr(html, "src=") == NULL && strstr(html, "href=") == NULL);
  KAT_CHECK(strstr(html, "http") == NULL);
  /* SVGs: the FPS chart; run 0: modules, stages, timeline; run 1 (no modules): stages,
   * timeline. */
  KAT_CHECK_INT_EQ(count_of(html, "<svg "), 6);
  KAT_CHECK_INT_EQ(count_of(html, "</svg>"), 6);
  KAT_CHECK_INT_EQ(count_of(html, "<polyline "), 2);
  /* The timeline has one point per frame and marks the repeat boundary (frames = 6). */
  const char *pl = strstr(html, "<polyline class=\"series\" points=\"");
  KAT_CHECK(pl != NULL);
  if (pl) {
    const char *end = strchr(pl, '/');
    size_t commas = 0;
    for (const char *p = pl; p < end; p++) commas += *p == ',';
    KAT_CHECK_INT_EQ(commas, 12);
  }
  KAT_CHECK_INT_EQ(count_of(html, "class=\"rep\""), 2);
  KAT_CHECK_CONTAINS(html, "class=\"p95\"");
  /* The throttled runs are flagged (thirds' medians 80 and 92: 15% slower); the summary table
   * has both rows. */
  KAT_CHECK_CONTAINS(html, "ran 15% slower");
  KAT_CHECK_INT_EQ(count_of(html, "<tr>"), 3);
  free(html);
  KAT_CHECK_INT_EQ(kat__bench_write_html("/nonexistent/dir/x.html", r, 2, err, sizeof err),
                   KAT_EIO);
}

/* ---- real runs on the micro bundle ---- */

static const char *micro_bundle(void) {
  const char *bundle = kat_test_data("bundles/micro_efficienttam");
  static char b[4200];
  char probe[4300];
  if (!bundle) return NULL;
  snprintf(b, sizeof b, "%s", bundle);
  snprintf(probe, sizeof probe, "%s/katana.json", b);
  return access(probe, R_OK) == 0 ? b : NULL;
}

/* Progress seen by the callback: the last (done, total) per phase and the number of calls. */
typedef struct progress_log {
  size_t frames_done, frames_total, modules_done, modules_total, init_done;
  int calls, backwards;
} progress_log;

static void log_progress(void *user, const char *phase, size_t done, size_t total) {
  progress_log *l = user;
  l->calls++;
  if (strcmp(phase, "frames") == 0) {
    l->backwards |= done < l->frames_done;
    l->frames_done = done;
    l->frames_total = total;
  } else if (strcmp(phase, "modules") == 0) {
    l->backwards |= done < l->modules_done;
    l->modules_done = done;
    l->modules_total = total;
  } else if (strcmp(phase, "init") == 0) {
    l->init_done = done;
  }
}

static void check_run(const kat__bench_report *rep, size_t timed) {
  KAT_CHECK_INT_EQ(rep->frame.count, timed);
  KAT_CHECK_INT_EQ(rep->frame_ms_count, timed);
  KAT_CHECK(rep->frame_ms != NULL);
  KAT_CHECK(rep->frame.min > 0 && rep->frame.min <= rep->frame.p50);
  KAT_CHECK(rep->frame.p50 <= rep->frame.p95 && rep->frame.p95 <= rep->frame.p99);
  KAT_CHECK(rep->frame.p99 <= rep->frame.max);
  KAT_CHECK_INT_EQ(rep->latency.count, timed);
  KAT_CHECK(rep->latency.min > 0);
  KAT_CHECK_NEAR(rep->fps_p50, 1000.0 / rep->frame.p50, 1e-9);
  KAT_CHECK(rep->wall_fps > 0 && isfinite(rep->wall_fps));
  KAT_CHECK(rep->init_cold_ms > 0 && rep->init_warm_ms > 0);
  KAT_CHECK(rep->peak_rss_mb > 1);
  double share = 0;
  for (int s = 0; s < KAT_BENCH_STAGE_COUNT; s++) {
    KAT_CHECK(rep->stage_ms[s] >= 0);
    share += rep->stage_share[s];
  }
  KAT_CHECK_NEAR(share, 1.0, 1e-9);
  KAT_CHECK(rep->stage_ms[1 + KAT_MODULE_IMAGE_ENCODER] > 0);
  KAT_CHECK_CONTAINS(rep->machine, "cores");
  KAT_CHECK_STR_EQ(rep->model, "micro_efficienttam");
}

KAT_TEST(test_bench_run_micro) {
  const char *bundle = micro_bundle();
  if (!bundle) KAT_SKIP("no bundles/micro_efficienttam under KAT_TEST_DATA (run make_test_data)");
  kat__bench_options o;
  kat__bench_options_init(&o);
  o.bundle_dir = bundle;
  o.frames = 9;
  o.iterations = 3;
  o.warmup = 1;
  o.width = 96;
  o.height = 64;
  o.intra_op_threads = 1;
  progress_log pl;
  memset(&pl, 0, sizeof pl);
  o.progress = log_progress;
  o.progress_user = &pl;
  kat__bench_report rep;
  char err[1024] = "";
  int st = kat__bench_run(&o, &rep, err, sizeof err);
  if (st != KAT_OK) fprintf(stderr, "kat__bench_run: %s\n", err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  if (st == KAT_OK) {
    /* Progress: 1 start + 1 warm-up + 9 timed frames; 4 modules x (1 + 3) runs; init 2 of 2. */
    KAT_CHECK_INT_EQ(pl.frames_total, 11);
    KAT_CHECK_INT_EQ(pl.frames_done, 11);
    KAT_CHECK_INT_EQ(pl.modules_total, 16);
    KAT_CHECK_INT_EQ(pl.modules_done, 16);
    KAT_CHECK_INT_EQ(pl.init_done, 2);
    KAT_CHECK(!pl.backwards);
    check_run(&rep, 9);
    KAT_CHECK_STR_EQ(rep.mode, "seq");
    KAT_CHECK_STR_EQ(rep.threads, "1,1,1,1");
    double sum = 0;
    for (int m = 0; m < KAT_MODULE_COUNT; m++) {
      KAT_CHECK_INT_EQ(rep.module_ran[m], 1);
      KAT_CHECK_INT_EQ(rep.module[m].count, 3);
      KAT_CHECK(rep.module[m].min > 0 && rep.module[m].p50 <= rep.module[m].max);
      sum += rep.module[m].p50;
    }
    KAT_CHECK_NEAR(rep.host_overhead_ratio, rep.frame.p50 / sum, 1e-12);
    /* seq: the frame time is the push-to-result latency. */
    KAT_CHECK_NEAR(rep.latency.p50, rep.frame.p50, 1e-9);
    KAT_CHECK_STR_EQ(rep.preset, "cpu");
    KAT_CHECK(!rep.has_accuracy);
  }
  kat__bench_report_cleanup(&rep);

  /* Pipelined, two repeats, no module timing: 2 x 9 frames pooled, one FPS per repeat. */
  o.mode = "pipe";
  o.prep = "fast";
  o.repeat = 2;
  o.skip_modules = 1;
  o.intra_op_threads = 0;
  o.progress = NULL;
  st = kat__bench_run(&o, &rep, err, sizeof err);
  if (st != KAT_OK) fprintf(stderr, "kat__bench_run (pipe): %s\n", err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  if (st == KAT_OK) {
    check_run(&rep, 18);
    KAT_CHECK_STR_EQ(rep.mode, "pipe");
    KAT_CHECK_STR_EQ(rep.prep, "fast");
    KAT_CHECK(rep.repeat_wall_fps[0] > 0 && rep.repeat_wall_fps[1] > 0);
    /* The spread is (max - min) / median of the two repeats' wall FPS, the median between them. */
    const double a = rep.repeat_wall_fps[0], b = rep.repeat_wall_fps[1];
    const double lo = a < b ? a : b, hi = a < b ? b : a;
    KAT_CHECK(rep.wall_fps >= lo && rep.wall_fps <= hi);
    KAT_CHECK_NEAR(rep.wall_fps_spread, (hi - lo) / rep.wall_fps, 1e-12);
    KAT_CHECK(isnan(rep.host_overhead_ratio));
    KAT_CHECK_INT_EQ(rep.module_ran[0], 0);
    /* Half the cores per CPU session (at least one). */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char want[64];
    int h = cores > 2 ? (int)(cores / 2) : 1;
    snprintf(want, sizeof want, "%d,%d,%d,%d", h, h, h, h);
    KAT_CHECK_STR_EQ(rep.threads, want);
  }
  kat__bench_report_cleanup(&rep);
  o.mode = "seq";
  o.prep = "exact";
  o.repeat = 1;

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
  kat__synth_options so;
  kat__synth_options_init(&so);
  so.frames = 8;
  so.width = 96;
  so.height = 64;
  so.out_dir = clip_root;
  KAT_CHECK_INT_EQ(kat__synth_write(&so, err, sizeof err), KAT_OK);
  snprintf(clip, sizeof clip, "%s/train-000", clip_root);
  o.clip_dir = clip;
  o.frames = 5;
  o.skip_modules = 1;
  for (int pipe = 0; pipe < 2; pipe++) {
    o.mode = pipe ? "pipe" : "seq";
    st = kat__bench_run(&o, &rep, err, sizeof err);
    if (st != KAT_OK) fprintf(stderr, "kat__bench_run (clip): %s\n", err);
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
      KAT_CHECK_STR_EQ(rep.clip, clip);
    }
    kat__bench_report_cleanup(&rep);
  }
  /* A clip shorter than the warmup is refused. */
  o.warmup = 50;
  KAT_CHECK_INT_EQ(kat__bench_run(&o, &rep, err, sizeof err), KAT_EINVAL);
  kat__bench_report_cleanup(&rep);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", clip_root);
  KAT_CHECK_INT_EQ(system(cmd), 0);
}

/* `katana bench --json --html` on the micro bundle: every configuration (each in its own child
 * process) is in the JSON with the keys the issue fixes; the HTML is well-formed. */
KAT_TEST(test_cli_bench) {
  const char *cli = getenv("KAT_CLI");
  const char *bundle = micro_bundle();
  if (!cli || access(cli, X_OK) != 0) KAT_SKIP("KAT_CLI is not set (run through CTest)");
  if (!bundle) KAT_SKIP("no bundles/micro_efficienttam under KAT_TEST_DATA (run make_test_data)");
  char out[512], html_path[512], cmd[10000];
  tmp_path(out, sizeof out, "json");
  tmp_path(html_path, sizeof html_path, "html");
  snprintf(cmd, sizeof cmd,
           "'%s' bench --model '%s' --ep cpu --frames 3 --iterations 2 --warmup 0 --size 64x64 "
           "--threads 1 --modes seq,pipe --prep exact,fast --json '%s' --html '%s' >/dev/null "
           "2>'%s.err'",
           cli, bundle, out, html_path, out);
  KAT_CHECK_INT_EQ(system(cmd), 0);
  /* stderr is not a terminal here: no progress bar, nothing written. */
  char err_path[600];
  snprintf(err_path, sizeof err_path, "%s.err", out);
  size_t n = 0;
  char *err_text = kat_test_read_file(err_path, &n);
  KAT_CHECK(err_text != NULL);
  KAT_CHECK_INT_EQ(n, 0);
  free(err_text);
  unlink(err_path);
  char *json = kat_test_read_file(out, &n);
  unlink(out);
  KAT_CHECK(json != NULL);
  if (json) {
    const char *keys[] = {"\"results\": {",
                          "\"micro_efficienttam\": {",
                          "\"cpu\": {",
                          "\"seq\": {",
                          "\"pipe\": {",
                          "\"seq-fast\": {",
                          "\"pipe-fast\": {",
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
                          "GPU: "};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) KAT_CHECK_CONTAINS(json, keys[i]);
    free(json);
  }
  char *html = kat_test_read_file(html_path, &n);
  unlink(html_path);
  KAT_CHECK(html != NULL);
  if (html) {
    KAT_CHECK(html_well_formed(html));
    KAT_CHECK_INT_EQ(count_of(html, "<section>"), 4);
    free(html);
  }
  /* The old spellings still work (--bundle, --preset, --mode exact). */
  snprintf(cmd, sizeof cmd,
           "'%s' bench --bundle '%s' --preset cpu --mode exact --modes seq --frames 2 "
           "--iterations 1 --warmup 0 --size 64x64 --threads 1 --no-modules --same-process "
           ">/dev/null",
           cli, bundle);
  KAT_CHECK_INT_EQ(system(cmd), 0);
  /* Bad usage exits with 2. */
  const char *bad[] = {"bench --frames 3", "bench --model x --modes seq,turbo",
                       "bench --model x --prep slow", "bench --model x --repeat 0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", cli, bad[i]);
    int rc = system(cmd);
    KAT_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  }
}

KAT_TEST_MAIN(KAT_CASE(test_percentiles), KAT_CASE(test_throttle), KAT_CASE(test_machine),
              KAT_CASE(test_json_writer), KAT_CASE(test_html_writer),
              KAT_CASE(test_bench_run_micro), KAT_CASE(test_cli_bench))
