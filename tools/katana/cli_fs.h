/*
 * File-system helpers of the CLI: identity of paths (the same file through a symlink or a '..'
 * path), containment of folders, mkdir -p, and the removal of a previous run's outputs. They keep
 * katana from writing over its inputs or deleting files it did not write.
 *
 * Thread-safety: plain functions; they touch the file system, nothing else.
 */
#ifndef KAT_CLI_FS_H
#define KAT_CLI_FS_H

#include <stddef.h>

/*
 * Canonical absolute form of `path` in out[out_size]: realpath() of its longest existing prefix
 * followed by the rest (with '.' and '..' resolved), so paths that do not exist yet compare too.
 * 0, or -1 when it cannot be resolved.
 */
int kat_cli_path_canon(const char *path, char *out, size_t out_size);
/* 1 when a and b name the same file: the same (st_dev, st_ino) if both exist, else the same
 * canonical path. */
int kat_cli_same_file(const char *a, const char *b);
/* 1 when `path` is `dir` or lies inside it (canonical paths). */
int kat_cli_path_within(const char *path, const char *dir);
/* 1 when `path` is an existing directory / regular file. */
int kat_cli_is_dir(const char *path);
int kat_cli_is_file(const char *path);
/* mkdir -p: 0 when `dir` exists as a folder afterwards, else -1 with errno set. */
int kat_cli_mkdirs(const char *dir);

/* The marker file katana track writes into every results folder it owns. */
#define KAT_CLI_OUT_MARKER ".katana-track"

/*
 * Whether `dir` may receive katana track's outputs: 0 when it does not exist, holds none of the
 * names katana writes (boxes.txt, results.jsonl, masks/NNNNN.png, tracks.txt), or was written
 * by katana track (it holds KAT_CLI_OUT_MARKER or results.jsonl), and every objects/<id>/ folder
 * in it passes the same check. -1 with the reason otherwise: then clearing it would delete files
 * katana did not write.
 */
int kat_cli_out_check(const char *dir, char *why, size_t why_size);
/*
 * Removes the previous run's outputs from `dir` (checked with kat_cli_out_check first):
 * boxes.txt, results.jsonl and masks/<digits>.png, then masks/ itself when that leaves it empty;
 * tracks.txt and, in each objects/<id>/ folder, the same files and the marker, then the folder
 * and objects/ when that leaves them empty (a run with fewer objects leaves no stale folder).
 * Nothing else is touched. Writes the marker. 0, or -1 with the reason.
 */
int kat_cli_out_clear(const char *dir, char *why, size_t why_size);

#endif /* KAT_CLI_FS_H */
