/*
 * `katana bench` reports as one self-contained HTML page (kat__bench_write_html,
 * src/bench/bench.h): inline CSS and SVG, no script, no external asset, so the file can be
 * committed or mailed and opens offline.
 *
 * The page: the machine and version; a side-by-side table of every configuration; a chart of
 * FPS p50 and wall FPS per configuration; then per configuration the isolated modules' p50 (with
 * the p95 as a tick), each stage's share of the frame's compute, and the frame time over the
 * timed frames with p50 and p95 lines and repeat boundaries, so spikes and slow-downs show.
 * Every element is closed (XHTML-style void elements) so the output is also well-formed XML;
 * tests/test_bench.c checks that with a tag-matching parser.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "bench/bench.h"
#include "tools/eval/results.h"

/* Text and attribute values with &, <, >, " and ' escaped. */
static void html_text(FILE *f, const char *s) {
  for (const char *p = s; *p; p++) {
    switch (*p) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*p, f);
    }
  }
}

/* A number with `dec` decimals for a table cell: "-" when not finite. */
static void html_num(FILE *f, int dec, double v) {
  if (isfinite(v)) {
    fprintf(f, "%.*f", dec, v);
  } else {
    fputs("-", f);
  }
}

static void config_label(FILE *f, const kat__bench_report *r) {
  char key[48];
  kat__bench_mode_key(r, key, sizeof key);
  html_text(f, r->model);
  fputs(" / ", f);
  html_text(f, r->preset);
  fputs(" / ", f);
  html_text(f, key);
}

/* A "nice" axis maximum >= v: 1, 2 or 5 times a power of ten. */
static double nice_max(double v) {
  if (!(v > 0.0) || !isfinite(v)) return 1.0;
  double p = pow(10.0, floor(log10(v)));
  if (v <= p) return p;
  if (v <= 2.0 * p) return 2.0 * p;
  if (v <= 5.0 * p) return 5.0 * p;
  return 10.0 * p;
}

#define BAR_PLOT_W 420.0
#define BAR_H 22.0

/*
 * Horizontal bar chart: one bar per label, value[i] (and an optional tick at tick[i]), the value
 * written after the bar with `unit`; an optional `note[i]` (e.g. a percentage) appended.
 */
static void svg_bars(FILE *f, const char *title, const char *const *labels, const double *value,
                     const double *tick, const char *tick_name, const double *share, size_t n,
                     const char *unit) {
  double vmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (isfinite(value[i]) && value[i] > vmax) vmax = value[i];
    if (tick && isfinite(tick[i]) && tick[i] > vmax) vmax = tick[i];
  }
  vmax = nice_max(vmax);
  /* Room for the longest label at about 7 px per character of the 12 px font. */
  size_t longest = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(labels[i]) > longest) longest = strlen(labels[i]);
  const double label_w =
      (double)longest * 7.0 + 12.0 > 150.0 ? (double)longest * 7.0 + 12.0 : 150.0;
  double h = 30.0 + BAR_H * (double)n + 10.0, w = label_w + BAR_PLOT_W + 150.0;
  fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", w, h,
          w, h);
  fputs("<text x=\"4\" y=\"16\" class=\"t\">", f);
  html_text(f, title);
  fputs("</text>\n", f);
  for (size_t i = 0; i < n; i++) {
    double y = 26.0 + BAR_H * (double)i;
    double v = isfinite(value[i]) && value[i] > 0.0 ? value[i] : 0.0;
    double bw = BAR_PLOT_W * v / vmax;
    fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" class=\"l\">", label_w - 6.0, y + 15.0);
    html_text(f, labels[i]);
    fputs("</text>\n", f);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" class=\"b%zu\"/>\n",
            label_w, y + 3.0, bw, BAR_H - 6.0, i % 6);
    if (tick && isfinite(tick[i])) {
      double tx = label_w + BAR_PLOT_W * tick[i] / vmax;
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>\n", tx,
              y + 1.0, tx, y + BAR_H - 1.0);
    }
    double end = bw;
    if (tick && isfinite(tick[i]) && BAR_PLOT_W * tick[i] / vmax > end)
      end = BAR_PLOT_W * tick[i] / vmax;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"v\">", label_w + end + 6.0, y + 15.0);
    html_num(f, 2, value[i]);
    fputc(' ', f);
    html_text(f, unit);
    if (share) fprintf(f, " (%.1f%%)", 100.0 * share[i]);
    if (tick && tick_name && isfinite(tick[i])) {
      fputs(" (", f);
      html_text(f, tick_name);
      fprintf(f, " %.2f)", tick[i]);
    }
    fputs("</text>\n", f);
  }
  fputs("</svg>\n", f);
}

