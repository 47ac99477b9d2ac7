/*
 * `katana onnx coverage` for one model: creates an ORT session with the preset's provider while a
 * per-thread log tap (src/runtime/ort.h) hands every ORT message to a parser, then reports per
 * provider the nodes it claims, its partition count and, for the nodes the requested provider
 * does not take, ORT's reason where the log gives one. katana's static checks follow, labelled
 * as katana's (they are pattern lists, not ORT's verdict).
 *
 * What ORT logs (1.2x-1.30): "Node placements", then either " All nodes placed on [EP]. Number
 * of nodes: N" (one provider, no list) or, per provider, " Node(s) placed on [EP]. Number of
 * nodes: N" followed by one VERBOSE line "  OpType (name)" per node. Providers explain refusals
 * in lines such as "CUDA kernel not found in registries for Op type: X node name: Y", "Force
 * fallback to CPU execution for node: Y because ...", CoreML/NNAPI "Operator type: [X] index: [i]
 * name: [Y] supported: [0]", and log their own partition counts ("number of partitions supported
 * by CoreML: N", "[TensorRT EP] Graph is partitioned and number of subgraphs running on TensorRT
 * execution provider is N"). The CPU provider logs neither reasons nor partitions.
 */
#include "tools/onnx/coverage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/onnx/inspect.h"
#include "runtime/ep.h"
#include "runtime/ort.h"
#include "runtime/session.h"

/* ---- log parsing ---- */

void kat__cov_log_init(kat__cov_log *l) {
  memset(l, 0, sizeof *l);
  l->cur_ep = -1;
}

void kat__cov_log_cleanup(kat__cov_log *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n_nodes; i++) {
    kat__free(l->nodes[i].op);
    kat__free(l->nodes[i].name);
  }
  for (size_t i = 0; i < l->n_reasons; i++) {
    kat__free(l->reasons[i].op);
    kat__free(l->reasons[i].name);
    kat__free(l->reasons[i].text);
  }
  for (int i = 0; i < l->n_other; i++) kat__free(l->other[i]);
  kat__free(l->nodes);
  kat__free(l->reasons);
  kat__cov_log_init(l);
}

