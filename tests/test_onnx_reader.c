/*
 * Tests of the ONNX reader/writer (src/tools/onnx/graph.c) and of the error paths of the public
 * ONNX tools: truncated, garbage and hostile files give KAT_EFORMAT naming the file; external data
 * is read in; rewrite never touches its input. Uses the graphs of scripts/testdata/07-onnx.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kat_test.h"
#include "tools/onnx/onnx.h"
#include "tools/onnx/graph.h"

static char g_tmp[256];

static const char *data(const char *name) {
  static char buf[4][4200];
  static int k;
  const char *p = kat_test_data(name);
  if (!p) KAT_SKIP("KAT_TEST_DATA is not set");
  char *b = buf[k++ & 3];
  snprintf(b, sizeof buf[0], "%s", p);
  return b;
}

static const char *tmp(const char *name) {
  static char buf[4][600];
  static int k;
  char *b = buf[k++ & 3];
  snprintf(b, sizeof buf[0], "%s/%s", g_tmp, name);
  return b;
}

static void spit(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(d, 1, n, f);
  fclose(f);
}

KAT_TEST(test_load_counts) {
  kat__onnx_model *m = NULL;
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__onnx_load(data("onnx/gather_last.onnx"), true, &m, &eb), KAT_OK);
  if (!m) return;
  KAT_CHECK_INT_EQ(m->proto->graph->n_node, 8);
  KAT_CHECK_INT_EQ(kat__onnx_count_op(m->proto->graph, "Gather"), 4);
  KAT_CHECK_INT_EQ(kat__onnx_opset(m, ""), 17);
  kat__onnx_shape s;
  KAT_CHECK(kat__onnx_shape_of(m->proto->graph, "x", &s));
  KAT_CHECK_INT_EQ(s.rank, 3);
  KAT_CHECK_STR_EQ(s.params[0], "B");
  KAT_CHECK_INT_EQ(s.dims[2], 5);
  /* A round trip through the writer parses back to the same graph. */
  uint8_t *buf = NULL;
  size_t n = 0;
  KAT_CHECK_INT_EQ(kat__onnx_serialize(m, &buf, &n, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(n, m->size);
  KAT_CHECK(buf && memcmp(buf, m->bytes, n) == 0);
  kat__free(buf);
  kat__onnx_destroy(m);
}

KAT_TEST(test_truncated_and_garbage) {
  size_t n = 0;
  uint8_t *b = kat_test_read_file(data("onnx/scatter_static.onnx"), &n);
  KAT_CHECK(b != NULL && n > 100);
  if (!b) return;
  int eformat = 0, ok = 0, other = 0;
  for (size_t len = 0; len < n; len += 7) {
    kat__onnx_model *m = NULL;
    kat__errbuf eb = {{0}};
    int rc = kat__onnx_load_buffer(b, len, "trunc.onnx", &m, &eb);
    if (rc == KAT_EFORMAT) {
      eformat++;
      if (eformat == 1) KAT_CHECK_CONTAINS(eb.msg, "trunc.onnx");
    } else if (rc == KAT_OK) {
      ok++; /* a cut exactly between two top-level fields is still a valid message */
    } else {
      other++;
    }
    kat__onnx_destroy(m);
  }
  KAT_CHECK(eformat > 0);
  KAT_CHECK_INT_EQ(other, 0);
  /* Half a file through the public API: KAT_EFORMAT with the file name. */
  spit(tmp("half.onnx"), b, n / 2);
  char err[1024], *rep = NULL;
  KAT_CHECK_INT_EQ(kat__onnx_inspect(tmp("half.onnx"), &rep, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "half.onnx");
  kat__onnx_free(rep);
  KAT_CHECK_INT_EQ(
      kat__onnx_rewrite(tmp("half.onnx"), tmp("half.out.onnx"), NULL, &rep, err, sizeof err),
      KAT_EFORMAT);
  KAT_CHECK(access(tmp("half.out.onnx"), F_OK) != 0);
  kat__onnx_free(rep);
  /* Seeded garbage. */
  uint64_t s = 42;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    b[i] = (uint8_t)(s >> 56);
  }
  spit(tmp("garbage.onnx"), b, n);
  KAT_CHECK_INT_EQ(kat__onnx_inspect(tmp("garbage.onnx"), &rep, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "garbage.onnx");
  kat__onnx_free(rep);
  spit(tmp("empty.onnx"), b, 0);
  KAT_CHECK_INT_EQ(kat__onnx_inspect(tmp("empty.onnx"), &rep, err, sizeof err), KAT_EFORMAT);
  kat__onnx_free(rep);
  KAT_CHECK_INT_EQ(kat__onnx_inspect(tmp("does-not-exist.onnx"), &rep, err, sizeof err),
                   KAT_ENOENT);
  kat__onnx_free(rep);
  free(b);
}

/* Appends a length-delimited field `num` holding `len` bytes (already at b + at) in front. */
static size_t wrap(uint8_t *b, size_t cap, size_t start, size_t len, unsigned num) {
  uint8_t hdr[16];
  size_t h = 0;
  hdr[h++] = (uint8_t)(num << 3 | 2);
  size_t v = len;
  do {
    hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  if (start < h || start > cap) return (size_t)-1;
  memcpy(b + start - h, hdr, h);
  return start - h;
}

KAT_TEST(test_deep_nesting) {
  /* Model.graph -> Graph.node -> Node.attribute -> Attribute.g -> ... 3000 levels deep. */
  size_t cap = 1 << 16, start = cap;
  uint8_t *b = calloc(cap, 1);
  for (int level = 0; level < 3000 && start != (size_t)-1; level++) {
    start = wrap(b, cap, start, cap - start, 6); /* Attribute.g = the graph so far */
    if (start == (size_t)-1) break;
    start = wrap(b, cap, start, cap - start, 5); /* Node.attribute */
    if (start == (size_t)-1) break;
    start = wrap(b, cap, start, cap - start, 1); /* Graph.node */
  }
  KAT_CHECK(start != (size_t)-1);
  if (start == (size_t)-1) {
    free(b);
    return;
  }
  start = wrap(b, cap, start, cap - start, 7); /* Model.graph */
  kat__onnx_model *m = NULL;
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__onnx_load_buffer(b + start, cap - start, "deep.onnx", &m, &eb),
                   KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "deep.onnx");
  kat__onnx_destroy(m);
  free(b);
}

KAT_TEST(test_external_data) {
  kat__onnx_model *m = NULL;
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__onnx_load(data("onnx/external.onnx"), true, &m, &eb), KAT_OK);
  if (!m) return;
  KAT_CHECK(m->n_external > 0);
  const Onnx__TensorProto *w = kat__onnx_const(m->proto->graph, "w");
  KAT_CHECK(w && w->has_raw_data && w->raw_data.len == 6 * 3 * 4);
  kat__onnx_destroy(m);
  /* The model without its data file: reading the data fails with the file named. */
  size_t n = 0;
  uint8_t *b = kat_test_read_file(data("onnx/external.onnx"), &n);
  spit(tmp("external.onnx"), b, n);
  free(b);
  m = NULL;
  KAT_CHECK_INT_EQ(kat__onnx_load(tmp("external.onnx"), true, &m, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "external.onnx.data");
  KAT_CHECK(m == NULL);
  /* inspect still reports it, as missing. */
  char err[1024], *rep = NULL;
  KAT_CHECK_INT_EQ(kat__onnx_inspect(tmp("external.onnx"), &rep, err, sizeof err), KAT_OK);
  KAT_CHECK_CONTAINS(rep, "external.onnx.data (MISSING)");
  kat__onnx_free(rep);
}

KAT_TEST(test_inspect_report) {
  char err[1024], *rep = NULL;
  KAT_CHECK_INT_EQ(kat__onnx_inspect(data("onnx/gather_last.onnx"), &rep, err, sizeof err), KAT_OK);
  KAT_CHECK_CONTAINS(rep, "opsets: ai.onnx=17");
  KAT_CHECK_CONTAINS(rep, "x float32 [B,6,5]");
  KAT_CHECK_CONTAINS(rep, "Gather=4");
  KAT_CHECK_CONTAINS(rep, "patterns: 4 last-axis Gather, 0 ScatterND");
  KAT_CHECK_CONTAINS(rep, "dynamic dims: 1");
  kat__onnx_free(rep);
  KAT_CHECK_INT_EQ(kat__onnx_inspect(data("onnx/scatter_dyn.onnx"), &rep, err, sizeof err), KAT_OK);
  KAT_CHECK_CONTAINS(rep, "k float32 [1,2,L,4]");
  KAT_CHECK_CONTAINS(rep, "1 ScatterND");
  kat__onnx_free(rep);
}

KAT_TEST(test_rewrite_arguments) {
  char err[1024], *rep = NULL;
  const char *in = data("onnx/plain.onnx");
  KAT_CHECK_INT_EQ(kat__onnx_rewrite(in, in, NULL, &rep, err, sizeof err), KAT_EINVAL);
  kat__onnx_free(rep);
  kat__onnx_rewrite_options o;
  kat__onnx_rewrite_options_init(&o);
  o.passes[0] = "no-such-pass";
  o.n_passes = 1;
  KAT_CHECK_INT_EQ(kat__onnx_rewrite(in, tmp("x.onnx"), &o, &rep, err, sizeof err), KAT_EINVAL);
  KAT_CHECK_CONTAINS(err, "no-such-pass");
  kat__onnx_free(rep);
  KAT_CHECK(kat__onnx_pass_known("fp16") == 1);
  KAT_CHECK(kat__onnx_pass_known("fp17") == 0);
}

static void setup(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/kat_onnx_reader_XXXXXX");
  if (!mkdtemp(g_tmp)) KAT_SKIP("cannot make a temporary folder");
}

static void teardown(void) {
  const char *names[] = {"half.onnx", "garbage.onnx", "empty.onnx", "external.onnx"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) remove(tmp(names[i]));
  rmdir(g_tmp);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_load_counts), KAT_CASE(test_truncated_and_garbage),
              KAT_CASE(test_deep_nesting), KAT_CASE(test_external_data),
              KAT_CASE(test_inspect_report), KAT_CASE(test_rewrite_arguments),
              KAT_TEARDOWN(teardown))
