/*
 * Data-file lookup: where the default model bundle lies, for kat_default_model_path().
 *
 * Thread-safety: the functions here are reentrant; kat_default_model_path() itself computes its
 * answer once (pthread_once) and may be called from any thread.
 */
#ifndef KAT_RUNTIME_PATHS_H
#define KAT_RUNTIME_PATHS_H

#include <stddef.h>

/*
 * Resolves the default model folder for a katana object (libkatana.so, or the program that links
 * libkatana.a) at `object_path`, with `env_dir` the value of KATANA_MODEL_DIR (NULL or "" when
 * unset). Candidates, first match wins, each accepted only when it holds a katana.json:
 *   1. env_dir (when set, it is the only candidate: a wrong override is not silently replaced);
 *   2. <object folder>/KAT_LIB_TO_MODELS and <object folder>/KAT_BIN_TO_MODELS (installed);
 *   3. the source tree's models/default, only when the object lies inside this build tree.
 * Writes the canonical (realpath) folder into `out` (`out_size` bytes, caller-owned) and returns
 * 0, or returns -1 with `out` set to "" when none matches or the path does not fit.
 */
int kat__model_dir_resolve(const char *object_path, const char *env_dir, char *out,
                           size_t out_size);

#endif /* KAT_RUNTIME_PATHS_H */