/* A kat__malloc'ed copy of `n` bytes at `p` with surrounding blanks removed; NULL on OOM. */
static char *dup_trim(const char *p, size_t n) {
  while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\t'))
    n--;
  char *s = kat__malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Skips ORT's default-sink prefix "[V:onnxruntime:, file.cc:12 Function] " when present. */
static const char *strip_prefix(const char *m) {
  if (m[0] == '[' && m[1] && strncmp(m + 2, ":onnxruntime:", 13) == 0) {
    const char *e = strstr(m, "] ");
    if (e) return e + 2;
  }
  return m;
}

static bool ieq_prefix(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++) {
    char a = *s, b = *prefix;
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

int kat__cov_ep_index(const kat__cov_log *l, const char *ep) {
  for (int i = 0; i < l->n_ep; i++)
    if (strcmp(l->ep[i], ep) == 0) return i;
  return -1;
}

int kat__cov_ort_partitions(const kat__cov_log *l, const char *ep) {
  /* Providers log a short name ("TensorRT", "CoreML"): match it against the ORT name's start. */
  for (int i = l->n_ort_parts - 1; i >= 0; i--)
    if (l->ort_parts[i].ep[0] && ieq_prefix(ep, l->ort_parts[i].ep)) return l->ort_parts[i].count;
  return -1;
}

const kat__cov_reason *kat__cov_reason_for(const kat__cov_log *l, const char *name) {
  if (!name || !*name) return NULL;
  for (size_t i = 0; i < l->n_reasons; i++)
    if (strcmp(l->reasons[i].name, name) == 0) return &l->reasons[i];
  return NULL;
}

static void add_node(kat__cov_log *l, const char *op, size_t op_n, const char *name,
                     size_t name_n) {
  if (l->oom) return;
  if (l->n_nodes == l->cap_nodes) {
    size_t cap = l->cap_nodes ? 2 * l->cap_nodes : 64;
    kat__cov_node *p = kat__realloc(l->nodes, cap * sizeof *p);
    if (!p) {
      l->oom = true;
      return;
    }
    l->nodes = p;
    l->cap_nodes = cap;
  }
  kat__cov_node *n = &l->nodes[l->n_nodes];
  n->ep = l->cur_ep;
  n->op = dup_trim(op, op_n);
  n->name = dup_trim(name, name_n);
  if (!n->op || !n->name) {
    kat__free(n->op);
    kat__free(n->name);
    l->oom = true;
    return;
  }
  l->n_nodes++;
}

static void add_reason(kat__cov_log *l, const char *op, size_t op_n, const char *name,
                       size_t name_n, const char *text) {
  if (l->oom) return;
  if (l->n_reasons == l->cap_reasons) {
    size_t cap = l->cap_reasons ? 2 * l->cap_reasons : 16;
    kat__cov_reason *p = kat__realloc(l->reasons, cap * sizeof *p);
    if (!p) {
      l->oom = true;
      return;
    }
    l->reasons = p;
    l->cap_reasons = cap;
  }
  kat__cov_reason *r = &l->reasons[l->n_reasons];
  r->op = dup_trim(op, op_n);
  r->name = dup_trim(name, name_n);
  r->text = dup_trim(text, strlen(text));
  if (!r->op || !r->name || !r->text) {
    kat__free(r->op);
    kat__free(r->name);
    kat__free(r->text);
    l->oom = true;
    return;
  }
  l->n_reasons++;
}

static void add_ort_parts(kat__cov_log *l, const char *name, size_t name_n, long count) {
  if (l->n_ort_parts == KAT_COV_MAX_EP || count < 0) return;
  if (name_n >= sizeof l->ort_parts[0].ep) name_n = sizeof l->ort_parts[0].ep - 1;
  memcpy(l->ort_parts[l->n_ort_parts].ep, name, name_n);
  l->ort_parts[l->n_ort_parts].ep[name_n] = '\0';
  l->ort_parts[l->n_ort_parts].count = (int)count;
  l->n_ort_parts++;
}

/* Length of the word (letters, digits, '_') at `p`. */
static size_t word_len(const char *p) {
  size_t n = 0;
  while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z') ||
         (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
    n++;
  return n;
}

/* The last run of digits in `m`, or -1. */
static long last_int(const char *m) {
  const char *e = m + strlen(m);
  while (e > m && !(e[-1] >= '0' && e[-1] <= '9')) e--;
  if (e == m) return -1;
  const char *s = e;
  while (s > m && s[-1] >= '0' && s[-1] <= '9') s--;
  return strtol(s, NULL, 10);
}

/* Partition counts the providers log themselves; true when `m` was one. */
static bool parse_ort_partitions(kat__cov_log *l, const char *m) {
  const char *t;
  if ((t = strstr(m, "partitions supported by "))) {
    t += strlen("partitions supported by ");
    const char *c = strchr(t, ':');
    if (!c) return false;
    add_ort_parts(l, t, (size_t)(c - t), strtol(c + 1, NULL, 10));
    return true;
  }
  if ((t = strstr(m, "ubgraphs running on "))) {
    t += strlen("ubgraphs running on ");
    add_ort_parts(l, t, word_len(t), last_int(t));
    return true;
  }
  if ((t = strstr(m, "Whole graph will run on "))) {
    t += strlen("Whole graph will run on ");
    add_ort_parts(l, t, word_len(t), 1);
    return true;
  }
  if ((t = strstr(m, "No graph will run on ")) || (t = strstr(m, "No graph is running on "))) {
    t = strstr(t, " on ") + 4;
    add_ort_parts(l, t, word_len(t), 0);
    return true;
  }
  return false;
}

/* Per-node reasons; true when `m` was one. */
static bool parse_reason(kat__cov_log *l, const char *m) {
  const char *t, *nn;
  /* "<EP> kernel not found in registries for Op type: X node name: Y" and the CUDA provider's
   * "... Fallback to CPU execution provider for Op type: X node name: Y". */
  if ((t = strstr(m, "Op type: ")) && (nn = strstr(t, " node name: "))) {
    t += strlen("Op type: ");
    const char *name = nn + strlen(" node name: ");
    add_reason(l, t, (size_t)(nn - t), name, strlen(name), m);
    return true;
  }
  /* "Force fallback to CPU execution for node: Y because the CPU execution path is ..." */
  if (strstr(m, "allback to CPU") && (t = strstr(m, "for node: "))) {
    t += strlen("for node: ");
    const char *e = strstr(t, " because");
    add_reason(l, "", 0, t, e ? (size_t)(e - t) : strlen(t), m);
    return true;
  }
  /* CoreML/NNAPI helper: "Operator type: [X] index: [i] name: [Y] supported: [0]" */
  if ((t = strstr(m, "Operator type: [")) && strstr(m, "supported: [0]")) {
    t += strlen("Operator type: [");
    const char *te = strchr(t, ']');
    const char *n = strstr(m, " name: [");
    if (!te || !n) return false;
    n += strlen(" name: [");
    const char *ne = strchr(n, ']');
    if (!ne) return false;
    add_reason(l, t, (size_t)(te - t), n, (size_t)(ne - n), m);
    return true;
  }
  return false;
}

static bool is_support_message(const char *m) {
  static const char *const keys[] = {
      "not supported",    "nsupported",  "not found in registries", "doesn't support",
      "does not support", "is excluded", "cannot be placed",        "not assigned to"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (strstr(m, keys[i])) return true;
  return false;
}

void kat__cov_log_line(kat__cov_log *l, const char *msg) {
  if (!l || !msg) return;
  const char *m = strip_prefix(msg);
  const char *t = strstr(m, "placed on [");
  if (t) {
    t += strlen("placed on [");
    const char *e = strchr(t, ']');
    const char *n = strstr(m, "Number of nodes: ");
    l->cur_ep = -1;
    if (!e || !n) return;
    size_t len = (size_t)(e - t);
    if (len >= sizeof l->ep[0]) len = sizeof l->ep[0] - 1;
    char ep[sizeof l->ep[0]];
    memcpy(ep, t, len);
    ep[len] = '\0';
    int k = kat__cov_ep_index(l, ep);
    if (k < 0) {
      if (l->n_ep == KAT_COV_MAX_EP) return;
      k = l->n_ep++;
      kat__strlcpy(l->ep[k], ep, sizeof l->ep[k]);
    }
    l->ep_nodes[k] = (int)strtol(n + strlen("Number of nodes: "), NULL, 10);
    l->all_on_one = strstr(m, "All nodes placed on") != NULL;
    if (!l->all_on_one) l->cur_ep = k;
    return;
  }
  if (l->cur_ep >= 0 && m[0] == ' ' && m[1] == ' ' && m[2] && m[2] != ' ') {
    /* "  OpType (name)"; a compiled node may be listed by its name alone. */
    const char *p = m + 2;
    size_t len = strlen(p);
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == ' ' || p[len - 1] == '\r')) len--;
    const char *open = strstr(p, " (");
    if (open && open < p + len && len > 0 && p[len - 1] == ')') {
      const char *name = open + 2;
      add_node(l, p, (size_t)(open - p), name, (size_t)(p + len - 1 - name));
    } else {
      add_node(l, p, len, p, len);
    }
    return;
  }
  l->cur_ep = -1;
  if (parse_ort_partitions(l, m) || parse_reason(l, m)) return;
  if (is_support_message(m)) {
    if (l->n_other == KAT_COV_MAX_OTHER) {
      l->n_other_dropped++;
      return;
    }
    char *s = dup_trim(m, strlen(m));
    if (!s) {
      l->oom = true;
      return;
    }
    l->other[l->n_other++] = s;
  }
}

/* ---- partitions ---- */

/*
 * One alternating sweep for provider `e` (see kat__onnx_partitions); `other_first` starts with
 * the other providers' phase. Ready nodes sit in three stacks in `ready` (3n entries): this
 * provider's, unknown placement, other providers'. Returns the number of phases of `e`.
 */
static int sweep(size_t n, const size_t *start, const size_t *succ, const size_t *indeg0,
                 size_t *indeg, size_t *ready, const int *node_ep, int e, bool other_first, int *rc,
                 kat__errbuf *eb) {
  size_t *pool[3] = {ready, ready + n, ready + 2 * n}, len[3] = {0, 0, 0}, done = 0;
  int phases = 0;
  bool claim = !other_first, in_phase = false;
  memcpy(indeg, indeg0, n * sizeof *indeg);
  for (size_t i = 0; i < n; i++)
    if (indeg[i] == 0) {
      int c = node_ep[i] == e ? 0 : node_ep[i] < 0 ? 1 : 2;
      pool[c][len[c]++] = i;
    }
  while (len[0] + len[1] + len[2] > 0) {
    size_t i;
    if (len[1] > 0) {
      i = pool[1][--len[1]]; /* unknown placement: joins whichever phase is running */
    } else if (claim && len[0] > 0) {
      i = pool[0][--len[0]];
      if (!in_phase) phases++;
      in_phase = true;
    } else if (!claim && len[2] > 0) {
      i = pool[2][--len[2]];
      in_phase = false;
    } else {
      claim = !claim; /* nothing ready for this phase: switch */
      continue;
    }
    done++;
    for (size_t k = start[i]; k < start[i + 1]; k++) {
      size_t s = succ[k];
      if (--indeg[s] != 0) continue;
      int c = node_ep[s] == e ? 0 : node_ep[s] < 0 ? 1 : 2;
      pool[c][len[c]++] = s;
    }
  }
  if (done != n)
    *rc = kat__fail(eb, KAT_EFORMAT, "the graph has a cycle (%zu of %zu nodes sorted)", done, n);
  return phases;
}

int kat__onnx_partitions(const Onnx__GraphProto *g, const int *node_ep, int n_ep, int *parts,
                         kat__errbuf *eb) {
  size_t n = g->n_node, n_edges = 0;
  for (int e = 0; e < n_ep; e++) parts[e] = 0;
  if (n == 0 || n_ep <= 0) return KAT_OK;
  if (n >= 0x7fffffff) return kat__fail(eb, KAT_ERANGE, "graph too large");
  int rc = KAT_OK;
  kat__onnx_types *producer = NULL;
  size_t *start = NULL, *succ = NULL, *indeg0 = NULL, *indeg = NULL, *ready = NULL;
  if (kat__onnx_map_create(g, &producer) != KAT_OK) goto oom;
  /* Producer of each value: node index + 1 (the map keeps nonzero values only). */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < g->node[i]->n_output; j++)
      if (g->node[i]->output[j] && *g->node[i]->output[j])
        kat__onnx_map_set(producer, g->node[i]->output[j], (int32_t)(i + 1));
  start = kat__calloc(n + 1, sizeof *start);
  indeg0 = kat__calloc(n, sizeof *indeg0);
  indeg = kat__calloc(n, sizeof *indeg);
  ready = kat__calloc(3 * n, sizeof *ready);
  if (!start || !indeg0 || !indeg || !ready) goto oom;
  /* Edges producer -> consumer, one per input slot (CSR by producer). */
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < g->node[i]->n_input; j++) {
      const char *v = g->node[i]->input[j];
      int32_t p = v && *v ? kat__onnx_types_get(producer, v) : 0;
      if (p > 0 && (size_t)(p - 1) != i) {
        start[p - 1]++;
        indeg0[i]++;
        n_edges++;
      }
    }
  succ = kat__calloc(n_edges + 1, sizeof *succ);
  if (!succ) goto oom;
  for (size_t i = 0, sum = 0; i <= n; i++) {
    size_t c = i < n ? start[i] : 0;
    start[i] = sum;
    sum += c;
  }
  {
    size_t *fill = indeg; /* reused as a cursor, reset below */
    for (size_t i = 0; i < n; i++) fill[i] = start[i];
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < g->node[i]->n_input; j++) {
        const char *v = g->node[i]->input[j];
        int32_t p = v && *v ? kat__onnx_types_get(producer, v) : 0;
        if (p > 0 && (size_t)(p - 1) != i) succ[fill[p - 1]++] = i;
      }
  }
  for (int e = 0; e < n_ep && !rc; e++) {
    bool any = false;
    for (size_t i = 0; i < n; i++) any = any || node_ep[i] == e;
    if (!any) continue;
    int best = -1;
    for (int first = 0; first < 2 && !rc; first++) {
      int count = sweep(n, start, succ, indeg0, indeg, ready, node_ep, e, first == 1, &rc, eb);
      if (!rc && (best < 0 || count < best)) best = count;
    }
    parts[e] = best < 0 ? 0 : best;
  }
  goto done;
