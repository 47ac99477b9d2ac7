/*
 * The batch manifest parser behind kat__batch_manifest_read (src/tools/batch/batch.h), on a buffer,
 * for the reader and the fuzz target.
 *
 * Thread-safety: a plain function; no shared state.
 */
#ifndef KAT_BATCH_LIST_H
#define KAT_BATCH_LIST_H

#include <stddef.h>

#include "tools/batch/batch.h"

/*
 * Parses `len` bytes of `text` as the manifest `path` (its name picks the format and its folder
 * resolves relative paths; nothing is read from it). `text` must hold len + 1 bytes with
 * text[len] == '\0'; it is modified in place and stays the caller's. Results and failures as
 * kat__batch_manifest_read (minus the file errors).
 */
int kat__batch_manifest_parse(char *text, size_t len, const char *path, kat__batch_manifest **out,
                              char *err, size_t err_size);

#endif /* KAT_BATCH_LIST_H */
