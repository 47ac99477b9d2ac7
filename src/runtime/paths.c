/*
 * Data-file lookup. An installed libkatana finds its data relative to its own location (dladdr),
 * so a prefix can be moved as a whole; nothing here depends on the checkout once installed. In
 * the build tree the source tree's models/default is used, so tests and `katana track` work
 * before installation.
 */
#include "runtime/paths.h"

#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "kat_paths.h"
#include "katana/runtime.h"

/* Returns 1 when `dir` holds a regular file katana.json, and writes realpath(dir) into `out`. */
static int accept_dir(const char *dir, char *out, size_t out_size) {
  char manifest[PATH_MAX], real[PATH_MAX];
  struct stat st;
  int n = snprintf(manifest, sizeof manifest, "%s/katana.json", dir);
  if (n < 0 || (size_t)n >= sizeof manifest) return 0;
  if (stat(manifest, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  if (!realpath(dir, real)) return 0;
  if (strlen(real) >= out_size) return 0;
  kat__strlcpy(out, real, out_size);
  return 1;
}

/* Tries <folder of object_path>/rel. */
static int try_relative(const char *object_path, const char *rel, char *out, size_t out_size) {
  char cand[PATH_MAX];
  const char *slash = strrchr(object_path, '/');
  if (!slash) return 0;
  int n = snprintf(cand, sizeof cand, "%.*s/%s", (int)(slash - object_path), object_path, rel);
  if (n < 0 || (size_t)n >= sizeof cand) return 0;
  return accept_dir(cand, out, out_size);
}

int kat__model_dir_resolve(const char *object_path, const char *env_dir, char *out,
                           size_t out_size) {
  if (!out || out_size == 0) return -1;
  out[0] = '\0';
  if (env_dir && env_dir[0]) return accept_dir(env_dir, out, out_size) ? 0 : -1;
  if (!object_path || !object_path[0]) return -1;
  if (try_relative(object_path, KAT_LIB_TO_MODELS, out, out_size)) return 0;
  if (try_relative(object_path, KAT_BIN_TO_MODELS, out, out_size)) return 0;
  size_t nb = strlen(KAT_BUILD_DIR);
  if (strncmp(object_path, KAT_BUILD_DIR, nb) == 0 && object_path[nb] == '/' &&
      accept_dir(KAT_SOURCE_MODEL_DIR, out, out_size))
    return 0;
  out[0] = '\0';
  return -1;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_model_dir[PATH_MAX]; /* written once under g_once, then read-only */
static int g_found;

/* The canonical path of the object that holds this module's data: libkatana.so, or the program. */
static void self_path(char *out, size_t out_size) {
  Dl_info info;
  struct link_map *map = NULL;
  char real[PATH_MAX];
  out[0] = '\0';
  /* A shared object's link-map entry has its path; the main program's has "" (then use
   * /proc/self/exe, which, unlike argv[0], does not depend on the working folder). */
  if (dladdr1(g_model_dir, &info, (void **)&map, RTLD_DL_LINKMAP) && map && map->l_name &&
      map->l_name[0] && realpath(map->l_name, real)) {
    kat__strlcpy(out, real, out_size);
    return;
  }
  ssize_t n = readlink("/proc/self/exe", real, sizeof real - 1);
  if (n > 0) {
    real[n] = '\0';
    kat__strlcpy(out, real, out_size);
  }
}

static void find_once(void) {
  char self[PATH_MAX];
  self_path(self, sizeof self);
  g_found = kat__model_dir_resolve(self, getenv("KATANA_MODEL_DIR"), g_model_dir,
                                   sizeof g_model_dir) == 0;
}

const char *kat_default_model_path(void) {
  pthread_once(&g_once, find_once);
  return g_found ? g_model_dir : NULL;
}
