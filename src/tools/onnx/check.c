/*
 * The numeric check of the rewrite passes: runs a serialized model once in ONNX Runtime (CPU,
 * through the session wrapper of src/runtime/session.h) on seeded random inputs, and compares
 * the outputs of two runs. Inputs are drawn from a generator seeded by the option seed and the
 * input's name, so two graphs with the same input names get identical inputs whatever their
 * order.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/onnx/passes.h"
#include "runtime/session.h"

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* Size for a symbolic dim named `param` (NULL when unnamed). */
static int64_t dim_size(const kat__onnx_rewrite_options *o, const char *param) {
  if (param)
    for (int i = 0; i < o->n_dims; i++)
      if (o->dims[i].name && strcmp(o->dims[i].name, param) == 0) return o->dims[i].value;
  return o->default_dim > 0 ? o->default_dim : 4;
}

static int fill_input(void *buf, kat__dtype dt, size_t count, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < count; i++) {
    uint64_t r = splitmix(&s);
    switch (dt) {
      case KAT_DT_F32:
        ((float *)buf)[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2 - 1);
        break;
      case KAT_DT_I64: ((int64_t *)buf)[i] = (int64_t)(r & 1); break;
      case KAT_DT_I32: ((int32_t *)buf)[i] = (int32_t)(r & 1); break;
      case KAT_DT_BOOL:
      case KAT_DT_U8:
      case KAT_DT_I8: ((uint8_t *)buf)[i] = (uint8_t)(r & 1); break;
      default: return KAT_ENOTSUP;
    }
  }
  return KAT_OK;
}

void kat__onnx_run_result_cleanup(kat__onnx_run_result *res) {
  for (int i = 0; i < res->n; i++) kat__free(res->out[i].data);
  memset(res, 0, sizeof *res);
}

int kat__onnx_run(const uint8_t *bytes, size_t size, const kat__onnx_model *decl,
                  const kat__onnx_rewrite_options *opt, kat__onnx_run_result *res,
                  kat__errbuf *eb) {
  memset(res, 0, sizeof *res);
  int rc = KAT_OK;
  kat__session *s = NULL;
  void *inbuf[KAT_MAX_IO] = {0};
  kat_ep_config ep;
  memset(&ep, 0, sizeof ep);
  ep.kind = KAT_EP_CPU;
  ep.intra_op_threads = 1;
  ep.graph_opt_level = 1;
  rc = kat__session_create(NULL, bytes, size, &ep, KAT_EP_FALLBACK_ERROR, "onnx-check", &s, eb);
  if (rc) goto done;
  int n_in = kat__session_input_count(s), n_out = kat__session_output_count(s);
  if (n_out > KAT_ONNX_RUN_MAX_OUT) {
    rc = kat__fail(eb, KAT_ENOTSUP, "%s: %d outputs, the check handles %d", decl->path, n_out,
                   KAT_ONNX_RUN_MAX_OUT);
    goto done;
  }
  for (int i = 0; i < n_in && i < KAT_MAX_IO; i++) {
    const kat__tensor_spec *sp = kat__session_input(s, i);
    kat__onnx_shape decl_shape;
    bool have = kat__onnx_shape_of(decl->proto->graph, sp->name, &decl_shape);
    int64_t shape[KAT_MAX_RANK];
    size_t count = 1;
    for (int d = 0; d < sp->rank; d++) {
      shape[d] = sp->dims[d];
      if (shape[d] < 0)
        shape[d] = dim_size(opt, have && d < decl_shape.rank ? decl_shape.params[d] : NULL);
      if (!kat__size_mul(count, (size_t)shape[d], &count)) {
        rc = kat__fail(eb, KAT_ERANGE, "input %s too large", sp->name);
        goto done;
      }
    }
    size_t es = kat__dtype_size(sp->dtype), bytes_n;
    if (!es) {
      rc = kat__fail(eb, KAT_ENOTSUP, "%s: input %s has a dtype the check cannot generate",
                     decl->path, sp->name);
      goto done;
    }
    if (!kat__size_mul(count, es, &bytes_n) || !(inbuf[i] = kat__malloc(bytes_n ? bytes_n : 1))) {
      rc = kat__fail(eb, KAT_ENOMEM, "out of memory for input %s", sp->name);
      goto done;
    }
    rc = fill_input(inbuf[i], sp->dtype, count, (opt->seed ? opt->seed : 1) ^ name_hash(sp->name));
    if (rc) {
      rc = kat__fail(eb, rc, "%s: input %s has dtype %s, which the check cannot generate",
                     decl->path, sp->name, kat__dtype_name(sp->dtype));
      goto done;
    }
    rc = kat__session_bind_input(s, i, inbuf[i], shape, sp->rank, eb);
    if (rc) goto done;
  }
  rc = kat__session_run(s, eb);
  if (rc) goto done;
  for (int i = 0; i < n_out; i++) {
    const kat__tensor_spec *sp = kat__session_output(s, i);
    kat__onnx_tensor *t = &res->out[res->n++];
    kat__strlcpy(t->name, sp->name, sizeof t->name);
    t->elem = (int32_t)sp->dtype;
    const void *data = kat__session_output_data(s, i, t->dims, &t->rank);
    size_t count = 1, es = kat__dtype_size(sp->dtype), nb;
    for (int d = 0; d < t->rank; d++) count *= (size_t)t->dims[d];
    t->count = count;
    if (!es || !kat__size_mul(count, es, &nb) || !(t->data = kat__malloc(nb ? nb : 1))) {
      rc = kat__fail(eb, KAT_ENOMEM, "output %s: unsupported dtype or out of memory", sp->name);
      goto done;
    }
    if (nb && data) memcpy(t->data, data, nb);
  }
done:
  kat__session_destroy(s);
  for (int i = 0; i < KAT_MAX_IO; i++) kat__free(inbuf[i]);
  if (rc) kat__onnx_run_result_cleanup(res);
  return rc;
}

