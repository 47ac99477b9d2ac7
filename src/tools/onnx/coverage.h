/*
 * Execution-provider coverage of one model (`katana onnx coverage`): which provider claims which
 * nodes (read from ONNX Runtime's session log), how many partitions each provider gets (ORT's own
 * count where a provider logs one, and katana's count computed from the graph), the nodes the
 * requested provider leaves to others with ORT's reason where the log gives one, and katana's
 * static checks. See docs/internals/onnx.md, "Coverage".
 *
 * Thread-safety: a kat__cov_log is used by one thread; the functions keep no global state
 * (the session's log tap is per thread, see src/runtime/ort.h).
 */
#ifndef KAT_ONNX_COVERAGE_H
#define KAT_ONNX_COVERAGE_H

#include "katana/runtime.h"
#include "tools/onnx/passes.h"

#define KAT_COV_MAX_EP 8
#define KAT_COV_MAX_OTHER 16

/* One node of ORT's per-node placement list: op type and name as ORT prints them (owned). */
typedef struct kat__cov_node {
  int ep; /* index into kat__cov_log.ep */
  char *op;
  char *name;
} kat__cov_node;

/* A provider's reason for not taking a node, as logged by ORT (all strings owned). */
typedef struct kat__cov_reason {
  char *op;   /* "" when the line does not name the op type */
  char *name; /* node name as in the model */
  char *text; /* the whole log message, trimmed */
} kat__cov_reason;

/*
 * What katana read from ORT's log while one session was created. Initialise with
 * kat__cov_log_init, feed every message with kat__cov_log_line, free with kat__cov_log_cleanup.
 * On allocation failure it stops recording and sets `oom`.
 */
typedef struct kat__cov_log {
  int n_ep;
  char ep[KAT_COV_MAX_EP][48]; /* ORT provider names in log order */
  int ep_nodes[KAT_COV_MAX_EP];
  bool all_on_one; /* "All nodes placed on [..]": one provider, no per-node list */
  int cur_ep;      /* provider whose node list is being read; -1 outside a list */
  kat__cov_node *nodes;
  size_t n_nodes, cap_nodes;
  kat__cov_reason *reasons;
  size_t n_reasons, cap_reasons;
  char *other[KAT_COV_MAX_OTHER]; /* other support-related messages without a node name */
  int n_other, n_other_dropped;
  int n_ort_parts; /* partition counts the providers logged themselves */
  struct {
    char ep[48]; /* short name as logged: "TensorRT", "CoreML", "NNAPI" */
    int count;
  } ort_parts[KAT_COV_MAX_EP];
  bool oom;
} kat__cov_log;

void kat__cov_log_init(kat__cov_log *l);
/* Parses one ORT log message (with or without ORT's "[V:onnxruntime:, file:line fn] " prefix). */
void kat__cov_log_line(kat__cov_log *l, const char *msg);
void kat__cov_log_cleanup(kat__cov_log *l);
/* Index of provider `ep` in the log, or -1. */
int kat__cov_ep_index(const kat__cov_log *l, const char *ep);
/* Partition count provider `ep` (ORT name) logged itself, or -1 when it logged none. */
int kat__cov_ort_partitions(const kat__cov_log *l, const char *ep);
/* The first reason logged for node `name`, or NULL. */
const kat__cov_reason *kat__cov_reason_for(const kat__cov_log *l, const char *name);

/*
 * Partition count per provider of the top-level graph `g` for the assignment `node_ep`
 * (g->n_node entries: a provider index in [0, n_ep), or -1 where the placement is unknown).
 * parts[e] (n_ep entries) receives the number of partitions of provider e: the phases of an
 * alternating topological sweep that takes every ready node of e (and every ready node of
 * unknown placement) until none is ready, then every ready node of the other providers until
 * none is ready, and so on. Each phase of e is one cycle-free group that can be fused; a
 * provider with no node has 0. Returns KAT_EFORMAT if the graph has a cycle, KAT_ENOMEM.
 */
int kat__onnx_partitions(const Onnx__GraphProto *g, const int *node_ep, int n_ep, int *parts,
                         kat__errbuf *eb);

/*
 * Appends the placement part of the report for graph `g` (the model file's top-level graph) and
 * log `l`, where `want` is the requested provider's ORT name: per provider its node count, its
 * partition count (katana's, and ORT's when logged) and op histogram, then the nodes `want` does
 * not take with ORT's reason where one was logged.
 */
void kat__cov_report(const Onnx__GraphProto *g, const kat__cov_log *l, const char *want,
                     kat__sb *b);

/* katana's static checks (patterns, dynamic input dims, CoreML op list), each line indented;
 * `opset` is the default domain's (for the shape inference behind the pattern matchers). */
void kat__onnx_static_checks(const Onnx__GraphProto *g, int64_t opset, kat__sb *b,
                             const char *indent);

/*
 * Appends the coverage report of the model at `path` for provider config `ep` to `b`; `label`
 * names the module. Only a model that cannot be read fails (the status and `eb`); an
 * unavailable provider or a failed session is reported in the text.
 */
int kat__onnx_coverage_one(const char *path, const char *label, const kat_ep_config *ep, kat__sb *b,
                           kat__errbuf *eb);

#endif /* KAT_ONNX_COVERAGE_H */