oom:
  rc = kat__fail(eb, KAT_ENOMEM, "partitions: out of memory");
done:
  kat__onnx_types_destroy(producer);
  kat__free(start);
  kat__free(succ);
  kat__free(indeg0);
  kat__free(indeg);
  kat__free(ready);
  return rc;
}

/* ---- static checks ---- */

/* Ops for which ORT's CoreML provider has no op builder, as far as katana knows (ORT 1.2x
 * docs, "Supported operators"). Deliberately short: absence from this list proves nothing. */
static const char *const k_coreml_missing[] = {
    "ScatterND", "ScatterElements",  "NonZero", "Unique", "Loop", "Scan", "If", "DFT",
    "STFT",      "NonMaxSuppression"};

static int coreml_missing(const char *op) {
  for (size_t k = 0; k < sizeof k_coreml_missing / sizeof *k_coreml_missing; k++)
    if (strcmp(op, k_coreml_missing[k]) == 0) return 1;
  return 0;
}

void kat__onnx_static_checks(const Onnx__GraphProto *g, int64_t opset, kat__sb *b,
                             const char *indent) {
  kat__onnx_patterns(g, opset, b, indent);
  int dynamic = 0;
  kat__sb_printf(b, "%sdynamic input dims:", indent);
  for (size_t i = 0; i < g->n_input; i++) {
    if (kat__onnx_const(g, g->input[i]->name)) continue;
    kat__onnx_shape s;
    kat__onnx_value_shape(g->input[i], &s);
    for (int d = 0; d < s.rank; d++)
      if (s.dims[d] < 0 && dynamic++ < 8)
        kat__sb_printf(b, " %s[%d]=%s", g->input[i]->name, d, s.params[d] ? s.params[d] : "?");
  }
  if (dynamic)
    kat__sb_printf(b,
                   " (%d): TensorRT needs an optimisation profile for each; CoreML with "
                   "static-shapes-only takes no node that reads them [fix: rewrite --pass "
                   "fixed-memory pins one, e.g. memory_attention's memory length]\n",
                   dynamic);
  else
    kat__sb_printf(b, " none\n");
  kat__sb_printf(b,
                 "%sCoreML (MLProgram) ops without a CoreML op builder in katana's list:", indent);
  int hits = 0;
  for (size_t k = 0; k < sizeof k_coreml_missing / sizeof *k_coreml_missing; k++) {
    size_t c = kat__onnx_count_op(g, k_coreml_missing[k]);
    if (c) kat__sb_printf(b, " %s=%zu", k_coreml_missing[k], c), hits++;
  }
  if (!hits) {
    kat__sb_printf(b, " none\n");
    return;
  }
  /* What those ops alone would do to CoreML's partitions, if it took every other node. */
  int parts[2] = {0, 0};
  int *node_ep = kat__calloc(g->n_node + 1, sizeof *node_ep);
  if (node_ep) {
    for (size_t i = 0; i < g->n_node; i++) node_ep[i] = coreml_missing(g->node[i]->op_type);
    if (kat__onnx_partitions(g, node_ep, 2, parts, NULL) != KAT_OK) parts[0] = -1;
  }
  kat__free(node_ep);
  if (parts[0] > 0)
    kat__sb_printf(b,
                   "; they stay on CPU: %d CoreML partition(s) if CoreML took every other node\n",
                   parts[0]);
  else
    kat__sb_printf(b, "; they stay on CPU\n");
}