static double value_at(const kat__onnx_tensor *t, size_t i) {
  switch (t->elem) {
    case KAT_ONNX_FLOAT: return ((const float *)t->data)[i];
    case KAT_ONNX_DOUBLE: return ((const double *)t->data)[i];
    case KAT_ONNX_INT64: return (double)((const int64_t *)t->data)[i];
    case KAT_ONNX_INT32: return ((const int32_t *)t->data)[i];
    case KAT_ONNX_BOOL:
    case KAT_ONNX_UINT8: return ((const uint8_t *)t->data)[i];
    case KAT_ONNX_INT8: return ((const int8_t *)t->data)[i];
    default: return NAN;
  }
}

int kat__onnx_compare(const kat__onnx_run_result *a, const kat__onnx_run_result *b, double *max_abs,
                      double *max_rel, char *worst, size_t worst_size, kat__errbuf *eb) {
  *max_abs = 0;
  *max_rel = 0;
  if (worst_size) worst[0] = 0;
  for (int i = 0; i < a->n; i++) {
    const kat__onnx_tensor *x = &a->out[i], *y = NULL;
    for (int j = 0; j < b->n; j++)
      if (strcmp(b->out[j].name, x->name) == 0) y = &b->out[j];
    if (!y) return kat__fail(eb, KAT_ECHECK, "output %s is missing after the rewrite", x->name);
    if (x->elem != y->elem || x->rank != y->rank || x->count != y->count)
      return kat__fail(
          eb, KAT_ECHECK, "output %s changed dtype or shape (%s rank %d -> %s rank %d)", x->name,
          kat__onnx_elem_name(x->elem), x->rank, kat__onnx_elem_name(y->elem), y->rank);
    for (int d = 0; d < x->rank; d++)
      if (x->dims[d] != y->dims[d])
        return kat__fail(eb, KAT_ECHECK, "output %s changed shape on axis %d: %lld -> %lld",
                         x->name, d, (long long)x->dims[d], (long long)y->dims[d]);
    double amax = 0, dmax = 0;
    for (size_t k = 0; k < x->count; k++) {
      double va = value_at(x, k), vb = value_at(y, k);
      double d = fabs(va - vb);
      if (isnan(va) != isnan(vb)) d = INFINITY;
      if (isnan(va) && isnan(vb)) d = 0;
      if (!(d <= dmax)) dmax = d;
      if (fabs(va) > amax) amax = fabs(va);
    }
    double rel = dmax / (amax + 1e-6);
    if (!(dmax <= *max_abs)) {
      *max_abs = dmax;
      if (worst_size) kat__strlcpy(worst, x->name, worst_size);
    }
    if (!(rel <= *max_rel)) *max_rel = rel;
  }
  return KAT_OK;
}
