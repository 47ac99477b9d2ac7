/*
 * Tests of `katana onnx coverage` (src/tools/onnx/coverage.c): the parser of ORT's placement and
 * provider log lines on sample lines in ORT's formats, the partition count on small generated
 * graphs with synthetic node -> provider assignments (only the CPU provider exists here), the
 * placement report with reasons, and the whole report on a test graph of scripts/testdata/07-onnx.
 */
#include <stdlib.h>
#include <string.h>

#include "kat_test.h"
#include "katana/katana.h"
#include "tools/onnx/onnx.h"
#include "tools/onnx/coverage.h"

/* ---- a tiny graph builder: node i is named "/n<i>" and has the ops and inputs given ---- */

static Onnx__GraphProto *graph_new(void) {
  Onnx__GraphProto *g = kat__calloc(1, sizeof *g);
  if (g) onnx__graph_proto__init(g);
  return g;
}

/* Appends node "/n<idx>" of `op` reading `a` (and `b` when not NULL) and writing "v<idx>". */
static void add(Onnx__GraphProto *g, const char *op, const char *a, const char *b) {
  char name[32], out[32];
  snprintf(name, sizeof name, "/n%zu", g->n_node);
  snprintf(out, sizeof out, "v%zu", g->n_node);
  const char *in[2] = {a, b};
  const char *outs[1] = {out};
  Onnx__NodeProto *n = kat__onnx_node_new(op, name, b ? 2 : 1, in, 1, outs);
  KAT_CHECK(n != NULL);
  if (n) KAT_CHECK_INT_EQ(kat__onnx_graph_insert(g, g->n_node, n), KAT_OK);
}

static void feed(kat__cov_log *l, const char *const *lines, size_t n) {
  for (size_t i = 0; i < n; i++) kat__cov_log_line(l, lines[i]);
}

/* Messages as ORT's custom logger receives them (the last placement line is shown with the
 * prefix of ORT's default sink, which the parser also accepts). */
static const char *const k_multi[] = {
    "Node placements",
    " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 4",
    "  Conv (/n0)",
    "  MemcpyFromHost (Memcpy)",
    "[V:onnxruntime:, session_state.cc:1347 VerifyEachNodeIsAssignedToAnEp]   Relu (/n1)",
    "  Add (/n3)",
    " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2",
    "  ScatterND (/n2)",
    "  Gather (/n4)",
    "Saving initialized tensors.",
    "  Stray (/not_a_node)",
    "CUDA kernel not found in registries for Op type: ScatterND node name: /n2",
    "Operator type: [NonZero] index: [12] name: [/nz] supported: [0]",
    "Operator type: [Conv] index: [1] name: [/n0] supported: [1]",
    "Force fallback to CPU execution for node: /n4 because the CPU execution path is deemed "
    "faster than overhead involved with execution on other EPs  capable of executing this node",
    "CoreMLExecutionProvider::GetCapability, number of partitions supported by CoreML: 3 number "
    "of nodes in the graph: 40 number of nodes supported by CoreML: 31",
    "[TensorRT EP] Graph is partitioned and number of subgraphs running on TensorRT execution "
    "provider is 2",
    "[TensorRT EP] Some layer of type Foo is not supported",
    "GraphTransformer MemcpyTransformer modified: 1 with status: OK",
};

