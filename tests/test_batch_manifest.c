/*
 * Batch manifests (src/tools/batch/batch.h): hand-written JSONL and CSV files with comments, CRLF
 * line ends, quoted CSV fields, relative paths, inline and file prompts, and broken lines, which
 * must stay entries (with their message) so that indices, and so shards, do not move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/batch/batch.h"
#include "kat_test.h"

static char g_dir[256];

static void write_file(const char *name, const char *text, char *path, size_t size) {
  snprintf(path, size, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  KAT_CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static kat__batch_manifest *read_ok(const char *name, const char *text) {
  char path[512], err[512] = "";
  kat__batch_manifest *m = NULL;
  write_file(name, text, path, sizeof path);
  int rc = kat__batch_manifest_read(path, &m, err, sizeof err);
  if (rc) fprintf(stderr, "unexpected: %s\n", err);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  return m;
}

KAT_TEST(test_jsonl) {
  kat__batch_manifest *m = read_ok(
      "m.jsonl",
      "# comment\n"
      "\n"
      "{\"id\": \"a\", \"source\": \"clips/a.mp4\", \"box\": [1, 2, 3.5, 4], \"frames\": 9}\r\n"
      "{\"source\": \"rtsp://cam/1\", \"points\": [[5, 6], [7, 8, 0]]}\n"
      "{\"id\": \"c\", \"source\": \"/abs/c\", \"prompts\": [{\"frame\": 3, \"obj\": 2, \"box\": "
      "[0, 0, 5, 5]}, {\"frame\": 0, \"obj\": 1, \"points\": [[1, 1, 1]]}], \"groundtruth\": "
      "\"gt.txt\"}\n"
      "{\"id\": \"d\", \"source\": \"x\", \"box\": [1, 2, 3], \"extra\": 1}\n"
      "{not json}\n"
      "{\"id\": \"f\", \"source\": \"x\", \"box\": [1, 1, 1, 1], \"points\": [[1, 1]]}\n"
      "{\"id\": \"../up\", \"source\": \"x\", \"box\": [1, 1, 1, 1]}\n"
      "{\"id\": \"a\", \"source\": \"y\", \"box\": [1, 1, 1, 1]}\n"
      "{\"id\": \"i/x\", \"source\": \"x\", \"box\": [1, 1, 1, 1]}\n"
      "{\"id\": \"i\", \"source\": \"x\", \"prompts\": \"p.json\", \"selection\": \"sam3\"}\n"
      "{\"id\": \"j\", \"source\": \"x\", \"box\": [1, 1, 0, 1]}");
  if (!m) return;
  KAT_CHECK_INT_EQ(kat__batch_manifest_count(m), 11);
  const kat__batch_entry *e = kat__batch_manifest_entry(m, 0);
  KAT_CHECK_STR_EQ(e->id, "a");
  KAT_CHECK_INT_EQ(e->line, 3);
  KAT_CHECK(e->error == NULL);
  char want[512];
  snprintf(want, sizeof want, "%s/clips/a.mp4", g_dir);
  KAT_CHECK_STR_EQ(e->source, want);
  KAT_CHECK_INT_EQ(e->max_frames, 9);
  KAT_CHECK(e->prompts && e->prompts->count == 1);
  if (!e->prompts) return;
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.has_box, 1);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].frame, 0);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].obj_id, 0);
  KAT_CHECK_NEAR(e->prompts->entries[0].prompt.box[2], 3.5, 0);
  e = kat__batch_manifest_entry(m, 1);
  KAT_CHECK_STR_EQ(e->id, "000001");
  KAT_CHECK_STR_EQ(e->source, "rtsp://cam/1");
  KAT_CHECK(e->prompts && e->prompts->count == 1);
  if (!e->prompts) return;
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.has_box, 0);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.n_points, 2);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.labels[0], 1); /* label defaults to 1 */
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.labels[1], 0);
  KAT_CHECK_NEAR(e->prompts->entries[0].prompt.points[1][0], 7.0, 0);
  e = kat__batch_manifest_entry(m, 2);
  KAT_CHECK_STR_EQ(e->source, "/abs/c");
  KAT_CHECK(e->prompts && e->prompts->count == 2);
  if (!e->prompts) return;
  KAT_CHECK_INT_EQ(e->prompts->entries[0].frame, 3);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].obj_id, 2);
  KAT_CHECK_INT_EQ(e->prompts->entries[1].obj_id, 1);
  KAT_CHECK_INT_EQ(e->prompts->entries[1].prompt.n_points, 1);
  KAT_CHECK(e->groundtruth && strstr(e->groundtruth, "/gt.txt"));
  e = kat__batch_manifest_entry(m, 3);
  KAT_CHECK_STR_EQ(e->id, "d"); /* a broken line keeps a valid id: its ERROR goes there */
  KAT_CHECK(e->error && strstr(e->error, "[x, y, w, h]"));
  e = kat__batch_manifest_entry(m, 4);
  KAT_CHECK_STR_EQ(e->id, "000004");
  KAT_CHECK(e->error && strstr(e->error, "1:2"));
  KAT_CHECK(e->source == NULL);
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 5)->error, "exactly one of");
  e = kat__batch_manifest_entry(m, 6);
  KAT_CHECK_STR_EQ(e->id, "000006"); /* an unsafe id is not used as a folder name */
  KAT_CHECK_CONTAINS(e->error, "not start with");
  e = kat__batch_manifest_entry(m, 7);
  KAT_CHECK_STR_EQ(e->id, "dup-000007");
  KAT_CHECK_CONTAINS(e->error, "also the id of line 3");
  e = kat__batch_manifest_entry(m, 8);
  KAT_CHECK_STR_EQ(e->id, "000008");
  KAT_CHECK_CONTAINS(e->error, "may hold only");
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 9)->error, "samurai or sam2");
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 10)->error, "no area");
  KAT_CHECK(kat__batch_manifest_entry(m, 11) == NULL);
  kat__batch_manifest_destroy(m);
}

