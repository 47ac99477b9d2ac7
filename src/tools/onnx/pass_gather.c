/*
 * gather-to-split: Gather(data, scalar constant index k, axis = last) becomes
 * Split(data, axis = last, parts of 1) -> output k -> Squeeze(axis). All such Gathers of the same
 * data share one Split. TensorRT and CoreML handle a Split far better than a last-axis Gather of a
 * scalar (which lowers to a strided copy per index).
 *
 * Shapes come from the declared shapes and, where the graph declares none (torch.onnx.export
 * writes no value_info), from local inference (onnx/shape.h): the rank tells whether a positive
 * axis is the last one, the size D sizes the Split. Where D cannot be derived, the Gather becomes
 * Slice(data, starts = [k], ends = [k + 1], axes = [axis]) -> Squeeze(axis), which needs no size:
 * as exact, one Slice per pick instead of one shared Split (docs/internals/onnx.md).
 */
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"
#include "tools/onnx/shape.h"

/* Splits with more parts than this are left alone (a Split of thousands of outputs is worse than
 * the Gather it replaces). */
#define MAX_PARTS 1024

bool kat__match_gather_last(const Onnx__GraphProto *g, const kat__onnx_shapes *sh, size_t i,
                            int64_t *axis, int64_t *index, int64_t *dim) {
  const Onnx__NodeProto *n = g->node[i];
  if (strcmp(n->op_type, "Gather") != 0 || (n->domain && *n->domain) || n->n_input != 2 ||
      n->n_output != 1)
    return false;
  const Onnx__TensorProto *idx = kat__onnx_const(g, n->input[1]);
  int64_t k;
  size_t cnt;
  if (!idx || idx->n_dims != 0 || kat__onnx_tensor_ints(idx, &k, 1, &cnt) != KAT_OK || cnt != 1)
    return false;
  int64_t ax = kat__onnx_attr_int(n, "axis", 0);
  kat__onnx_shape s;
  /* The inferred table already holds the declared shapes (and fills in their unknown sizes). */
  bool have =
      sh ? kat__onnx_shapes_get(sh, n->input[0], &s) : kat__onnx_shape_of(g, n->input[0], &s);
  have = have && s.rank > 0;
  /* Element picks from 1-D tensors (shape arithmetic such as Gather(Shape(x), 2)) are not the
   * pattern: providers handle them on the host. A value the inference tracks as a small integer
   * vector is such shape arithmetic too. */
  int p = kat__onnx_producer(g, n->input[0]);
  int64_t vals[KAT_ONNX_MAX_RANK];
  bool known[KAT_ONNX_MAX_RANK];
  if ((have && s.rank < 2) || (p >= 0 && strcmp(g->node[p]->op_type, "Shape") == 0) ||
      kat__onnx_shapes_values(sh, n->input[0], vals, known, KAT_ONNX_MAX_RANK) >= 0)
    return false;
  if (ax == -1) {
    *dim = have ? s.dims[s.rank - 1] : -1;
  } else {
    if (!have || ax != s.rank - 1) return false;
    *dim = s.dims[s.rank - 1];
  }
  if (k < 0 && *dim > 0) k += *dim;
  *axis = ax;
  *index = k;
  return true;
}

/* Replaces Gather node `i` (scalar index k on axis `axis`, the last one) by
 * Slice(data, [k], [k + 1], [axis]) -> Squeeze(axis); needs opset >= 10. */