KAT_TEST(test_log_parser) {
  kat__cov_log l;
  kat__cov_log_init(&l);
  feed(&l, k_multi, sizeof k_multi / sizeof *k_multi);
  KAT_CHECK(!l.oom);
  KAT_CHECK(!l.all_on_one);
  KAT_CHECK_INT_EQ(l.n_ep, 2);
  KAT_CHECK_STR_EQ(l.ep[0], "CUDAExecutionProvider");
  KAT_CHECK_STR_EQ(l.ep[1], "CPUExecutionProvider");
  KAT_CHECK_INT_EQ(l.ep_nodes[0], 4);
  KAT_CHECK_INT_EQ(l.ep_nodes[1], 2);
  /* Six listed nodes; the line after "Saving ..." is outside any list. */
  KAT_CHECK_INT_EQ(l.n_nodes, 6);
  if (l.n_nodes == 6) {
    KAT_CHECK_STR_EQ(l.nodes[0].op, "Conv");
    KAT_CHECK_STR_EQ(l.nodes[0].name, "/n0");
    KAT_CHECK_STR_EQ(l.nodes[1].name, "Memcpy");
    KAT_CHECK_STR_EQ(l.nodes[2].op, "Relu");
    KAT_CHECK_STR_EQ(l.nodes[2].name, "/n1");
    KAT_CHECK_INT_EQ(l.nodes[3].ep, 0);
    KAT_CHECK_STR_EQ(l.nodes[4].op, "ScatterND");
    KAT_CHECK_INT_EQ(l.nodes[4].ep, 1);
    KAT_CHECK_STR_EQ(l.nodes[5].name, "/n4");
  }
  /* Three per-node reasons (the supported: [1] line is not one). */
  KAT_CHECK_INT_EQ(l.n_reasons, 3);
  const kat__cov_reason *r = kat__cov_reason_for(&l, "/n2");
  KAT_CHECK(r != NULL);
  if (r) {
    KAT_CHECK_STR_EQ(r->op, "ScatterND");
    KAT_CHECK_CONTAINS(r->text, "kernel not found in registries");
  }
  r = kat__cov_reason_for(&l, "/nz");
  KAT_CHECK(r && strcmp(r->op, "NonZero") == 0);
  r = kat__cov_reason_for(&l, "/n4");
  KAT_CHECK(r && strstr(r->text, "Force fallback") != NULL);
  KAT_CHECK(kat__cov_reason_for(&l, "/n0") == NULL);
  /* Partition counts the providers logged, matched by the start of ORT's provider name. */
  KAT_CHECK_INT_EQ(kat__cov_ort_partitions(&l, "CoreMLExecutionProvider"), 3);
  KAT_CHECK_INT_EQ(kat__cov_ort_partitions(&l, "TensorrtExecutionProvider"), 2);
  KAT_CHECK_INT_EQ(kat__cov_ort_partitions(&l, "CUDAExecutionProvider"), -1);
  KAT_CHECK_INT_EQ(l.n_other, 1);
  if (l.n_other == 1) KAT_CHECK_CONTAINS(l.other[0], "is not supported");
  kat__cov_log_cleanup(&l);

  /* One provider: ORT prints only the count. A compiled node is listed by its name alone. */
  static const char *const one[] = {
      "Node placements", " All nodes placed on [CPUExecutionProvider]. Number of nodes: 33",
      "  Conv (/x)", "[TensorRT EP] Whole graph will run on TensorRT execution provider",
      "[TensorRT EP] No graph will run on TensorRT execution provider"};
  kat__cov_log_init(&l);
  feed(&l, one, sizeof one / sizeof *one);
  KAT_CHECK(l.all_on_one);
  KAT_CHECK_INT_EQ(l.n_ep, 1);
  KAT_CHECK_INT_EQ(l.ep_nodes[0], 33);
  KAT_CHECK_INT_EQ(l.n_nodes, 0);
  KAT_CHECK_INT_EQ(kat__cov_ort_partitions(&l, "TensorrtExecutionProvider"), 0); /* the last */
  kat__cov_log_cleanup(&l);

  static const char *const fused[] = {
      " Node(s) placed on [TensorrtExecutionProvider]. Number of nodes: 1",
      "  TensorrtExecutionProvider_TRTKernel_graph_main_1234_0"};
  kat__cov_log_init(&l);
  feed(&l, fused, 2);
  KAT_CHECK_INT_EQ(l.n_nodes, 1);
  if (l.n_nodes == 1) {
    KAT_CHECK_STR_EQ(l.nodes[0].op, "TensorrtExecutionProvider_TRTKernel_graph_main_1234_0");
    KAT_CHECK_STR_EQ(l.nodes[0].name, l.nodes[0].op);
  }
  kat__cov_log_cleanup(&l);
}

