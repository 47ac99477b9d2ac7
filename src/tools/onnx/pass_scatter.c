/*
 * scatternd-to-concat: a ScatterND that writes `x[d0, ..., d_{a-1}, :n] = u` (every index of the
 * leading axes, and a leading slice 0..n-1 of axis a) becomes
 *     Concat(u, Slice(x, starts = [shape(u)[a]], ends = [INT64_MAX], axes = [a]), axis = a),
 * which is what `k[:, :, :n] = f(k[:, :, :n])` means. TensorRT and CoreML run a Concat natively;
 * ScatterND falls back or is slow.
 *
 * Matcher. The index tensor is usually built by a chain of Range/Expand/Unsqueeze/Concat (what
 * torch.onnx.export emits for slice assignment) or is a constant. Rather than pattern-match every
 * spelling of that chain, the matcher evaluates it: it runs a copy of the model in ONNX Runtime
 * with the index tensor and Shape(x) as outputs (on the numeric check's inputs) and requires the
 * index tensor [s0, ..., s_{q-1}, q] to hold exactly (i0, ..., i_{q-1}) at each position, with
 * s_j equal to x's size for j < q-1 and s_{q-1} = n <= x's size on axis a = q-1. The slice start
 * of the rewrite is taken from the update's runtime shape, so the rewrite does not assume n.
 */
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"

/* Builds and runs the probe model: outputs = [indices, Shape(x)]. */
static int probe(const kat__onnx_model *m, const Onnx__NodeProto *sc, kat__pass_ctx *c,
                 kat__onnx_run_result *res, kat__errbuf *eb) {
  uint8_t *buf = NULL;
  size_t size = 0;
  kat__onnx_model *cp = NULL;
  int rc = kat__onnx_serialize(m, &buf, &size, eb);
  if (rc) return rc;
  rc = kat__onnx_load_buffer(buf, size, m->path, &cp, eb);
  kat__free(buf);
  buf = NULL;
  if (rc) return rc;
  Onnx__GraphProto *g = cp->proto->graph;
  char shape_name[256];
  unsigned counter = 0;
  kat__onnx_fresh_name(g, "probe_shape", &counter, shape_name, sizeof shape_name);
  const char *in[1] = {sc->input[0]};
  const char *out[1] = {shape_name};
  Onnx__NodeProto *sh = kat__onnx_node_new("Shape", shape_name, 1, in, 1, out);
  if (!sh || kat__onnx_graph_insert(g, g->n_node, sh) != KAT_OK) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < g->n_output; i++) kat__onnx_free_message(g->output[i]);
  g->n_output = 0;
  if ((rc = kat__onnx_graph_add_output(g, sc->input[1], KAT_ONNX_INT64, NULL)) != KAT_OK ||
      (rc = kat__onnx_graph_add_output(g, shape_name, KAT_ONNX_INT64, NULL)) != KAT_OK) {
    rc = kat__fail(eb, rc, "out of memory");
    goto done;
  }
  rc = kat__onnx_serialize(cp, &buf, &size, eb);
  if (rc) goto done;
  rc = kat__onnx_run(buf, size, m, c->opt, res, eb);
done:
  kat__free(buf);
  kat__onnx_destroy(cp);
  return rc;
}

/* Checks the probe's result; returns the axis a (>= 0) or -1 when the pattern does not hold. */
static int verify(const kat__onnx_run_result *r) {
  if (r->n != 2) return -1;
  const kat__onnx_tensor *idx = &r->out[0], *xs = &r->out[1];
  if (idx->elem != KAT_ONNX_INT64 || xs->elem != KAT_ONNX_INT64 || idx->rank < 2) return -1;
  int q = (int)idx->dims[idx->rank - 1];
  if (q < 1 || idx->rank != q + 1 || (size_t)q > xs->count) return -1;
  const int64_t *xd = xs->data, *iv = idx->data;
  for (int j = 0; j < q - 1; j++)
    if (idx->dims[j] != xd[j]) return -1;
  if (idx->dims[q - 1] > xd[q - 1]) return -1;
  /* Walk every position in row-major order and compare with its own coordinates. */
  int64_t pos[KAT_ONNX_MAX_RANK] = {0};
  size_t rows = idx->count / (size_t)q;
  for (size_t r0 = 0; r0 < rows; r0++) {
    for (int j = 0; j < q; j++)
      if (iv[r0 * (size_t)q + (size_t)j] != pos[j]) return -1;
    for (int j = q - 1; j >= 0; j--) {
      if (++pos[j] < idx->dims[j]) break;
      pos[j] = 0;
    }
  }
  return q - 1;
}