KAT_TEST(test_csv) {
  kat__batch_manifest *m = read_ok("m.txt", /* no extension: sniffed as CSV */
                                   "id,source,box,points,frames\r\n"
                                   "a,\"dir with, comma/v.mp4\",\"1,2,3,4\",,\r\n"
                                   "b,v.mp4,,\"1 2 1;3 4 0\",7\r\n"
                                   "c,v.mp4,1 2 3 4,,\r\n"
                                   "d,v.mp4,\"1,2,3,4\"\r\n"
                                   "e,\"unclosed,1 2 3 4,,\r\n"
                                   "f,v.mp4,\"1,2,3,x\",,\r\n"
                                   "g,v.mp4,,,0\r\n");
  if (!m) return;
  KAT_CHECK_INT_EQ(kat__batch_manifest_count(m), 7);
  const kat__batch_entry *e = kat__batch_manifest_entry(m, 0);
  KAT_CHECK(e->error == NULL);
  KAT_CHECK(e->source && strstr(e->source, "/dir with, comma/v.mp4"));
  KAT_CHECK(e->prompts && e->prompts->count == 1);
  if (!e->prompts) return;
  KAT_CHECK_NEAR(e->prompts->entries[0].prompt.box[3], 4.0, 0);
  e = kat__batch_manifest_entry(m, 1);
  KAT_CHECK(e->error == NULL);
  KAT_CHECK(e->prompts && e->prompts->count == 1);
  if (!e->prompts) return;
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.n_points, 2);
  KAT_CHECK_NEAR(e->prompts->entries[0].prompt.points[1][1], 4.0, 0);
  KAT_CHECK_INT_EQ(e->prompts->entries[0].prompt.labels[1], 0);
  KAT_CHECK_INT_EQ(e->max_frames, 7);
  KAT_CHECK(kat__batch_manifest_entry(m, 2)->error == NULL);
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 3)->error, "3 fields, the header has 5");
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 4)->error, "not closed");
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 5)->error, "must be x,y,w,h");
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 6)->error, "frames");
  kat__batch_manifest_destroy(m);
}

KAT_TEST(test_file_errors_and_prompts) {
  char path[512], err[512] = "";
  kat__batch_manifest *m = (kat__batch_manifest *)&m;
  snprintf(path, sizeof path, "%s/none.jsonl", g_dir);
  KAT_CHECK_INT_EQ(kat__batch_manifest_read(path, &m, err, sizeof err), KAT_ENOENT);
  KAT_CHECK(m == NULL);
  KAT_CHECK_CONTAINS(err, "none.jsonl");
  write_file("h.csv", "source,colour\nx,red\n", path, sizeof path);
  KAT_CHECK_INT_EQ(kat__batch_manifest_read(path, &m, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "column 'colour'");
  write_file("h2.csv", "id,box\nx,1 1 1 1\n", path, sizeof path);
  KAT_CHECK_INT_EQ(kat__batch_manifest_read(path, &m, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "no 'source'");
  m = read_ok("empty.jsonl", "");
  KAT_CHECK_INT_EQ(kat__batch_manifest_count(m), 0);
  kat__batch_manifest_destroy(m);
  kat__batch_manifest_destroy(NULL);

  /* A manifest line's inline prompts and a prompts file go through one parser: the same bad
   * entry (hand-written here, not from our exporter) gets the same status and message. */
  const char *bad =
      "[{\"frame\": 0, \"obj\": 0, \"box\": [1, 2, 3, 4]}, {\"frame\": 2, \"obj\": 1, "
      "\"points\": [[1, 2, 1]], \"colour\": 3}]";
  kat_prompt_list *pl = (kat_prompt_list *)&pl;
  write_file("p.json", bad, path, sizeof path);
  KAT_CHECK_INT_EQ(kat_prompts_load(path, &pl, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK(pl == NULL);
  KAT_CHECK_CONTAINS(err, "prompt 1: unknown key 'colour'");
  char line[512];
  snprintf(line, sizeof line, "{\"source\": \"v.mp4\", \"prompts\": %s}\n", bad);
  m = read_ok("m.jsonl", line);
  if (!m) return;
  const char *why = kat__batch_manifest_entry(m, 0)->error;
  KAT_CHECK_CONTAINS(why, "prompt 1: unknown key 'colour'");
  KAT_CHECK(why && strstr(err, strstr(why, "prompt 1")) != NULL);
  kat__batch_manifest_destroy(m);
  /* More clicks than the tracker takes are refused when the manifest is read. */
  m = read_ok("m.jsonl",
              "{\"source\": \"v\", \"points\": [[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],"
              "[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1],[1,1]]}\n");
  if (!m) return;
  KAT_CHECK_CONTAINS(kat__batch_manifest_entry(m, 0)->error, "1 to 16");
  kat__batch_manifest_destroy(m);
}

static void cleanup_dir(void) {
  const char *names[] = {"m.jsonl", "m.txt", "h.csv", "h2.csv", "empty.jsonl", "p.json"};
  char path[512];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", g_dir, names[i]);
    unlink(path);
  }
  rmdir(g_dir);
}

static void setup(void) {
  snprintf(g_dir, sizeof g_dir, "%s/kat_test_batch_XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  KAT_CHECK(mkdtemp(g_dir) != NULL);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_jsonl), KAT_CASE(test_csv),
              KAT_CASE(test_file_errors_and_prompts), KAT_TEARDOWN(cleanup_dir))