static int slice_one(Onnx__GraphProto *g, kat__pass_ctx *c, int64_t opset, size_t i, int64_t axis,
                     int64_t k) {
  const Onnx__NodeProto *n = g->node[i];
  char sl_name[256], st_name[256], en_name[256], ax_name[256];
  kat__onnx_fresh_name(g, "gather_slice", &c->names, sl_name, sizeof sl_name);
  kat__onnx_fresh_name(g, "gather_slice_start", &c->names, st_name, sizeof st_name);
  kat__onnx_fresh_name(g, "gather_slice_end", &c->names, en_name, sizeof en_name);
  kat__onnx_fresh_name(g, "gather_slice_axes", &c->names, ax_name, sizeof ax_name);
  /* k = -1 is the last element: its end is "to the end", not 0. */
  int64_t one = 1, end = k == -1 ? INT64_MAX : k + 1;
  Onnx__TensorProto *ts = kat__onnx_tensor_i64(st_name, &one, 1, &k, 1);
  Onnx__TensorProto *te = kat__onnx_tensor_i64(en_name, &one, 1, &end, 1);
  Onnx__TensorProto *ta = kat__onnx_tensor_i64(ax_name, &one, 1, &axis, 1);
  const char *sl_in[4] = {n->input[0], st_name, en_name, ax_name}, *sl_out[1] = {sl_name};
  const char *sq_in[2] = {sl_name, ax_name}, *sq_out[1] = {n->output[0]};
  Onnx__NodeProto *sl = kat__onnx_node_new("Slice", sl_name, 4, sl_in, 1, sl_out);
  Onnx__NodeProto *sq =
      kat__onnx_node_new("Squeeze", n->name, opset >= 13 ? 2 : 1, sq_in, 1, sq_out);
  int rc = ts && te && ta && sl && sq ? KAT_OK : KAT_ENOMEM;
  if (rc == KAT_OK && opset < 13) rc = kat__onnx_node_set_ints(sq, "axes", &axis, 1);
  if (rc == KAT_OK) {
    rc = kat__onnx_graph_add_initializer(g, ts);
    ts = NULL;
    if (rc == KAT_OK) rc = kat__onnx_graph_add_initializer(g, te);
    te = NULL;
    if (rc == KAT_OK) rc = kat__onnx_graph_add_initializer(g, ta);
    ta = NULL;
  }
  if (rc == KAT_OK) {
    kat__onnx_graph_replace(g, i, sq);
    sq = NULL;
    rc = kat__onnx_graph_insert(g, i, sl);
    sl = NULL;
  }
  kat__onnx_free_message(ts);
  kat__onnx_free_message(te);
  kat__onnx_free_message(ta);
  kat__onnx_free_message(sl);
  kat__onnx_free_message(sq);
  return rc;
}

/*
 * Long (about 150 lines): one match-and-rewrite loop whose nodes, initializers and new names are
 * built and freed together under one exit; the per-site rewrite is the candidate to extract.
 */
