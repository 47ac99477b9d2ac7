/*
 * Tests for the default-model lookup (runtime/paths.h, kat_default_model_path): hand-made
 * install layouts in a temporary folder (lib/ and bin/ beside share/katana/models/default), the
 * KATANA_MODEL_DIR override that is never silently replaced, folders without a katana.json, a
 * buffer too small, and the build tree's answer (the source tree's models/default).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "kat_paths.h"
#include "kat_test.h"
#include "katana/runtime.h"
#include "runtime/paths.h"

static char g_root[PATH_MAX];

static void make_dirs(const char *path) {
  char buf[PATH_MAX];
  kat__strlcpy(buf, path, sizeof buf);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

static void touch(const char *path) {
  FILE *f = fopen(path, "w");
  KAT_CHECK(f != NULL);
  if (f) {
    fputs("{}\n", f);
    fclose(f);
  }
}

/* out = a/b; a path that does not fit fails the test. */
static void join(char *out, const char *a, const char *b) {
  int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
  KAT_CHECK(n > 0 && n < PATH_MAX);
}

/* <root>/prefix/{lib,bin} and the model folder named by the configured install layout. */
static void make_prefix(char *models) {
  char lib[PATH_MAX], rel[PATH_MAX], manifest[PATH_MAX];
  join(lib, g_root, "prefix/lib");
  make_dirs(lib);
  join(rel, lib, KAT_LIB_TO_MODELS);
  make_dirs(rel);
  join(manifest, rel, "katana.json");
  touch(manifest);
  KAT_CHECK(realpath(rel, models) != NULL);
}

KAT_TEST(test_installed_layout) {
  char models[PATH_MAX], obj[PATH_MAX], out[PATH_MAX];
  make_prefix(models);
  join(obj, g_root, "prefix/lib/libkatana.so.0");
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, NULL, out, sizeof out), 0);
  KAT_CHECK_STR_EQ(out, models);
  /* A statically linked program in <prefix>/bin finds the same folder. */
  char bin[PATH_MAX];
  join(bin, g_root, "prefix/bin");
  make_dirs(bin);
  join(obj, bin, "myapp");
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, "", out, sizeof out), 0);
  KAT_CHECK_STR_EQ(out, models);
  /* Too small a buffer is a failure with an empty string, never a truncated path. */
  char small[8];
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, NULL, small, sizeof small), -1);
  KAT_CHECK_STR_EQ(small, "");
}

KAT_TEST(test_no_model) {
  char obj[PATH_MAX], out[PATH_MAX], dir[PATH_MAX];
  /* A program outside any prefix and outside the build tree has no default model. */
  join(dir, g_root, "elsewhere/bin");
  make_dirs(dir);
  join(obj, dir, "prog");
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, NULL, out, sizeof out), -1);
  KAT_CHECK_STR_EQ(out, "");
  /* A model folder without katana.json does not count. */
  char rel[PATH_MAX];
  join(dir, g_root, "nomanifest/lib");
  make_dirs(dir);
  join(rel, dir, KAT_LIB_TO_MODELS);
  make_dirs(rel);
  join(obj, dir, "libkatana.so");
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, NULL, out, sizeof out), -1);
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(NULL, NULL, out, sizeof out), -1);
  KAT_CHECK_INT_EQ(kat__model_dir_resolve("", NULL, out, sizeof out), -1);
}

KAT_TEST(test_env_override) {
  char models[PATH_MAX], obj[PATH_MAX], out[PATH_MAX], env[PATH_MAX], manifest[PATH_MAX];
  make_prefix(models);
  join(obj, g_root, "prefix/lib/libkatana.so");
  join(env, g_root, "custom");
  make_dirs(env);
  /* An override without katana.json fails even though the installed model exists. */
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, env, out, sizeof out), -1);
  join(manifest, env, "katana.json");
  touch(manifest);
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, env, out, sizeof out), 0);
  char real[PATH_MAX];
  KAT_CHECK(realpath(env, real) != NULL);
  KAT_CHECK_STR_EQ(out, real);
  /* A relative override is returned canonical. */
  char cwd[PATH_MAX];
  KAT_CHECK(getcwd(cwd, sizeof cwd) != NULL);
  KAT_CHECK_INT_EQ(chdir(g_root), 0);
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(obj, "custom", out, sizeof out), 0);
  KAT_CHECK_STR_EQ(out, real);
  KAT_CHECK_INT_EQ(chdir(cwd), 0);
}

KAT_TEST(test_build_tree) {
  char src_models[PATH_MAX], out[PATH_MAX];
  if (!realpath(KAT_SOURCE_MODEL_DIR, src_models))
    KAT_SKIP("the source tree has no models/default");
  /* Objects inside the build tree use the source tree's model; a sibling folder does not. */
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(KAT_BUILD_DIR "/tests/test_x", NULL, out, sizeof out), 0);
  KAT_CHECK_STR_EQ(out, src_models);
  KAT_CHECK_INT_EQ(kat__model_dir_resolve(KAT_BUILD_DIR "-other/bin/katana", NULL, out, sizeof out),
                   -1);
  /* This test program lies in the build tree, so the public call answers the same. */
  if (getenv("KATANA_MODEL_DIR")) KAT_SKIP("KATANA_MODEL_DIR is set in the environment");
  const char *p = kat_default_model_path();
  KAT_CHECK(p != NULL);
  if (p) KAT_CHECK_STR_EQ(p, src_models);
  KAT_CHECK(kat_default_model_path() == p); /* the same static string every time */
}

static void remove_tree(void) {
  char cmd[PATH_MAX + 16];
  int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
  if (n < 0 || (size_t)n >= sizeof cmd || system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", g_root);
}

static void setup(void) {
  snprintf(g_root, sizeof g_root, "/tmp/kat_test_paths.XXXXXX");
  if (!mkdtemp(g_root)) KAT_SKIP("cannot create a temporary folder");
  atexit(remove_tree);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_installed_layout), KAT_CASE(test_no_model),
              KAT_CASE(test_env_override), KAT_CASE(test_build_tree))
