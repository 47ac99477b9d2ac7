/*
 * The results writer shared by katana track and katana batch: boxes.txt (LaSOT x,y,w,h per
 * frame) and results.jsonl (one JSON object per frame), each line formatted into a bounded buffer
 * and written with one write() on an O_APPEND descriptor, so every completed frame is on disk
 * whole and no line is torn, even by SIGKILL.
 *
 * Thread-safety: plain functions on caller-owned buffers and descriptors; several threads may
 * write different files at once.
 */
#ifndef KAT_CLI_RESULTS_H
#define KAT_CLI_RESULTS_H

#include <stddef.h>

#include "katana/katana.h"

/* A bounded line buffer: appends stop (and `overflow` is set) when it is full. */
typedef struct kat_cli_line_buf {
  char s[2048];
  size_t n;
  int overflow;
} kat_cli_line_buf;

/* Appends to b (printf format). */
void kat_cli_lb_printf(kat_cli_line_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Replaces b's content with the boxes.txt line of `res`: "x,y,w,h\n". */
void kat_cli_format_box(kat_cli_line_buf *b, const kat_track_result *res);
/* Replaces b's content with the results.jsonl line of `res` (docs/cli.md). */
void kat_cli_format_jsonl(kat_cli_line_buf *b, const kat_track_result *res);
/* Writes the whole line with one write(): 0, or -1 (errno set; also when b overflowed). */
int kat_cli_write_line(int fd, const kat_cli_line_buf *b);
/* Opens (creating, truncating) `dir`/`name` for appending whole lines; on failure returns -1
 * with "cannot write '<path>': <reason>" in why[why_size]. The caller closes the descriptor. */
int kat_cli_open_out(const char *dir, const char *name, char *why, size_t why_size);

#endif /* KAT_CLI_RESULTS_H */
