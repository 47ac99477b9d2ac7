/*
 * Batch manifests: the list of videos `katana batch` runs, one line per video (docs/batch.md).
 *
 * A manifest is JSONL (one JSON object per line) or CSV (a header row naming the columns). Each
 * non-blank line that does not start with '#' is one entry; entries are numbered from 0 in file
 * order, and that index is what sharding uses (index % N == I). A line that cannot be used (a
 * syntax error, a missing source, a bad box, a duplicate id) is still an entry: its `error` says
 * why, so the batch records it as that line's failure and goes on (a line whose id an earlier
 * line already has gets the id dup-<index as 6 digits>, so its ERROR has a folder of its own). Only
 * a problem with the file as a whole (unreadable, too large, a CSV header with an unknown column)
 * fails the read.
 *
 * Fields (JSONL key = CSV column): id (folder name of the results, [A-Za-z0-9._-], at most 64
 * characters, not starting with '.'; default: the index as 6 digits), source (required: a video,
 * a frame folder or a URL), box [x,y,w,h] (CSV: "x,y,w,h" or "x y w h"), points [[x,y,label],...]
 * (CSV: "x y label;x y label"), prompts (a prompts file, or in JSONL an inline list in the
 * format of `katana track --prompts`: [{"frame":0,"obj":0,"box":[x,y,w,h]}, {"frame":0,"obj":1,
 * "points":[[x,y,1]]}]), groundtruth (a LaSOT box file, for the report's scores), frames (stop
 * after N frames), selection (samurai or sam2). Exactly one of box, points and prompts. Relative
 * paths (source, prompts, groundtruth) are relative to the manifest's folder; a source with
 * "://" is a URL and is kept as written.
 *
 * Thread-safety: a manifest is immutable once read; several threads may read it at once.
 */
#ifndef KATANA_BATCH_H
#define KATANA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kat_batch_prompt_kind {
  KAT_BATCH_PROMPT_BOX = 0,   /* box[4] */
  KAT_BATCH_PROMPT_POINTS = 1 /* points[n_points * 3] */
} kat_batch_prompt_kind;

/* One prompt: a box or clicks for object `obj` on frame `frame`. */
typedef struct kat_batch_prompt {
  int64_t frame;              /* 0-based frame index the prompt applies to */
  int obj;                    /* object id, >= 0 */
  kat_batch_prompt_kind kind; /* which of box / points is set */
  double box[4];              /* x, y, w, h in source pixels (w, h > 0) */
  size_t n_points;            /* number of clicks */
  const double *points;       /* [n_points, 3] f64: x, y, label (1 positive, 0 negative) */
} kat_batch_prompt;

/* One manifest line. Every pointer is owned by the manifest (or by the kat_batch_prompts_read
 * result) and valid until it is destroyed. */
typedef struct kat_batch_entry {
  size_t index;                    /* 0-based among entries: the shard key */
  int64_t line;                    /* 1-based line number in the file */
  const char *id;                  /* the results folder's name (never NULL) */
  const char *source;              /* NULL only when `error` is set */
  const char *prompts_file;        /* a prompts file to read, or NULL */
  const char *groundtruth;         /* a LaSOT box file, or NULL */
  const char *selection;           /* "samurai", "sam2" or NULL (the default) */
  int64_t max_frames;              /* 0: all frames */
  size_t n_prompts;                /* inline prompts (box, points or a prompts list) */
  const kat_batch_prompt *prompts; /* [n_prompts] */
  const char *error;               /* NULL, or why the line cannot run */
} kat_batch_entry;

typedef struct kat_batch_manifest kat_batch_manifest;

/*
 * Reads the manifest at `path`: JSONL when the name ends in .jsonl/.ndjson/.json, CSV when it ends
 * in .csv, otherwise JSONL if the first non-blank character is '{' and CSV if not. On success
 * *out owns the manifest (free with kat_batch_manifest_destroy). Fails with KAT_ENOENT/KAT_EIO
 * (unreadable), KAT_EFORMAT (too large: over 64 MiB or 1,000,000 lines; a bad CSV header) or
 * KAT_ENOMEM, the message in err[err_size], *out NULL. Thread-safe (no shared state).
 */
KAT_API int kat_batch_manifest_read(const char *path, kat_batch_manifest **out, char *err,
                                    size_t err_size);
/* Number of entries. */
KAT_API size_t kat_batch_manifest_count(const kat_batch_manifest *m);
/* Entry i (i < count), borrowed from the manifest; NULL when out of range. */
KAT_API const kat_batch_entry *kat_batch_manifest_entry(const kat_batch_manifest *m, size_t i);
/* Frees the manifest and everything it owns; NULL is a no-op. */
KAT_API void kat_batch_manifest_destroy(kat_batch_manifest *m);

/*
 * Reads a prompts file (a JSON list, the format above). On success *out is an array of *n
 * prompts owned by the caller (free with kat_batch_prompts_free). KAT_ENOENT/KAT_EIO/
 * KAT_EFORMAT/KAT_ENOMEM with the message otherwise. Thread-safe.
 */
KAT_API int kat_batch_prompts_read(const char *path, kat_batch_prompt **out, size_t *n, char *err,
                                   size_t err_size);
/* Frees what kat_batch_prompts_read returned; NULL is a no-op. */
KAT_API void kat_batch_prompts_free(kat_batch_prompt *prompts, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* KATANA_BATCH_H */
