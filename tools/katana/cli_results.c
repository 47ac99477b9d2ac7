/*
 * The results writer shared by katana track and katana batch (cli_results.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void kat_cli_lb_printf(kat_cli_line_buf *b, const char *fmt, ...) {
  if (b->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof b->s - b->n)
    b->overflow = 1;
  else
    b->n += (size_t)n;
}

static void lb_num(kat_cli_line_buf *b, double v) {
  if (isfinite(v))
    kat_cli_lb_printf(b, "%.9g", v);
  else
    kat_cli_lb_printf(b, "null");
}

/* Writes the whole line with one write() (O_APPEND): a reader or a kill never sees half. */
int kat_cli_write_line(int fd, const kat_cli_line_buf *b) {
  if (b->overflow) return -1;
  ssize_t w;
  do {
    w = write(fd, b->s, b->n);
  } while (w < 0 && errno == EINTR);
  return w == (ssize_t)b->n ? 0 : -1;
}

void kat_cli_format_jsonl(kat_cli_line_buf *b, const kat_track_result *res) {
  const int empty_mask = res->presence == KAT_PRESENCE_TRACKED && !res->box_valid;
  b->n = 0;
  b->overflow = 0;
  kat_cli_lb_printf(b, "{\"frame\": %lld, \"source_frame\": %lld, \"dropped_before\": %lld, ",
                    (long long)res->frame_index, (long long)res->source_index,
                    (long long)res->dropped_before);
  kat_cli_lb_printf(b, "\"box\": [%.0f, %.0f, %.0f, %.0f], \"present\": %s, ", res->box[0],
                    res->box[1], res->box[2], res->box[3],
                    res->presence == KAT_PRESENCE_TRACKED ? "true" : "false");
  kat_cli_lb_printf(b, "\"presence\": \"%s\", \"empty_mask\": %s, \"object_score\": ",
                    kat_presence_name(res->presence), empty_mask ? "true" : "false");
  lb_num(b, res->object_score);
  kat_cli_lb_printf(b, ", \"candidate\": %d, \"iou_pred\": ", res->candidate);
  lb_num(b, res->iou_pred);
  kat_cli_lb_printf(b, ", \"kf_score\": ");
  if (res->has_kf_score)
    lb_num(b, res->kf_score);
  else
    kat_cli_lb_printf(b, "null");
  kat_cli_lb_printf(b, ", \"kf_phase\": %d, \"kf_box\": ", res->kf_phase);
  if (res->has_kf_box)
    kat_cli_lb_printf(b, "[%.2f, %.2f, %.2f, %.2f]", res->kf_box[0], res->kf_box[1], res->kf_box[2],
                      res->kf_box[3]);
  else
    kat_cli_lb_printf(b, "null");
  const kat_track_timings *t = &res->timings;
  kat_cli_lb_printf(
      b,
      ", \"ms\": {\"preprocess\": %.3f, \"image_encoder\": %.3f, \"memory_attention\": "
      "%.3f, \"mask_decoder\": %.3f, \"memory_encoder\": %.3f, \"host\": %.3f, "
      "\"total\": %.3f}}\n",
      t->preprocess_ms, t->module_ms[KAT_MODULE_IMAGE_ENCODER],
      t->module_ms[KAT_MODULE_MEMORY_ATTENTION], t->module_ms[KAT_MODULE_MASK_DECODER],
      t->module_ms[KAT_MODULE_MEMORY_ENCODER], t->host_ms, t->total_ms);
}

/* Opens `dir`/`name` for appending whole lines. */
int kat_cli_open_out(const char *dir, const char *name, char *why, size_t why_size) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0666);
  if (fd < 0) snprintf(why, why_size, "cannot write '%s': %s", path, strerror(errno));
  return fd;
}

void kat_cli_format_box(kat_cli_line_buf *b, const kat_track_result *res) {
  b->n = 0;
  b->overflow = 0;
  kat_cli_lb_printf(b, "%.0f,%.0f,%.0f,%.0f\n", res->box[0], res->box[1], res->box[2], res->box[3]);
}