/* ---- report ---- */

typedef struct op_hist {
  const char *op;
  int n;
} op_hist;

static int cmp_hist(const void *a, const void *b) {
  const op_hist *x = a, *y = b;
  if (x->n != y->n) return y->n - x->n;
  return strcmp(x->op, y->op);
}

/* Prints "ops: A=3 B=1 ..." (the 10 most frequent) for `n` op types. */
static void print_ops(kat__sb *b, const char *const *ops, size_t n, const char *indent) {
  op_hist *h = kat__calloc(n + 1, sizeof *h);
  if (!h) return;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    while (j < k && strcmp(h[j].op, ops[i]) != 0) j++;
    if (j == k) h[k++].op = ops[i];
    h[j].n++;
  }
  qsort(h, k, sizeof *h, cmp_hist);
  kat__sb_printf(b, "%sops:", indent);
  for (size_t j = 0; j < k && j < 10; j++) kat__sb_printf(b, " %s=%d", h[j].op, h[j].n);
  if (k > 10) kat__sb_printf(b, " (+%zu more op types)", k - 10);
  kat__sb_printf(b, "\n");
  kat__free(h);
}

static void tap(void *user, const char *msg) {
  kat__cov_log_line(user, msg);
}

static bool is_memcpy(const char *op) {
  return strncmp(op, "Memcpy", 6) == 0;
}