KAT_TEST(test_partitions) {
  kat__errbuf eb = {{0}};
  int parts[3];
  /* A chain x -> n0 -> ... -> n5 on providers 0 0 1 0 1 0: three runs of 0, two of 1. */
  Onnx__GraphProto *g = graph_new();
  KAT_CHECK(g != NULL);
  if (!g) return;
  add(g, "Conv", "x", NULL);
  for (int i = 1; i < 6; i++) {
    char in[16];
    snprintf(in, sizeof in, "v%d", i - 1);
    add(g, "Relu", in, NULL);
  }
  int chain[6] = {0, 0, 1, 0, 1, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, chain, 3, parts, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parts[0], 3);
  KAT_CHECK_INT_EQ(parts[1], 2);
  KAT_CHECK_INT_EQ(parts[2], 0);
  /* Unknown placement (-1) neither joins nor splits: 0 -1 0 ... is one run. */
  int gaps[6] = {0, -1, 0, 0, -1, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, gaps, 1, parts, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parts[0], 1);
  int all[6] = {0, 0, 0, 0, 0, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, all, 2, parts, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parts[0], 1);
  KAT_CHECK_INT_EQ(parts[1], 0);
  kat__onnx_free_message(g);

  /* A diamond n0 -> {n1, n2} -> n3 with n1 elsewhere: n3 cannot join n0's group (the path
   * through n1 would make a cycle), so provider 0 has 2 partitions although n0, n2, n3 are
   * connected. */
  g = graph_new();
  if (!g) return;
  add(g, "Conv", "x", NULL);
  add(g, "Relu", "v0", NULL);
  add(g, "Sigmoid", "v0", NULL);
  add(g, "Add", "v1", "v2");
  int diamond[4] = {0, 1, 0, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, diamond, 2, parts, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parts[0], 2);
  KAT_CHECK_INT_EQ(parts[1], 1);
  kat__onnx_free_message(g);

  /* Two branches x -> n0 and y -> n1 -> n2 with n1 elsewhere: n0 and n2 can be one group once
   * n1 has run (the sweep that starts with the other providers finds it). */
  g = graph_new();
  if (!g) return;
  add(g, "Relu", "x", NULL);
  add(g, "Relu", "y", NULL);
  add(g, "Relu", "v1", NULL);
  int branches[3] = {0, 1, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, branches, 2, parts, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parts[0], 1);
  KAT_CHECK_INT_EQ(parts[1], 1);
  kat__onnx_free_message(g);

  /* A cycle is refused. */
  g = graph_new();
  if (!g) return;
  add(g, "Relu", "v1", NULL);
  add(g, "Relu", "v0", NULL);
  int two[2] = {0, 0};
  KAT_CHECK_INT_EQ(kat__onnx_partitions(g, two, 1, parts, &eb), KAT_EFORMAT);
  kat__onnx_free_message(g);
}