#define PLOT_W 640.0
#define PLOT_H 220.0
#define PLOT_L 56.0
#define PLOT_T 26.0

/* Frame time over the timed frames: a polyline, p50 and p95 lines, repeat boundaries. */
static void svg_timeline(FILE *f, const kat__bench_report *r) {
  size_t n = r->frame_ms ? r->frame_ms_count : 0;
  double w = PLOT_L + PLOT_W + 80.0, h = PLOT_T + PLOT_H + 40.0;
  fprintf(f, "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", w, h,
          w, h);
  fputs("<text x=\"4\" y=\"16\" class=\"t\">Frame time over the timed frames (ms; ", f);
  html_text(f, kat__bench_frame_definition(r));
  fputs(")</text>\n", f);
  double vmax = 0.0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(r->frame_ms[i]) && r->frame_ms[i] > vmax) vmax = r->frame_ms[i];
  vmax = nice_max(vmax);
  double x0 = PLOT_L, y0 = PLOT_T, y1 = PLOT_T + PLOT_H;
  fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", x0,
          y0, PLOT_W, PLOT_H);
  for (int g = 0; g <= 4; g++) {
    double v = vmax * g / 4.0, y = y1 - PLOT_H * g / 4.0;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" class=\"grid\"/>\n", x0, y,
            x0 + PLOT_W, y);
    fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" class=\"l\">%.4g</text>\n", x0 - 4.0, y + 4.0, v);
  }
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">frame (all repeats in order)</text>\n",
          x0 + PLOT_W / 2.0, y1 + 32.0);
  if (n == 0) {
    fputs("</svg>\n", f);
    return;
  }
  double dx = n > 1 ? PLOT_W / (double)(n - 1) : 0.0;
  size_t per = r->frames > 0 ? (size_t)r->frames : n;
  for (size_t b = per; b < n; b += per) {
    double x = x0 + dx * ((double)b - 0.5);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" class=\"rep\"/>\n", x, y0, x,
            y1);
  }
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">0</text>\n", x0, y1 + 16.0);
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">%zu</text>\n", x0 + PLOT_W, y1 + 16.0,
          n - 1);
  fputs("<polyline class=\"series\" points=\"", f);
  for (size_t i = 0; i < n; i++) {
    double v = isfinite(r->frame_ms[i]) ? r->frame_ms[i] : 0.0;
    fprintf(f, "%s%.1f,%.1f", i ? " " : "", x0 + dx * (double)i, y1 - PLOT_H * v / vmax);
  }
  fputs("\"/>\n", f);
  const double lines[2] = {r->frame.p50, r->frame.p95};
  const char *names[2] = {"p50", "p95"};
  for (int k = 0; k < 2; k++) {
    if (!isfinite(lines[k])) continue;
    double y = y1 - PLOT_H * lines[k] / vmax;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" class=\"%s\"/>\n", x0, y,
            x0 + PLOT_W, y, names[k]);
    fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" class=\"v\">%s %.1f</text>\n", x0 + PLOT_W + 4.0,
            y + 4.0 + (k ? -6.0 : 6.0), names[k], lines[k]);
  }
  fputs("</svg>\n", f);
}