/* Placement of every file node: ORT's list matched by node name (see the header comment of
 * kat__onnx_partitions for -1). Returns the number of file nodes matched. */
static size_t assign_nodes(const Onnx__GraphProto *g, const kat__cov_log *l, int *node_ep,
                           int *inferred_ep) {
  size_t n = g->n_node, matched = 0;
  *inferred_ep = -1;
  for (size_t i = 0; i < n; i++) node_ep[i] = l->all_on_one && l->n_ep == 1 ? 0 : -1;
  if (l->all_on_one && l->n_ep == 1) return n;
  kat__onnx_types *byname = NULL;
  if (kat__onnx_map_create(g, &byname) != KAT_OK) return 0;
  for (size_t i = 0; i < n; i++)
    if (g->node[i]->name && *g->node[i]->name)
      kat__onnx_map_set(byname, g->node[i]->name, (int32_t)(i + 1));
  int unmatched[KAT_COV_MAX_EP] = {0};
  for (size_t k = 0; k < l->n_nodes; k++) {
    int32_t i = l->nodes[k].name[0] ? kat__onnx_types_get(byname, l->nodes[k].name) : 0;
    if (i > 0 && node_ep[i - 1] < 0) {
      node_ep[i - 1] = l->nodes[k].ep;
      matched++;
    } else if (i == 0 && !is_memcpy(l->nodes[k].op) && l->nodes[k].ep >= 0) {
      unmatched[l->nodes[k].ep]++;
    }
  }
  /* Nodes ORT lists under names the file does not have are fused or compiled nodes. When one
   * provider other than CPU has such nodes, the file nodes ORT did not list went into them. */
  int only = -1, count = 0;
  for (int e = 0; e < l->n_ep; e++)
    if (unmatched[e] > 0) only = e, count++;
  if (count == 1 && strcmp(l->ep[only], "CPUExecutionProvider") != 0) {
    *inferred_ep = only;
    for (size_t i = 0; i < n; i++)
      if (node_ep[i] < 0) node_ep[i] = only;
  }
  kat__onnx_types_destroy(byname);
  return matched;
}