int kat__pass_scatternd_to_concat(kat__onnx_model *m, kat__pass_ctx *c, int *changed,
                                  kat__errbuf *eb) {
  Onnx__GraphProto *g = m->proto->graph;
  *changed = 0;
  if (kat__onnx_opset(m, "") < 11) return KAT_OK; /* Slice with inputs, negative-free axes */
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *sc = g->node[i];
    if (strcmp(sc->op_type, "ScatterND") != 0 || (sc->domain && *sc->domain) || sc->n_input != 3 ||
        sc->n_output != 1)
      continue;
    const Onnx__AttributeProto *red = kat__onnx_attr(sc, "reduction");
    if (red && red->has_s && !(red->s.len == 4 && memcmp(red->s.data, "none", 4) == 0)) continue;
    kat__onnx_run_result r;
    kat__errbuf peb;
    int rc = probe(m, sc, c, &r, &peb);
    if (rc) {
      kat__sb_printf(c->log, "  scatternd-to-concat: %s: could not evaluate its indices (%s)\n",
                     sc->name ? sc->name : "ScatterND", peb.msg);
      continue;
    }
    int a = verify(&r);
    kat__onnx_run_result_cleanup(&r);
    if (a < 0) {
      kat__sb_printf(c->log,
                     "  scatternd-to-concat: %s: indices are not a leading slice, left "
                     "alone\n",
                     sc->name ? sc->name : "ScatterND");
      continue;
    }
    /* New values: shape(u), its element a, Slice(x) and the Concat writing the output. */
    char n_shape[256], n_start[256], n_gidx[256], n_end[256], n_axes[256], n_rest[256];
    kat__onnx_fresh_name(g, "scatter_upd_shape", &c->names, n_shape, sizeof n_shape);
    kat__onnx_fresh_name(g, "scatter_start", &c->names, n_start, sizeof n_start);
    kat__onnx_fresh_name(g, "scatter_axis_index", &c->names, n_gidx, sizeof n_gidx);
    kat__onnx_fresh_name(g, "scatter_end", &c->names, n_end, sizeof n_end);
    kat__onnx_fresh_name(g, "scatter_axes", &c->names, n_axes, sizeof n_axes);
    kat__onnx_fresh_name(g, "scatter_rest", &c->names, n_rest, sizeof n_rest);
    int64_t one = 1, av = a, big = INT64_MAX;
    Onnx__TensorProto *t1 = kat__onnx_tensor_i64(n_gidx, &one, 1, &av, 1);
    Onnx__TensorProto *t2 = kat__onnx_tensor_i64(n_end, &one, 1, &big, 1);
    Onnx__TensorProto *t3 = kat__onnx_tensor_i64(n_axes, &one, 1, &av, 1);
    const char *shp_in[1] = {sc->input[2]}, *shp_out[1] = {n_shape};
    const char *gat_in[2] = {n_shape, n_gidx}, *gat_out[1] = {n_start};
    const char *sl_in[4] = {sc->input[0], n_start, n_end, n_axes}, *sl_out[1] = {n_rest};
    const char *cc_in[2] = {sc->input[2], n_rest}, *cc_out[1] = {sc->output[0]};
    Onnx__NodeProto *nodes[4] = {kat__onnx_node_new("Shape", n_shape, 1, shp_in, 1, shp_out),
                                 kat__onnx_node_new("Gather", n_start, 2, gat_in, 1, gat_out),
                                 kat__onnx_node_new("Slice", n_rest, 4, sl_in, 1, sl_out),
                                 kat__onnx_node_new("Concat", sc->name, 2, cc_in, 1, cc_out)};
    rc = (t1 && t2 && t3 && nodes[0] && nodes[1] && nodes[2] && nodes[3]) ? KAT_OK : KAT_ENOMEM;
    if (rc == KAT_OK) rc = kat__onnx_node_set_int(nodes[1], "axis", 0);
    if (rc == KAT_OK) rc = kat__onnx_node_set_int(nodes[3], "axis", a);
    if (rc == KAT_OK) {
      rc = kat__onnx_graph_add_initializer(g, t1);
      t1 = NULL;
      if (rc == KAT_OK) rc = kat__onnx_graph_add_initializer(g, t2);
      t2 = NULL;
      if (rc == KAT_OK) rc = kat__onnx_graph_add_initializer(g, t3);
      t3 = NULL;
    }
    if (rc == KAT_OK) {
      kat__onnx_graph_replace(g, i, nodes[3]);
      nodes[3] = NULL;
      for (int k = 2; k >= 0 && rc == KAT_OK; k--) {
        rc = kat__onnx_graph_insert(g, i, nodes[k]);
        nodes[k] = NULL;
      }
      i += 3;
    }
    kat__onnx_free_message(t1);
    kat__onnx_free_message(t2);
    kat__onnx_free_message(t3);
    for (int k = 0; k < 4; k++) kat__onnx_free_message(nodes[k]);
    if (rc) return kat__fail(eb, rc, "scatternd-to-concat: out of memory");
    (*changed)++;
    kat__sb_printf(c->log, "  scatternd-to-concat: ScatterND -> Concat on axis %d\n", a);
  }
  if (*changed) {
    size_t dead = kat__onnx_prune_dead(g);
    kat__onnx_prune_initializers(g);
    kat__sb_printf(c->log, "  scatternd-to-concat: removed %zu index-building nodes\n", dead);
  }
  return KAT_OK;
}
