/*
 * kat_prompts_load (include/katana/prompts.h): hand-written prompt files in a temporary folder,
 * every kind of entry read back field by field, a mask PNG written by the public mask writer and
 * resolved relative to the JSON file, and each refusal with its status and the entry index.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kat_test.h"
#include "katana/katana.h"

static char g_dir[64];

static const char *write_text(const char *name, const char *text) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  KAT_CHECK(f != NULL);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  return path;
}

KAT_TEST(test_valid_file) {
  /* A 6x4 mask with 3 object pixels as masks/00007.png next to the JSON file. */
  uint8_t m[4 * 6] = {0};
  m[1 * 6 + 2] = m[2 * 6 + 2] = m[2 * 6 + 3] = 255;
  char masks[128], err[KAT_ERROR_SIZE];
  snprintf(masks, sizeof masks, "%s/masks", g_dir);
  KAT_CHECK_INT_EQ(mkdir(masks, 0777), 0);
  KAT_CHECK_INT_EQ(kat_mask_png_write(masks, 7, m, 6, 4, 6, err, sizeof err), KAT_OK);
  const char *p =
      write_text("ok.json",
                 "[{\"frame\": 0, \"obj\": 0, \"box\": [10.5, 20, 30, 40]},\n"
                 " {\"obj\": 1, \"frame\": 0, \"points\": [[1, 2, 1], [3.25, 4, 0]]},\n"
                 " {\"frame\": 0, \"obj\": 1, \"points\": [[5, 6, 1]], \"append\": true},\n"
                 " {\"frame\": 24, \"obj\": 0, \"box\": [1, 2, 3, 4], \"points\": [[2, 3, 0]]},\n"
                 " {\"frame\": 30, \"obj\": 2, \"mask\": \"masks/00007.png\"}]\n");
  kat_prompt_list *l = NULL;
  int rc = kat_prompts_load(p, &l, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (!l) return;
  KAT_CHECK_INT_EQ((int)l->count, 5);
  const kat_prompt_entry *e = l->entries;
  KAT_CHECK_INT_EQ((int)e[0].frame, 0);
  KAT_CHECK_INT_EQ(e[0].obj_id, 0);
  KAT_CHECK_INT_EQ(e[0].prompt.has_box, 1);
  KAT_CHECK_NEAR(e[0].prompt.box[0], 10.5, 0);
  KAT_CHECK_NEAR(e[0].prompt.box[3], 40, 0);
  KAT_CHECK_INT_EQ(e[0].prompt.n_points, 0);
  KAT_CHECK_INT_EQ(e[1].obj_id, 1);
  KAT_CHECK_INT_EQ(e[1].prompt.has_box, 0);
  KAT_CHECK_INT_EQ(e[1].prompt.n_points, 2);
  KAT_CHECK_NEAR(e[1].prompt.points[1][0], 3.25, 0);
  KAT_CHECK_INT_EQ(e[1].prompt.labels[0], 1);
  KAT_CHECK_INT_EQ(e[1].prompt.labels[1], 0);
  KAT_CHECK_INT_EQ(e[1].prompt.append, 0);
  KAT_CHECK_INT_EQ(e[2].prompt.append, 1);
  KAT_CHECK_INT_EQ((int)e[3].frame, 24);
  KAT_CHECK_INT_EQ(e[3].prompt.has_box, 1);
  KAT_CHECK_INT_EQ(e[3].prompt.n_points, 1);
  KAT_CHECK_INT_EQ(e[3].prompt.labels[0], 0);
  KAT_CHECK_INT_EQ(e[4].obj_id, 2);
  KAT_CHECK(e[4].prompt.mask != NULL);
  KAT_CHECK_INT_EQ(e[4].prompt.mask_width, 6);
  KAT_CHECK_INT_EQ(e[4].prompt.mask_height, 4);
  int on = 0;
  for (int i = 0; i < 24 && e[4].prompt.mask; i++) on += e[4].prompt.mask[i] != 0;
  KAT_CHECK_INT_EQ(on, 3);
  KAT_CHECK(e[4].prompt.mask && e[4].prompt.mask[2 * 6 + 3] == 255);
  kat_prompts_free(l);
  kat_prompts_free(NULL);
}

static void expect_fail(const char *text, int status, const char *needle) {
  const char *p = write_text("bad.json", text);
  kat_prompt_list *l = (kat_prompt_list *)&l;
  char err[KAT_ERROR_SIZE];
  int rc = kat_prompts_load(p, &l, err, sizeof err);
  KAT_CHECK_INT_EQ(rc, status);
  KAT_CHECK(l == NULL);
  KAT_CHECK_CONTAINS(err, needle);
  KAT_CHECK_CONTAINS(err, "bad.json");
}