int kat__pass_gather_to_split(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  int64_t opset = kat__onnx_opset(m, "");
  *changed = 0;
  int rc = KAT_OK, sliced = 0;
  char **done = NULL; /* data names already split, borrowed from the graph */
  size_t n_done = 0;
  kat__onnx_shapes *sh = NULL;
  rc = kat__onnx_shapes_infer(g, opset, &sh, eb);
  if (rc) return rc;
  done = kat__calloc(g->n_node + 1, sizeof *done);
  if (!done) {
    kat__onnx_shapes_destroy(sh);
    return kat__fail(eb, KAT_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < g->n_node; i++) {
    int64_t axis, index, dim;
    if (!kat__match_gather_last(g, sh, i, &axis, &index, &dim)) continue;
    char data[512]; /* copied: the Gather holding the name is replaced below */
    if (kat__strlcpy(data, g->node[i]->input[0], sizeof data) >= sizeof data) continue;
    bool seen = false;
    for (size_t d = 0; d < n_done; d++) seen = seen || strcmp(done[d], data) == 0;
    if (seen) continue;
    if (dim <= 0 || dim > MAX_PARTS) {
      /* No size (or too many parts for a Split): Slice + Squeeze of this one pick. */
      if (opset < 10 || (dim > 0 && (index < 0 || index >= dim))) {
        kat__sb_printf(c->log, "  gather-to-split: %s: %s, left alone\n",
                       g->node[i]->name ? g->node[i]->name : "Gather",
                       opset < 10 ? "axis size unknown below opset 10" : "index out of range");
        continue;
      }
      if ((rc = slice_one(g, c, opset, i, axis, index)) != KAT_OK) {
        rc = kat__fail(eb, rc, "gather-to-split: out of memory");
        goto done;
      }
      i++;
      sliced++;
      (*changed)++;
      continue;
    }
    kat__onnx_shape s;
    int64_t split_axis = axis;
    if (axis < 0 && kat__onnx_shapes_get(sh, data, &s) && s.rank > 0) split_axis = s.rank - 1;
    if (split_axis < 0 && opset < 11) continue; /* negative axes need opset 11 */
    /* Names: one Split output per part. */
    char **parts = kat__calloc((size_t)dim, sizeof *parts);
    char split_name[256], sizes_name[256], axes_name[256];
    Onnx__NodeProto *split = NULL;
    if (!parts) {
      rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
      goto done;
    }
    for (int64_t p = 0; p < dim && rc == KAT_OK; p++) {
      char nm[256];
      kat__onnx_fresh_name(g, "split_part", &c->names, nm, sizeof nm);
      char buf[300];
      snprintf(buf, sizeof buf, "%s_%lld", nm, (long long)p);
      parts[p] = kat__strdup(buf);
      if (!parts[p]) rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    }
    kat__onnx_fresh_name(g, "gather_to_split", &c->names, split_name, sizeof split_name);
    kat__onnx_fresh_name(g, "split_sizes", &c->names, sizes_name, sizeof sizes_name);
    kat__onnx_fresh_name(g, "squeeze_axes", &c->names, axes_name, sizeof axes_name);
    if (rc == KAT_OK) {
      const char *in[2] = {data, sizes_name};
      split = kat__onnx_node_new("Split", split_name, opset >= 13 ? 2 : 1, in, (size_t)dim,
                                 (const char *const *)parts);
      if (!split) rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    }
    if (rc == KAT_OK) rc = kat__onnx_node_set_int(split, "axis", split_axis);
    if (rc == KAT_OK && opset < 13) {
      int64_t *ones = kat__malloc((size_t)dim * sizeof *ones);
      if (!ones) rc = KAT_ENOMEM;
      for (int64_t p = 0; ones && p < dim; p++) ones[p] = 1;
      if (ones) rc = kat__onnx_node_set_ints(split, "split", ones, (size_t)dim);
      kat__free(ones);
    }
    if (rc == KAT_OK && opset >= 13) {
      int64_t *ones = kat__malloc((size_t)dim * sizeof *ones);
      Onnx__TensorProto *t = NULL;
      for (int64_t p = 0; ones && p < dim; p++) ones[p] = 1;
      if (ones) t = kat__onnx_tensor_i64(sizes_name, &dim, 1, ones, (size_t)dim);
      kat__free(ones);
      rc = t ? kat__onnx_graph_add_initializer(g, t) : KAT_ENOMEM;
      if (rc == KAT_OK) {
        int64_t one = 1;
        t = kat__onnx_tensor_i64(axes_name, &one, 1, &split_axis, 1);
        rc = t ? kat__onnx_graph_add_initializer(g, t) : KAT_ENOMEM;
      }
    }
    /* Replace every matching Gather of `data` by a Squeeze of its part. */
    int rewritten = 0;
    for (size_t j = i; j < g->n_node && rc == KAT_OK; j++) {
      int64_t ax2, k2, dim2;
      if (!kat__match_gather_last(g, sh, j, &ax2, &k2, &dim2) ||
          strcmp(g->node[j]->input[0], data) != 0)
        continue;
      if (k2 < 0 || k2 >= dim) continue; /* out of range: ORT would fail; leave it to fail */
      const char *in[2] = {parts[k2], axes_name};
      const char *out[1] = {g->node[j]->output[0]};
      Onnx__NodeProto *sq =
          kat__onnx_node_new("Squeeze", g->node[j]->name, opset >= 13 ? 2 : 1, in, 1, out);
      if (!sq) {
        rc = KAT_ENOMEM;
        break;
      }
      if (opset < 13 && (rc = kat__onnx_node_set_ints(sq, "axes", &split_axis, 1)) != KAT_OK) {
        kat__onnx_free_message(sq);
        break;
      }
      kat__onnx_graph_replace(g, j, sq);
      rewritten++;
    }
    if (rc == KAT_OK) {
      /* The first Gather of `data` was node i; the Split goes right before it. The data's own
       * name is still borrowed from another node or value, which the rewrite did not touch. */
      done[n_done++] = split->input[0];
      rc = kat__onnx_graph_insert(g, i, split);
      split = NULL;
      i++;
      *changed += rewritten;
      kat__sb_printf(c->log,
                     "  gather-to-split: %s: %d Gather(s) on axis %lld of size %lld -> "
                     "one Split + Squeeze\n",
                     data, rewritten, (long long)split_axis, (long long)dim);
    }
    kat__onnx_free_message(split);
    for (int64_t p = 0; p < dim; p++) kat__free(parts[p]);
    kat__free(parts);
    if (rc) {
      rc = kat__fail(eb, rc, "gather-to-split: out of memory");
      goto done;
    }
  }
  if (sliced)
    kat__sb_printf(c->log,
                   "  gather-to-split: %d Gather(s) on a last axis of unknown size -> Slice + "
                   "Squeeze\n",
                   sliced);
  if (*changed) {
    kat__onnx_prune_dead(g); /* Constant nodes that held the indices */
    kat__onnx_prune_initializers(g);
  }
done:
  kat__onnx_shapes_destroy(sh);
  kat__free(done);
  return rc;
}