static const char *const css =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
    "th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}"
    "th{background:#f0f0f0}td.k{text-align:left}"
    ".warn{color:#b00;font-weight:bold}"
    "svg{display:block;margin:10px 0}"
    "svg text{font-size:12px;fill:#222}svg text.t{font-weight:bold;font-size:13px}"
    "svg text.l{text-anchor:end}svg text.ax{text-anchor:middle;fill:#555}"
    ".b0{fill:#4e79a7}.b1{fill:#f28e2b}.b2{fill:#59a14f}.b3{fill:#e15759}.b4{fill:#76b7b2}"
    ".b5{fill:#9c755f}.tick{stroke:#000;stroke-width:2}"
    ".frame{fill:none;stroke:#999}.grid{stroke:#eee}.rep{stroke:#aaa;stroke-dasharray:2,3}"
    ".series{fill:none;stroke:#4e79a7;stroke-width:1.2}"
    ".p50{stroke:#59a14f;stroke-dasharray:6,3}.p95{stroke:#e15759;stroke-dasharray:6,3}";

static void summary_table(FILE *f, const kat__bench_report *reports, size_t n) {
  fputs(
      "<table>\n<tr><th>model / preset / mode</th><th>threads</th><th>frames x repeat</th>"
      "<th>frame p50 / p95 / p99 (ms)</th><th>FPS p50</th><th>wall FPS</th>"
      "<th>wall FPS spread</th><th>latency p50 / p95 (ms)</th><th>init cold / warm (ms)</th>"
      "<th>peak RSS (MiB)</th><th>host overhead ratio</th><th>throttling</th></tr>\n",
      f);
  for (size_t i = 0; i < n; i++) {
    const kat__bench_report *r = &reports[i];
    fputs("<tr><td class=\"k\">", f);
    config_label(f, r);
    fputs("</td><td>", f);
    html_text(f, r->threads);
    fprintf(f, "</td><td>%d x %d</td><td>", r->frames, r->repeat);
    html_num(f, 1, r->frame.p50);
    fputs(" / ", f);
    html_num(f, 1, r->frame.p95);
    fputs(" / ", f);
    html_num(f, 1, r->frame.p99);
    fputs("</td><td>", f);
    html_num(f, 2, r->fps_p50);
    fputs("</td><td>", f);
    html_num(f, 2, r->wall_fps);
    fputs("</td><td>", f);
    if (r->repeat > 1) {
      html_num(f, 1, 100.0 * r->wall_fps_spread);
      fputc('%', f);
    } else {
      fputs("-", f);
    }
    fputs("</td><td>", f);
    html_num(f, 1, r->latency.p50);
    fputs(" / ", f);
    html_num(f, 1, r->latency.p95);
    fputs("</td><td>", f);
    html_num(f, 0, r->init_cold_ms);
    fputs(" / ", f);
    html_num(f, 0, r->init_warm_ms);
    fputs("</td><td>", f);
    html_num(f, 0, r->peak_rss_mb);
    fputs("</td><td>", f);
    html_num(f, 2, r->host_overhead_ratio);
    fputs("</td><td>", f);
    if (r->throttled) {
      fprintf(f, "<span class=\"warn\">+%.0f%%</span>", 100.0 * (r->throttle_ratio - 1.0));
    } else {
      fputs("ok", f);
    }
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

/* The FPS chart across configurations: FPS p50 bars, wall FPS as ticks. */
static int fps_chart(FILE *f, const kat__bench_report *reports, size_t n) {
  char(*labels)[160] = kat__calloc(n, sizeof *labels);
  const char **lp = kat__calloc(n, sizeof *lp);
  double *fps = kat__calloc(n, sizeof *fps), *wall = kat__calloc(n, sizeof *wall);
  int status = KAT_OK;
  if (!labels || !lp || !fps || !wall) {
    status = KAT_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    char key[48];
    kat__bench_mode_key(&reports[i], key, sizeof key);
    /* A label longer than the buffer is cut and marked with a trailing '~'. */
    if (snprintf(labels[i], sizeof labels[i], "%s/%s/%s", reports[i].model, reports[i].preset,
                 key) >= (int)sizeof labels[i])
      labels[i][sizeof labels[i] - 2] = '~';
    lp[i] = labels[i];
    fps[i] = reports[i].fps_p50;
    wall[i] = reports[i].wall_fps;
  }
  svg_bars(f, "FPS p50 per configuration (bar; tick: wall FPS)", lp, fps, wall, "wall", NULL, n,
           "FPS");
done:
  kat__free(labels);
  kat__free(lp);
  kat__free(fps);
  kat__free(wall);
  return status;
}

static void config_section(FILE *f, const kat__bench_report *r) {
  fputs("<section>\n<h2>", f);
  config_label(f, r);
  fputs("</h2>\n<p>bundle <code>", f);
  html_text(f, r->bundle);
  fputs("</code>, ", f);
  if (r->clip[0]) {
    fputs("clip <code>", f);
    html_text(f, r->clip);
    fputs("</code>", f);
  } else {
    fprintf(f, "synthetic clip %dx%d", r->width, r->height);
  }
  fprintf(f, ", %d timed frames x %d repeat(s) after %d warm-up frames, intra-op threads ",
          r->frames, r->repeat, r->warmup);
  html_text(f, r->threads);
  fputs(". Frame time: ", f);
  html_text(f, kat__bench_frame_definition(r));
  fputs(".</p>\n", f);
  if (r->throttled)
    fprintf(f,
            "<p class=\"warn\">The last third of the frames ran %.0f%% slower than the first "
            "third (throttling or other load): the numbers are suspect.</p>\n",
            100.0 * (r->throttle_ratio - 1.0));
  const char *labels[KAT_BENCH_STAGE_COUNT];
  double v[KAT_BENCH_STAGE_COUNT], t[KAT_BENCH_STAGE_COUNT];
  size_t nm = 0;
  for (int m = 0; m < KAT_MODULE_COUNT; m++) {
    if (!r->module_ran[m]) continue;
    labels[nm] = kat_module_name((kat_module)m);
    v[nm] = r->module[m].p50;
    t[nm] = r->module[m].p95;
    nm++;
  }
  if (nm) {
    char title[160];
    snprintf(title, sizeof title,
             "Each module alone, p50 (ms; tick: p95; %d timed runs after warm-up)", r->iterations);
    svg_bars(f, title, labels, v, t, "p95", NULL, nm, "ms");
  }
  for (int s = 0; s < KAT_BENCH_STAGE_COUNT; s++) {
    labels[s] = kat__bench_stage_name(s);
    v[s] = r->stage_ms[s];
  }
  svg_bars(f, "Stages of a frame end to end: mean compute ms and share", labels, v, NULL, NULL,
           r->stage_share, KAT_BENCH_STAGE_COUNT, "ms");
  svg_timeline(f, r);
  if (r->has_accuracy) {
    fprintf(f, "<p>Accuracy on the clip (%zu scored frames): AUC %.2f, P@20 %.2f, AO %.2f",
            r->scored_frames, 100.0 * r->auc, 100.0 * r->precision_20, 100.0 * r->mean_box_iou);
    if (r->mask_frames) fprintf(f, ", mIoU %.2f (%zu masks)", 100.0 * r->miou, r->mask_frames);
    fputs(".</p>\n", f);
  }
  fputs("</section>\n", f);
}

int kat__bench_write_html(const char *path, const kat__bench_report *reports, size_t n, char *err,
                          size_t err_size) {
  if (!reports || n == 0)
    return kat__eval_error(err, err_size, KAT_EINVAL, "bench: no reports to write");
  FILE *f = kat__bench_open_out(path, err, err_size);
  if (!f) return KAT_EIO;
  fputs(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<title>katana bench</title>\n<style>",
      f);
  fputs(css, f);
  fputs("</style>\n</head>\n<body>\n<h1>katana bench</h1>\n<p>Machine: <b>", f);
  html_text(f, reports[0].machine);
  fputs("</b>. katana ", f);
  html_text(f, kat_version());
  fputs(
      ". Frame time is per frame from push to result in <i>seq</i> mode and the interval "
      "between results in <i>pipe</i> mode; FPS p50 = 1000 / median frame time; wall FPS = "
      "timed frames / their wall time (median over repeats); host overhead ratio = frame p50 / "
      "sum of the isolated modules' p50.</p>\n",
      f);
  summary_table(f, reports, n);
  int status = fps_chart(f, reports, n);
  for (size_t i = 0; i < n && status == KAT_OK; i++) config_section(f, &reports[i]);
  fputs("</body>\n</html>\n", f);
  int cs = kat__bench_close_out(f, path, err, err_size);
  if (status != KAT_OK)
    return kat__eval_error(err, err_size, status, "bench: out of memory writing %s", path);
  return cs;
}