void kat__cov_report(const Onnx__GraphProto *g, const kat__cov_log *l, const char *want,
                     kat__sb *b) {
  int parts[KAT_COV_MAX_EP] = {0}, inferred = -1, total = 0;
  size_t n = g->n_node;
  int *node_ep = kat__calloc(n + 1, sizeof *node_ep);
  const char **ops = kat__calloc(n + l->n_nodes + 1, sizeof *ops);
  if (!node_ep || !ops) {
    kat__sb_printf(b, "  out of memory\n");
    goto done;
  }
  size_t matched = assign_nodes(g, l, node_ep, &inferred);
  kat__errbuf peb = {{0}};
  int prc = kat__onnx_partitions(g, node_ep, l->n_ep, parts, &peb);
  for (int e = 0; e < l->n_ep; e++) total += l->ep_nodes[e];
  kat__sb_printf(
      b, "  placement (ORT's log; counts are nodes of ORT's optimized graph, %d in all):\n", total);
  for (int e = 0; e < l->n_ep; e++) {
    int ort = kat__cov_ort_partitions(l, l->ep[e]);
    kat__sb_printf(b, "    %s: %d node(s), ", l->ep[e], l->ep_nodes[e]);
    if (prc)
      kat__sb_printf(b, "partitions: ? (katana: %s)", peb.msg);
    else
      kat__sb_printf(b, "%d partition(s) (katana%s)", parts[e],
                     e == inferred ? ", counting the file nodes ORT fused into it" : "");
    if (ort >= 0) kat__sb_printf(b, "; ORT logged %d partition(s)", ort);
    kat__sb_printf(b, "\n");
    size_t k = 0;
    if (l->all_on_one) {
      for (size_t i = 0; i < n; i++) ops[k++] = g->node[i]->op_type;
      kat__sb_printf(b, "      every node (ORT lists none then); the file's ");
    } else {
      for (size_t i = 0; i < l->n_nodes; i++)
        if (l->nodes[i].ep == e) ops[k++] = l->nodes[i].op;
      kat__sb_printf(b, "      ");
    }
    print_ops(b, ops, k, "");
  }
  if (!l->all_on_one && l->n_ep > 1)
    kat__sb_printf(b,
                   "    %zu of %zu file nodes matched ORT's list by name (the rest were removed "
                   "or fused by ORT's optimisers%s)\n",
                   matched, n, inferred >= 0 ? ", counted with the fusing provider" : "");
  /* Nodes the requested provider does not take. */
  int w = kat__cov_ep_index(l, want);
  int unclaimed = total - (w >= 0 ? l->ep_nodes[w] : 0);
  if (unclaimed == 0) {
    kat__sb_printf(b, "  unclaimed by %s: none\n", want);
  } else if (l->all_on_one) {
    kat__sb_printf(b, "  unclaimed by %s: all %d node(s), on %s\n", want, unclaimed, l->ep[0]);
  } else {
    kat__sb_printf(b, "  unclaimed by %s: %d node(s):\n", want, unclaimed);
    int shown = 0;
    for (size_t i = 0; i < l->n_nodes; i++) {
      const kat__cov_node *nd = &l->nodes[i];
      if (nd->ep == w) continue;
      if (shown++ == 40) {
        kat__sb_printf(b, "    ... (%d more)\n", unclaimed - 40);
        break;
      }
      const kat__cov_reason *r = kat__cov_reason_for(l, nd->name);
      kat__sb_printf(b, "    %s (%s) on %s: %s%s\n", nd->op, nd->name, l->ep[nd->ep],
                     r ? "ORT: " : "", r ? r->text : "no reason in ORT's log");
    }
  }
  if (unclaimed && l->all_on_one && l->n_reasons) {
    kat__sb_printf(b, "  ORT's reasons (%zu):\n", l->n_reasons);
    for (size_t i = 0; i < l->n_reasons && i < 40; i++)
      kat__sb_printf(b, "    %s\n", l->reasons[i].text);
  }
  if (l->n_other) {
    kat__sb_printf(b, "  other ORT messages about support (%d):\n",
                   l->n_other + l->n_other_dropped);
    for (int i = 0; i < l->n_other; i++) kat__sb_printf(b, "    %s\n", l->other[i]);
  }
done:
  kat__free(node_ep);
  kat__free(ops);
}