KAT_TEST(test_refusals) {
  const char *ok = "{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, 4]}, ";
  char t[512];
  expect_fail("{}", KAT_EFORMAT, "must be a JSON list");
  expect_fail("[]", KAT_EFORMAT, "empty");
  expect_fail("[{\"frame\": 0,", KAT_EFORMAT, "bad.json:1:");
#define BAD(entry, needle)                    \
  snprintf(t, sizeof t, "[%s%s]", ok, entry); \
  expect_fail(t, KAT_EFORMAT, needle)
  BAD("3", "prompt 1: not an object");
  BAD("{\"frame\": -1, \"obj\": 0, \"box\": [1, 2, 3, 4]}", "prompt 1: \"frame\"");
  BAD("{\"frame\": 2.5, \"obj\": 0, \"box\": [1, 2, 3, 4]}", "prompt 1: \"frame\"");
  BAD("{\"obj\": 0, \"box\": [1, 2, 3, 4]}", "prompt 1: \"frame\"");
  BAD("{\"frame\": 0, \"obj\": -1, \"box\": [1, 2, 3, 4]}", "prompt 1: \"obj\"");
  BAD("{\"frame\": 0, \"obj\": true, \"box\": [1, 2, 3, 4]}", "prompt 1: \"obj\"");
  BAD("{\"frame\": 0, \"obj\": 0}", "prompt 1: needs");
  BAD("{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, 4], \"label\": 1}", "unknown key 'label'");
  BAD("{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, -3, 4]}", "prompt 1: \"box\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, \"4\"]}", "prompt 1: \"box\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, 4, 5]}", "prompt 1: \"box\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"points\": [[1, 2, 3]]}", "prompt 1: point 0");
  BAD("{\"frame\": 0, \"obj\": 0, \"points\": [[1, 2, 1], [1, 2]]}", "prompt 1: point 1");
  BAD("{\"frame\": 0, \"obj\": 0, \"points\": [[1, 2, 0.5]]}", "prompt 1: point 0");
  BAD("{\"frame\": 0, \"obj\": 0, \"points\": []}", "prompt 1: \"points\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, 4], \"append\": true}", "\"append\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"points\": [[1, 2, 1]], \"append\": 1}", "\"append\"");
  BAD("{\"frame\": 0, \"obj\": 0, \"mask\": \"m.png\", \"box\": [1, 2, 3, 4]}", "no box or points");
  BAD("{\"frame\": 0, \"obj\": 0, \"mask\": 5}", "\"mask\" must be a file name");
  BAD("{\"frame\": 0, \"obj\": 0, \"mask\": \"absent.png\"}", "prompt 1: mask");
  /* 17 points: one more than a prompt carries. */
  char many[400] = "{\"frame\": 0, \"obj\": 0, \"points\": [";
  for (int i = 0; i <= KAT_MAX_PROMPT_POINTS; i++)
    strncat(many, i ? ", [1, 1, 1]" : "[1, 1, 1]", 20);
  strncat(many, "]}", 3);
  BAD(many, "prompt 1: \"points\"");
#undef BAD
  /* An all-zero mask has no object. */
  uint8_t z[4] = {0};
  char masks[128], err[KAT_ERROR_SIZE];
  snprintf(masks, sizeof masks, "%s/zero", g_dir);
  KAT_CHECK_INT_EQ(mkdir(masks, 0777), 0);
  KAT_CHECK_INT_EQ(kat_mask_png_write(masks, 0, z, 2, 2, 2, err, sizeof err), KAT_OK);
  snprintf(t, sizeof t, "[%s{\"frame\": 0, \"obj\": 0, \"mask\": \"zero/00000.png\"}]", ok);
  expect_fail(t, KAT_EFORMAT, "no object pixel");
  /* The file itself. */
  kat_prompt_list *l = NULL;
  KAT_CHECK_INT_EQ(kat_prompts_load("/nonexistent/p.json", &l, err, sizeof err), KAT_ENOENT);
  KAT_CHECK_CONTAINS(err, "/nonexistent/p.json");
  KAT_CHECK_INT_EQ(kat_prompts_load(NULL, &l, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_prompts_load("x.json", NULL, NULL, 0), KAT_EINVAL);
}

static void setup(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/kat_test_prompts_XXXXXX");
  if (!mkdtemp(g_dir)) {
    fprintf(stderr, "SKIP: cannot create a temporary folder\n");
    exit(77);
  }
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_valid_file), KAT_CASE(test_refusals),
              KAT_TEARDOWN(teardown))