KAT_TEST(test_report_with_reasons) {
  /* The chain of test_partitions with ORT's list of k_multi-style lines: CUDA takes n0 n1 n3
   * n5, CPU n2 n4; n2 has a reason. */
  Onnx__GraphProto *g = graph_new();
  if (!g) return;
  add(g, "Conv", "x", NULL);
  add(g, "Relu", "v0", NULL);
  add(g, "ScatterND", "v1", NULL);
  add(g, "Add", "v2", NULL);
  add(g, "Gather", "v3", NULL);
  add(g, "Relu", "v4", NULL);
  static const char *const lines[] = {
      "Node placements",
      " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 5",
      "  Conv (/n0)",
      "  Relu (/n1)",
      "  Add (/n3)",
      "  Relu (/n5)",
      "  MemcpyToHost (Memcpy_token_1)",
      " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2",
      "  ScatterND (/n2)",
      "  Gather (/n4)",
      "CUDA kernel not found in registries for Op type: ScatterND node name: /n2",
  };
  kat__cov_log l;
  kat__cov_log_init(&l);
  feed(&l, lines, sizeof lines / sizeof *lines);
  kat__sb b = {0};
  kat__cov_report(g, &l, "CUDAExecutionProvider", &b);
  char *text = kat__sb_take(&b);
  KAT_CHECK_CONTAINS(text, "CUDAExecutionProvider: 5 node(s), 3 partition(s) (katana)");
  KAT_CHECK_CONTAINS(text, "CPUExecutionProvider: 2 node(s), 2 partition(s) (katana)");
  KAT_CHECK_CONTAINS(text, "6 of 6 file nodes matched");
  KAT_CHECK_CONTAINS(text, "unclaimed by CUDAExecutionProvider: 2 node(s)");
  KAT_CHECK_CONTAINS(text,
                     "ScatterND (/n2) on CPUExecutionProvider: ORT: CUDA kernel not found in "
                     "registries for Op type: ScatterND node name: /n2");
  KAT_CHECK_CONTAINS(text, "Gather (/n4) on CPUExecutionProvider: no reason in ORT's log");
  kat__free(text);

  /* The same graph with CPU asked for: CPU's nodes are claimed, CUDA's are not. */
  kat__cov_report(g, &l, "CPUExecutionProvider", &b);
  text = kat__sb_take(&b);
  KAT_CHECK_CONTAINS(text, "unclaimed by CPUExecutionProvider: 5 node(s)");
  KAT_CHECK_CONTAINS(text, "Conv (/n0) on CUDAExecutionProvider");
  kat__free(text);
  kat__cov_log_cleanup(&l);

  /* katana's static CoreML estimate: ScatterND (n2) stays on CPU, so {n0, n1} and {n3..n5}. */
  kat__onnx_static_checks(g, 17, &b, "");
  text = kat__sb_take(&b);
  KAT_CHECK_CONTAINS(text, "ScatterND=1; they stay on CPU: 2 CoreML partition(s)");
  KAT_CHECK_CONTAINS(text, "dynamic input dims: none");
  kat__free(text);
  kat__onnx_free_message(g);
}

KAT_TEST(test_coverage_report) {
  const char *p = kat_test_data("onnx/scatter_dyn.onnx");
  if (!p) KAT_SKIP("KAT_TEST_DATA is not set");
  char path[4200];
  snprintf(path, sizeof path, "%s", p);
  char *report = NULL, err[512];
  KAT_CHECK_INT_EQ(kat__onnx_coverage(path, "cpu", &report, err, sizeof err), KAT_OK);
  /* ORT's log: everything on CPU, one provider, one partition; katana's checks follow. */
  KAT_CHECK_CONTAINS(report, "CPUExecutionProvider: ");
  KAT_CHECK_CONTAINS(report, "1 partition(s) (katana)");
  KAT_CHECK_CONTAINS(report, "unclaimed by CPUExecutionProvider: none");
  KAT_CHECK_CONTAINS(report, "katana static checks");
  KAT_CHECK_CONTAINS(report, "ScatterND: /ScatterND");
  KAT_CHECK_CONTAINS(report, "dynamic input dims: k[2]=L (1)");
  KAT_CHECK_CONTAINS(report, "ScatterND=1");
  kat__onnx_free(report);
  report = NULL;
  KAT_CHECK_INT_EQ(kat__onnx_coverage(path, "tensorrt", &report, err, sizeof err), KAT_OK);
  if (!kat_ep_available(KAT_EP_TENSORRT)) {
    KAT_CHECK_CONTAINS(report, "the EP is not available on this machine");
    KAT_CHECK(strstr(report, "partition(s) (katana)") == NULL);
  }
  KAT_CHECK_CONTAINS(report, "katana static checks");
  KAT_CHECK_CONTAINS(report, "patterns: 0 last-axis Gather, 1 ScatterND");
  kat__onnx_free(report);
}

KAT_TEST_MAIN(KAT_CASE(test_log_parser), KAT_CASE(test_partitions),
              KAT_CASE(test_report_with_reasons), KAT_CASE(test_coverage_report))
