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
 * (CSV: "x y label;x y label"; label defaults to 1; at most KAT_MAX_PROMPT_POINTS), prompts (a
 * prompts file, read with kat_prompts_load when the line runs, or in JSONL an inline list parsed
 * by the same code: the format of include/katana/prompts.h, mask paths relative to the
 * manifest's folder), groundtruth (a LaSOT box file, for the report's scores), frames (stop
 * after N frames), selection (samurai or sam2). Exactly one of box, points and prompts. Relative
 * paths (source, prompts, groundtruth) are relative to the manifest's folder; a source with
 * "://" is a URL and is kept as written.
 *
 * Thread-safety: a manifest is immutable once read; several threads may read it at once.
 *
 * UNSTABLE: an internal header of katana_tools (the CLI and the tests), not installed and not part
 * of libkatana's API; it changes without notice.
 */
#ifndef KAT_TOOLS_BATCH_BATCH_H
#define KAT_TOOLS_BATCH_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"
#include "katana/prompts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One manifest line. Every pointer is owned by the manifest and valid until it is destroyed. */
typedef struct kat__batch_entry {
  size_t index;                   /* 0-based among entries: the shard key */
  int64_t line;                   /* 1-based line number in the file */
  const char *id;                 /* the results folder's name (never NULL) */
  const char *source;             /* NULL only when `error` is set */
  const char *prompts_file;       /* a prompts file to read, or NULL */
  const char *groundtruth;        /* a LaSOT box file, or NULL */
  const char *selection;          /* "samurai", "sam2" or NULL (the default) */
  int64_t max_frames;             /* 0: all frames */
  const kat_prompt_list *prompts; /* inline prompts (a box or points: one entry, frame 0, obj
                                     0; or a prompts list), NULL with prompts_file or error */
  const char *error;              /* NULL, or why the line cannot run */
} kat__batch_entry;

typedef struct kat__batch_manifest kat__batch_manifest;

/*
 * Reads the manifest at `path`: JSONL when the name ends in .jsonl/.ndjson/.json, CSV when it ends
 * in .csv, otherwise JSONL if the first non-blank character is '{' and CSV if not. On success
 * *out owns the manifest (free with kat__batch_manifest_destroy). Fails with KAT_ENOENT/KAT_EIO
 * (unreadable), KAT_EFORMAT (too large: over 64 MiB or 1,000,000 lines; a bad CSV header) or
 * KAT_ENOMEM, the message in err[err_size], *out NULL. Thread-safe (no shared state).
 */
int kat__batch_manifest_read(const char *path, kat__batch_manifest **out, char *err,
                             size_t err_size);
/* Number of entries. */
size_t kat__batch_manifest_count(const kat__batch_manifest *m);
/* Entry i (i < count), borrowed from the manifest; NULL when out of range. */
const kat__batch_entry *kat__batch_manifest_entry(const kat__batch_manifest *m, size_t i);
/* Frees the manifest and everything it owns; NULL is a no-op. */
void kat__batch_manifest_destroy(kat__batch_manifest *m);

#ifdef __cplusplus
}
#endif

#endif /* KAT_TOOLS_BATCH_BATCH_H */
