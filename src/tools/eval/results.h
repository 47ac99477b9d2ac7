/*
 * Readers for evaluation inputs: LaSOT-style box files, katana results folders (boxes.txt,
 * results.jsonl, masks/NNNNN.png) and folders of mask PNGs, into a kat__eval_seq.
 *
 * Errors are written as one line ("path:line: what") into a caller buffer `err` of `err_size`
 * bytes (may be NULL), and the function returns a negative kat_status.
 */
#ifndef KAT_EVAL_RESULTS_H
#define KAT_EVAL_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/eval/eval.h"

/* The highest frame number the readers accept (a 5-hour video at 100 fps); bigger numbers in a
 * mask file name or a results.jsonl "frame" are KAT_EFORMAT rather than a giant allocation. */
#define KAT_EVAL_MAX_FRAME 1999999

/* The sequence behind the public opaque handle. Every array has `frames` entries or is NULL. */
struct kat__eval_seq {
  size_t frames;
  kat__eval_box *boxes; /* [frames] owned; NaN or invalid where absent/unknown; NULL if no boxes */
  char **mask_paths;    /* [frames] owned strings, NULL entries for frames without a mask file;
                           the array is NULL if the source has no masks */
  size_t mask_count;    /* non-NULL entries of mask_paths */
  int *candidates;      /* [frames] owned; -1 unknown; NULL if no frame reported a candidate */
  const char *box_source; /* static string */
  int object_id;          /* mask foreground selector (see kat__eval_seq_load) */
  size_t absent_flags;    /* frames made absent by full_occlusion.txt / out_of_view.txt */
};

/* Formats a message into err (if not NULL) and returns `status`. */
int kat__eval_error(char *err, size_t err_size, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Parses a LaSOT-style box file held in text[0..len): one box "x,y,w,h" per line, numbers
 * separated by commas and/or blanks (space, tab), CRLF accepted; "nan" (any case) for a missing
 * value. Trailing blank lines are ignored; a blank line before the last box, a line without
 * exactly four numbers, or an infinite value is an error naming `name` and the 1-based line.
 * On success *boxes is a kat__malloc'ed [*count] array (caller frees with kat__free; NULL when
 * the file has no line). Returns 0, KAT_EFORMAT or KAT_ENOMEM.
 */
int kat__boxfile_parse(const char *text, size_t len, const char *name, kat__eval_box **boxes,
                       size_t *count, char *err, size_t err_size);

/*
 * Parses a LaSOT flag file (full_occlusion.txt, out_of_view.txt): `count` 0/1 values separated
 * by commas or blanks, into flags[0..count). A different number of values, or anything but 0 and
 * 1, is KAT_EFORMAT naming `name` (and the line).
 */
int kat__flags_parse(const char *text, size_t len, const char *name, uint8_t *flags, size_t count,
                     char *err, size_t err_size);

/*
 * One record of results.jsonl. Each line is a JSON object; the reader looks at "frame" (integer,
 * default: the line's 0-based index among non-blank lines), "box" ([x,y,w,h] or null),
 * "present" (false marks the box absent) and "candidate" (integer or null), and skips every other
 * member. Each line is parsed by the one strict JSON parser (model/json.h: RFC 8259, duplicate keys
 * rejected); its messages name the file, the line and the column.
 */
typedef struct kat__jsonl_record {
  long long frame;
  bool has_box;
  kat__eval_box box; /* NaN when present is false or box is null */
  int candidate;     /* -1 if absent */
} kat__jsonl_record;

/*
 * Parses results.jsonl text. On success *records is a kat__malloc'ed [*count] array (caller
 * frees). Returns 0, KAT_EFORMAT (with name:line) or KAT_ENOMEM.
 */
int kat__jsonl_parse(const char *text, size_t len, const char *name, kat__jsonl_record **records,
                     size_t *count, char *err, size_t err_size);

/* dir + "/" + name (no second slash) in a kat__malloc'ed string (caller frees); NULL on ENOMEM. */
char *kat__eval_path_join(const char *dir, const char *name);

/* Reads a whole file into a kat__malloc'ed, NUL-terminated buffer (caller frees). */
int kat__read_file(const char *path, char **data, size_t *len, char *err, size_t err_size);

/*
 * A reusable binary-mask buffer: `data` is [h,w] u8, 1 = foreground, 0 = background. The
 * buffers grow as needed and are reused across reads; release with kat__mask_buf_cleanup().
 */
typedef struct kat__mask_buf {
  uint8_t *data; /* [h,w] u8 */
  size_t w, h;
  size_t data_cap; /* bytes */
  uint8_t *raw;    /* decoded PNG rows, [h,rowbytes] */
  size_t raw_cap;
  void **rows; /* [h] row pointers into raw */
  size_t rows_cap;
} kat__mask_buf;

void kat__mask_buf_cleanup(kat__mask_buf *mb);

/*
 * Reads a PNG mask into mb. Palette and grayscale images (1-16 bits): foreground is a non-zero
 * value when object_id is 0, else the value == object_id (palette index, or gray level after
 * 16-bit samples are cut to 8). RGB(A): foreground is any non-zero color channel; object_id > 0
 * is refused. Alpha is ignored. Returns 0, KAT_ENOENT, KAT_EFORMAT or KAT_ENOMEM.
 */
int kat__mask_read_png(const char *path, int object_id, kat__mask_buf *mb, char *err,
                       size_t err_size);

/*
 * Lists the masks in `dir`: files named <digits>.png (the digits are the frame number). Fills
 * *paths with a kat__malloc'ed [*frames] array of owned paths (NULL where no file), *frames =
 * highest number + 1, *count = number of files. Returns 0 (also for a folder with no mask: then
 * *paths is NULL and *frames 0), KAT_ENOENT or KAT_ENOMEM.
 */
int kat__mask_dir_list(const char *dir, char ***paths, size_t *frames, size_t *count, char *err,
                       size_t err_size);

/* Frees a path array from kat__mask_dir_list(). */
void kat__mask_paths_free(char **paths, size_t frames);

#endif /* KAT_EVAL_RESULTS_H */