int kat__onnx_coverage_one(const char *path, const char *label, const kat_ep_config *ep, kat__sb *b,
                           kat__errbuf *eb) {
  kat__onnx_model *m = NULL;
  int rc = kat__onnx_load(path, false, &m, eb);
  if (rc) return rc;
  const Onnx__GraphProto *g = m->proto->graph;
  const char *want = kat_ep_ort_name(ep->kind);
  kat__sb_printf(b, "%s: %s, %zu nodes in the file, provider %s\n", label, path, g->n_node, want);
  kat__errbuf why = {{0}};
  if (kat__ep_probe(ep->kind, &why) != KAT_OK) {
    kat__sb_printf(b,
                   "  %s: the EP is not available on this machine (%s); no placement, no "
                   "partitions, no ORT reasons\n",
                   want, why.msg);
  } else {
    kat__session *s = NULL;
    kat__errbuf seb = {{0}};
    kat__cov_log l;
    kat__cov_log_init(&l);
    /* Providers log GetCapability findings through ORT's default logger: raise it for this
     * session only (see kat__ort_env_log_level). */
    bool raised = kat__ort_env_log_level(ORT_LOGGING_LEVEL_VERBOSE, NULL) == KAT_OK;
    kat__ort_tap(tap, &l);
    int src = kat__session_create(path, NULL, 0, ep, KAT_EP_FALLBACK_WARN, label, &s, &seb);
    kat__ort_tap(NULL, NULL);
    if (raised) kat__ort_env_log_level(ORT_LOGGING_LEVEL_WARNING, NULL);
    if (src != KAT_OK) {
      kat__sb_printf(b, "  session failed: %s\n", seb.msg);
    } else if (l.oom) {
      kat__sb_printf(b, "  out of memory while reading ORT's log\n");
    } else if (l.n_ep == 0) {
      kat__sb_printf(b, "  ONNX Runtime logged no node placement\n");
    } else {
      if (kat__session_placement(s)->fell_back) kat__sb_printf(b, "  %s fell back to CPU\n", want);
      kat__cov_report(g, &l, want, b);
    }
    kat__session_destroy(s);
    kat__cov_log_cleanup(&l);
  }
  kat__sb_printf(b, "  katana static checks (katana's pattern lists, not ORT's verdict):\n");
  kat__onnx_static_checks(g, kat__onnx_opset(m, ""), b, "    ");
  kat__onnx_destroy(m);
  return KAT_OK;
}
