/*
 * katana.json reader: parses the manifest with the strict JSON parser and validates it against
 * docs/bundle-format.md (format_version 1 or 2; 2 adds the mask decoder's mask_input and
 * has_mask_input and the mask_downsample constants, 1 has none of them).
 *
 * The order of checks is: format and format_version first (so a newer bundle is reported as such,
 * not as a pile of missing fields), then the scalar fields and their derived sizes, then tracker
 * and samurai, then each module's tensor lists against the module contract table below, then the
 * constants table. The first problem found ends the parse; its message names the field path
 * (modules.mask_decoder.inputs[2].shape[1]) and the tensor where there is one, and the line:column
 * of the JSON value.
 */
#include "model/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/validate.h"
#include "model/json.h"

#define PATH_MAX_LEN 160

typedef struct mctx {
  const char *origin;
  kat__errbuf *eb;
  kat__manifest *m;
} mctx;

static int merr(mctx *c, const kat__json *at, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int merr(mctx *c, const kat__json *at, int status, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at) {
    int line, col;
    kat__json_pos(at, &line, &col);
    return kat__fail(c->eb, status, "%s:%d:%d: %s", c->origin, line, col, msg);
  }
  return kat__fail(c->eb, status, "%s: %s", c->origin, msg);
}

/* snprintf for field paths; a path cut at the buffer's end is harmless in a message. */
static void pfmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pfmt(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

/* "a.b" from path "a" and key "b" (just "b" when path is empty). */
static void join(char *buf, size_t n, const char *path, const char *key) {
  pfmt(buf, n, "%s%s%s", path, path[0] ? "." : "", key);
}

static int get_field(mctx *c, const kat__json *obj, const char *path, const char *key,
                     kat__json_kind want, const kat__json **out) {
  char full[PATH_MAX_LEN];
  join(full, sizeof full, path, key);
  const kat__json *v = kat__json_get(obj, key);
  if (!v) return merr(c, obj, KAT_EMODEL, "missing field '%s'", full);
  if (kat__json_type(v) != want) {
    return merr(c, v, KAT_EMODEL, "field '%s' must be a%s %s, found %s", full,
                want == KAT_JSON_ARRAY || want == KAT_JSON_OBJECT ? "n" : "",
                kat__json_type_name(want), kat__json_type_name(kat__json_type(v)));
  }
  *out = v;
  return KAT_OK;
}

static int get_bool(mctx *c, const kat__json *obj, const char *path, const char *key, bool *out) {
  const kat__json *v;
  int rc = get_field(c, obj, path, key, KAT_JSON_BOOL, &v);
  if (!rc) kat__json_bool(v, out);
  return rc;
}

static int get_num(mctx *c, const kat__json *obj, const char *path, const char *key, double *out) {
  const kat__json *v;
  int rc = get_field(c, obj, path, key, KAT_JSON_NUMBER, &v);
  if (!rc) kat__json_double(v, out);
  return rc;
}

/* An integer value `v` (already found) in [lo, hi]; `full` names it. */
static int as_int(mctx *c, const kat__json *v, const char *full, int64_t lo, int64_t hi,
                  int64_t *out) {
  int64_t x;
  if (kat__json_type(v) != KAT_JSON_NUMBER) {
    return merr(c, v, KAT_EMODEL, "field '%s' must be an integer, found %s", full,
                kat__json_type_name(kat__json_type(v)));
  }
  if (!kat__json_int64(v, &x)) {
    double d = 0;
    kat__json_double(v, &d);
    return merr(c, v, KAT_EMODEL, "field '%s' must be an integer, found %g", full, d);
  }
  if (x < lo || x > hi) {
    return merr(c, v, KAT_EMODEL, "field '%s' is %lld, expected %lld..%lld", full, (long long)x,
                (long long)lo, (long long)hi);
  }
  *out = x;
  return KAT_OK;
}

static int get_int(mctx *c, const kat__json *obj, const char *path, const char *key, int64_t lo,
                   int64_t hi, int *out) {
  char full[PATH_MAX_LEN];
  int64_t x;
  join(full, sizeof full, path, key);
  const kat__json *v = kat__json_get(obj, key);
  if (!v) return merr(c, obj, KAT_EMODEL, "missing field '%s'", full);
  int rc = as_int(c, v, full, lo, hi, &x);
  if (!rc) *out = (int)x;
  return rc;
}

/* A string without NUL bytes that fits `cap` (with its NUL). */
static int get_str(mctx *c, const kat__json *obj, const char *path, const char *key, char *buf,
                   size_t cap, const kat__json **node) {
  char full[PATH_MAX_LEN];
  const kat__json *v;
  size_t len;
  join(full, sizeof full, path, key);
  int rc = get_field(c, obj, path, key, KAT_JSON_STRING, &v);
  if (rc) return rc;
  const char *s = kat__json_string(v, &len);
  if (len == 0) return merr(c, v, KAT_EMODEL, "field '%s' must not be empty", full);
  if (strlen(s) != len) return merr(c, v, KAT_EMODEL, "field '%s' contains a NUL character", full);
  if (len >= cap) {
    return merr(c, v, KAT_EMODEL, "field '%s' is %zu bytes long, the limit is %zu", full, len,
                cap - 1);
  }
  memcpy(buf, s, len + 1);
  if (node) *node = v;
  return KAT_OK;
}

/* mean/std: exactly three numbers; std must be positive. */
static int get_vec3(mctx *c, const kat__json *root, const char *key, bool positive, double out[3]) {
  const kat__json *v;
  int rc = get_field(c, root, "", key, KAT_JSON_ARRAY, &v);
  if (rc) return rc;
  if (kat__json_len(v) != 3) {
    return merr(c, v, KAT_EMODEL, "field '%s' must have 3 numbers (RGB), found %zu", key,
                kat__json_len(v));
  }
  for (size_t i = 0; i < 3; i++) {
    const kat__json *e = kat__json_at(v, i);
    if (!kat__json_double(e, &out[i])) {
      return merr(c, e, KAT_EMODEL, "field '%s[%zu]' must be a number, found %s", key, i,
                  kat__json_type_name(kat__json_type(e)));
    }
    if (positive && !(out[i] > 0)) {
      return merr(c, e, KAT_EMODEL, "field '%s[%zu]' must be positive, found %g", key, i, out[i]);
    }
  }
  return KAT_OK;
}

/* ---- tracker and samurai ----------------------------------------------------------------- */

typedef enum fkind { F_BOOL, F_INT, F_NUM } fkind;
typedef struct field_rule {
  const char *name;
  fkind kind;
  size_t off;
  int lo, hi;   /* F_INT range */
  int optional; /* 0: required; 1: optional, default false; 2: optional, default true */
} field_rule;

#define TB(f) \
  { #f, F_BOOL, offsetof(kat__tracker_flags, f), 0, 0, 0 }
#define TBO(f, dflt) \
  { #f, F_BOOL, offsetof(kat__tracker_flags, f), 0, 0, (dflt) ? 2 : 1 }
#define TI(f, lo, hi) \
  { #f, F_INT, offsetof(kat__tracker_flags, f), lo, hi, 0 }
#define TN(f) \
  { #f, F_NUM, offsetof(kat__tracker_flags, f), 0, 0, 0 }
static const field_rule k_tracker[] = {
    TB(add_tpos_enc_to_obj_ptrs),
    TB(proj_tpos_enc_in_obj_ptrs),
    TB(use_signed_tpos_enc_to_obj_ptrs),
    TB(only_obj_ptrs_in_the_past_for_eval),
    TB(directly_add_no_mem_embed),
    TB(pred_obj_scores),
    TB(fixed_no_obj_ptr),
    TB(soft_no_obj_ptr),
    TB(use_multimask_token_for_obj_ptr),
    TB(multimask_output_for_tracking),
    TB(multimask_output_in_sam),
    TI(multimask_min_pt_num, 0, 1000),
    TI(multimask_max_pt_num, 0, 1000),
    TB(dynamic_multimask_via_stability),
    TN(dynamic_multimask_stability_delta),
    TN(dynamic_multimask_stability_thresh),
    TN(sigmoid_scale_for_mem_enc),
    TN(sigmoid_bias_for_mem_enc),
    TI(memory_temporal_stride_for_eval, 1, 1000),
    TB(no_obj_embed_spatial),
    TB(binarize_mask_from_pts_for_mem_enc),
    TB(iou_prediction_use_sigmoid),
    TB(use_obj_ptrs_in_encoder),
};
#undef TB
#undef TBO
#undef TI
#undef TN

#define SI(f, lo, hi) \
  { #f, F_INT, offsetof(kat__samurai_defaults, f), lo, hi, 0 }
#define SN(f) \
  { #f, F_NUM, offsetof(kat__samurai_defaults, f), 0, 0, 0 }
static const field_rule k_samurai[] = {
    SI(stable_frames_threshold, 0, 1000000),
    SN(stable_ious_threshold),
    SN(min_obj_score_logits),
    SN(kf_score_weight),
    SN(memory_bank_iou_threshold),
    SN(memory_bank_obj_score_threshold),
    SN(memory_bank_kf_score_threshold),
};
#undef SI
#undef SN

static int parse_fields(mctx *c, const kat__json *root, const char *key, const field_rule *rules,
                        size_t n, void *dst) {
  const kat__json *obj;
  int rc = get_field(c, root, "", key, KAT_JSON_OBJECT, &obj);
  for (size_t i = 0; i < n && !rc; i++) {
    char *p = (char *)dst + rules[i].off;
    if (rules[i].optional && !kat__json_get(obj, rules[i].name)) {
      bool b = rules[i].optional == 2;
      memcpy(p, &b, sizeof b);
      continue;
    }
    switch (rules[i].kind) {
      case F_BOOL: {
        bool b = false;
        rc = get_bool(c, obj, key, rules[i].name, &b);
        if (!rc) memcpy(p, &b, sizeof b);
        break;
      }
      case F_INT: {
        int x = 0;
        rc = get_int(c, obj, key, rules[i].name, rules[i].lo, rules[i].hi, &x);
        if (!rc) memcpy(p, &x, sizeof x);
        break;
      }
      case F_NUM: {
        double d = 0;
        rc = get_num(c, obj, key, rules[i].name, &d);
        if (!rc) memcpy(p, &d, sizeof d);
        break;
      }
    }
  }
  return rc;
}

/* ---- tensor lists and the module contract ------------------------------------------------ */

/* Symbolic codes of the contract's dims (non-negative values are literal). */
enum {
  D_S = -1,   /* image_size */
  D_C = -2,   /* hidden_dim */
  D_CM = -3,  /* mem_dim */
  D_H = -4,   /* feat_size[0] */
  D_W = -5,   /* feat_size[1] */
  D_S4 = -6,  /* image_size / 4 = 4H */
  D_S8 = -7,  /* image_size / 8 = 2H */
  D_C8 = -10, /* hidden_dim / 8: channels of high_res_feats_0 (32 for C = 256) */
  D_C4 = -11, /* hidden_dim / 4: channels of high_res_feats_1 (64 for C = 256) */
  D_M = -8,   /* memory tokens: symbolic when dynamic, else fixed_tokens */
  D_DYN = -9  /* must be symbolic (number of points) */
};

/* When a contract tensor is part of the module. */
enum { W_ALL = 0, W_HIGH_RES = 1 /* use_high_res_features */, W_V2 = 2 /* format_version >= 2 */ };

typedef struct tensor_rule {
  const char *name;
  kat__dtype dtype;
  int rank;
  int dims[4];
  int when; /* W_ALL, W_HIGH_RES or W_V2 */
} tensor_rule;

typedef struct module_rule {
  const tensor_rule *in, *out;
  int n_in, n_out;
} module_rule;

static const tensor_rule k_enc_in[] = {{"image", KAT_DT_F32, 4, {1, 3, D_S, D_S}, W_ALL}};
static const tensor_rule k_enc_out[] = {
    {"vision_feats", KAT_DT_F32, 4, {1, D_C, D_H, D_W}, W_ALL},
    {"high_res_feats_0", KAT_DT_F32, 4, {1, D_C8, D_S4, D_S4}, W_HIGH_RES},
    {"high_res_feats_1", KAT_DT_F32, 4, {1, D_C4, D_S8, D_S8}, W_HIGH_RES}};
static const tensor_rule k_att_in[] = {{"curr", KAT_DT_F32, 4, {1, D_C, D_H, D_W}, W_ALL},
                                       {"memory", KAT_DT_F32, 3, {1, D_M, D_CM, 0}, W_ALL},
                                       {"memory_pos", KAT_DT_F32, 3, {1, D_M, D_CM, 0}, W_ALL},
                                       {"num_obj_ptr_tokens", KAT_DT_I64, 0, {0, 0, 0, 0}, W_ALL}};
static const tensor_rule k_att_out[] = {
    {"pix_feat_with_mem", KAT_DT_F32, 4, {1, D_C, D_H, D_W}, W_ALL}};
static const tensor_rule k_dec_in[] = {
    {"image_embed", KAT_DT_F32, 4, {1, D_C, D_H, D_W}, W_ALL},
    {"high_res_feats_0", KAT_DT_F32, 4, {1, D_C8, D_S4, D_S4}, W_HIGH_RES},
    {"high_res_feats_1", KAT_DT_F32, 4, {1, D_C4, D_S8, D_S8}, W_HIGH_RES},
    {"point_coords", KAT_DT_F32, 3, {1, D_DYN, 2, 0}, W_ALL},
    {"point_labels", KAT_DT_I32, 2, {1, D_DYN, 0, 0}, W_ALL},
    /* format 2: [1,1,S/4,S/4] f32 mask prompt logits and [1] f32 flag (> 0.5: use it) */
    {"mask_input", KAT_DT_F32, 4, {1, 1, D_S4, D_S4}, W_V2},
    {"has_mask_input", KAT_DT_F32, 1, {1, 0, 0, 0}, W_V2}};
static const tensor_rule k_dec_out[] = {{"masks", KAT_DT_F32, 4, {1, 4, D_S4, D_S4}, W_ALL},
                                        {"iou_pred", KAT_DT_F32, 2, {1, 4, 0, 0}, W_ALL},
                                        {"obj_score_logits", KAT_DT_F32, 2, {1, 1, 0, 0}, W_ALL},
                                        {"obj_ptr", KAT_DT_F32, 3, {1, 4, D_C, 0}, W_ALL}};
static const tensor_rule k_mem_in[] = {{"pix_feat", KAT_DT_F32, 4, {1, D_C, D_H, D_W}, W_ALL},
                                       {"mask_logits", KAT_DT_F32, 4, {1, 1, D_S4, D_S4}, W_ALL},
                                       {"is_mask_from_pts", KAT_DT_F32, 1, {1, 0, 0, 0}, W_ALL}};
static const tensor_rule k_mem_out[] = {
    {"maskmem_features", KAT_DT_F32, 4, {1, D_CM, D_H, D_W}, W_ALL}};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
static const module_rule k_modules[KAT_MANIFEST_MODULES] = {
    {k_enc_in, k_enc_out, N_OF(k_enc_in), N_OF(k_enc_out)},
    {k_att_in, k_att_out, N_OF(k_att_in), N_OF(k_att_out)},
    {k_dec_in, k_dec_out, N_OF(k_dec_in), N_OF(k_dec_out)},
    {k_mem_in, k_mem_out, N_OF(k_mem_in), N_OF(k_mem_out)},
    {k_att_in, k_att_out, N_OF(k_att_in), N_OF(k_att_out)}};

static const char *const k_module_names[KAT_MANIFEST_MODULES] = {
    "image_encoder", "memory_attention", "mask_decoder", "memory_encoder",
    "memory_attention_fixed"};

const char *kat__manifest_module_name(int module) {
  return module >= 0 && module < KAT_MANIFEST_MODULES ? k_module_names[module] : NULL;
}

const char *kat__family_name(kat__family f) {
  switch (f) {
    case KAT_FAMILY_EFFICIENTTAM: return "efficienttam";
    case KAT_FAMILY_SAM21: return "sam2.1";
  }
  return "unknown";
}

/* Parses a shape array into spec->rank/dims (symbolic: -1 and its name into sym). */
static int parse_shape(mctx *c, const kat__json *arr, const char *full, bool allow_sym,
                       kat__tensor_spec *spec, char sym[KAT_MAX_RANK][KAT_SYM_MAX]) {
  size_t rank = kat__json_len(arr);
  if (rank > KAT_MAX_RANK) {
    return merr(c, arr, KAT_EMODEL, "field '%s' has rank %zu, the limit is %d", full, rank,
                KAT_MAX_RANK);
  }
  spec->rank = (int)rank;
  for (size_t d = 0; d < rank; d++) {
    const kat__json *e = kat__json_at(arr, d);
    char name[PATH_MAX_LEN + 16];
    pfmt(name, sizeof name, "%s[%zu]", full, d);
    if (kat__json_type(e) == KAT_JSON_STRING) {
      size_t len;
      const char *s = kat__json_string(e, &len);
      if (!allow_sym) {
        return merr(c, e, KAT_EMODEL, "field '%s' is symbolic '%.31s'; constants need integer dims",
                    name, s);
      }
      if (len == 0 || len >= KAT_SYM_MAX || strlen(s) != len) {
        return merr(c, e, KAT_EMODEL, "field '%s': a symbolic dim needs a name of 1..%d bytes",
                    name, KAT_SYM_MAX - 1);
      }
      spec->dims[d] = -1;
      if (sym) memcpy(sym[d], s, len + 1);
      continue;
    }
    if (kat__json_type(e) != KAT_JSON_NUMBER) {
      return merr(c, e, KAT_EMODEL, "field '%s' must be an integer%s, found %s", name,
                  allow_sym ? " or a string (symbolic)" : "",
                  kat__json_type_name(kat__json_type(e)));
    }
    int rc = as_int(c, e, name, 1, INT64_C(1) << 40, &spec->dims[d]);
    if (rc) return rc;
  }
  return KAT_OK;
}

/* Reads modules.<mod>.<key> (inputs/outputs) into specs/syms; nodes[i] is element i's JSON. */
static int parse_tensor_list(mctx *c, const kat__json *modobj, const char *path, const char *key,
                             kat__tensor_spec *specs, char (*syms)[KAT_MAX_RANK][KAT_SYM_MAX],
                             int *n, const kat__json **nodes) {
  const kat__json *arr;
  char lpath[PATH_MAX_LEN];
  int rc = get_field(c, modobj, path, key, KAT_JSON_ARRAY, &arr);
  if (rc) return rc;
  join(lpath, sizeof lpath, path, key);
  size_t count = kat__json_len(arr);
  if (count == 0) return merr(c, arr, KAT_EMODEL, "field '%s' is empty", lpath);
  if (count > KAT_MAX_IO) {
    return merr(c, arr, KAT_EMODEL, "field '%s' has %zu tensors, the limit is %d", lpath, count,
                KAT_MAX_IO);
  }
  for (size_t i = 0; i < count; i++) {
    const kat__json *t = kat__json_at(arr, i), *shape, *dtn;
    char tpath[PATH_MAX_LEN], dt[32], full[PATH_MAX_LEN + 16];
    pfmt(tpath, sizeof tpath, "%s[%zu]", lpath, i);
    if (kat__json_type(t) != KAT_JSON_OBJECT) {
      return merr(c, t, KAT_EMODEL, "field '%s' must be an object, found %s", tpath,
                  kat__json_type_name(kat__json_type(t)));
    }
    kat__tensor_spec *s = &specs[i];
    memset(s, 0, sizeof *s);
    memset(syms[i], 0, sizeof syms[i]);
    if ((rc = get_str(c, t, tpath, "name", s->name, sizeof s->name, NULL))) return rc;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(specs[j].name, s->name) == 0) {
        return merr(c, t, KAT_EMODEL, "field '%s': tensor '%s' is listed twice", lpath, s->name);
      }
    }
    if ((rc = get_str(c, t, tpath, "dtype", dt, sizeof dt, &dtn))) return rc;
    s->dtype = kat__dtype_parse(dt);
    if (s->dtype == KAT_DT_UNDEFINED) {
      return merr(c, dtn, KAT_EMODEL, "field '%s.dtype' of tensor '%s': unknown dtype '%s'", tpath,
                  s->name, dt);
    }
    if ((rc = get_field(c, t, tpath, "shape", KAT_JSON_ARRAY, &shape))) return rc;
    pfmt(full, sizeof full, "%s.shape", tpath);
    if ((rc = parse_shape(c, shape, full, true, s, syms[i]))) return rc;
    nodes[i] = t;
  }
  *n = (int)count;
  return KAT_OK;
}

static void format_dims(const kat__tensor_spec *s, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  used += (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < s->rank && used < n; d++) {
    used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "," : "", (long long)s->dims[d]);
  }
  if (used < n) snprintf(buf + used, n - used, "]");
}

/* Checks one list against its contract rules. */
static int check_list(mctx *c, const kat__module_manifest *mod, const char *mpath, bool inputs,
                      const tensor_rule *rules, int n_rules, const kat__json **nodes) {
  const kat__manifest *m = c->m;
  const char *kind = inputs ? "inputs" : "outputs";
  int n = inputs ? mod->n_inputs : mod->n_outputs;
  const kat__tensor_spec *specs = inputs ? mod->inputs : mod->outputs;
  const char(*syms)[KAT_MAX_RANK][KAT_SYM_MAX] = inputs ? mod->input_sym : mod->output_sym;
  for (int r = 0; r < n_rules; r++) {
    const tensor_rule *tr = &rules[r];
    bool wanted = tr->when == W_ALL || (tr->when == W_HIGH_RES && m->use_high_res_features) ||
                  (tr->when == W_V2 && m->format_version >= 2);
    int i = -1;
    for (int k = 0; k < n; k++)
      if (strcmp(specs[k].name, tr->name) == 0) i = k;
    if (!wanted) {
      if (i >= 0 && inputs && tr->when == W_V2) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "%s.%s[%d] '%s': input of bundle format 2, but format_version is %d", mpath,
                    kind, i, tr->name, m->format_version);
      }
      if (i >= 0 && inputs) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "%s.%s[%d] '%s': input present but use_high_res_features is false", mpath, kind,
                    i, tr->name);
      }
      continue;
    }
    if (i < 0) {
      return merr(c, NULL, KAT_EMODEL,
                  "%s.%s: missing tensor '%s' required by the bundle format (version %d)", mpath,
                  kind, tr->name, m->format_version);
    }
    const kat__tensor_spec *s = &specs[i];
    if (s->dtype != tr->dtype) {
      return merr(c, nodes[i], KAT_EMODEL, "%s.%s[%d] '%s': dtype is %s, expected %s", mpath, kind,
                  i, tr->name, kat__dtype_name(s->dtype), kat__dtype_name(tr->dtype));
    }
    char have[128];
    format_dims(s, have, sizeof have);
    if (s->rank != tr->rank) {
      return merr(c, nodes[i], KAT_EMODEL, "%s.%s[%d] '%s': bad shape %s: rank %d, expected %d",
                  mpath, kind, i, tr->name, have, s->rank, tr->rank);
    }
    for (int d = 0; d < tr->rank; d++) {
      int64_t want;
      bool must_sym = false;
      switch (tr->dims[d]) {
        case D_S: want = m->image_size; break;
        case D_C: want = m->hidden_dim; break;
        case D_CM: want = m->mem_dim; break;
        case D_H: want = m->feat_h; break;
        case D_W: want = m->feat_w; break;
        case D_S4: want = m->image_size / 4; break;
        case D_S8: want = m->image_size / 8; break;
        case D_C8: want = m->hidden_dim / 8; break;
        case D_C4: want = m->hidden_dim / 4; break;
        case D_M:
          must_sym = mod->dynamic;
          want = mod->fixed_tokens;
          break;
        case D_DYN:
          must_sym = true;
          want = 0;
          break;
        default: want = tr->dims[d]; break;
      }
      if (must_sym && s->dims[d] != -1) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "%s.%s[%d] '%s': bad shape %s: dim %d is %lld but must be symbolic (dynamic)",
                    mpath, kind, i, tr->name, have, d, (long long)s->dims[d]);
      }
      if (!must_sym && s->dims[d] == -1) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "%s.%s[%d] '%s': bad shape: dim %d is symbolic '%s', expected %lld", mpath,
                    kind, i, tr->name, d, syms[i][d], (long long)want);
      }
      if (!must_sym && s->dims[d] != want) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "%s.%s[%d] '%s': bad shape %s: dim %d is %lld, expected %lld", mpath, kind, i,
                    tr->name, have, d, (long long)s->dims[d], (long long)want);
      }
    }
  }
  /* Inputs the host does not know how to feed are an error; extra outputs are only ignored. */
  for (int k = 0; k < n; k++) {
    bool known = false;
    for (int r = 0; r < n_rules; r++) known = known || strcmp(rules[r].name, specs[k].name) == 0;
    if (known) continue;
    if (inputs) {
      return merr(c, nodes[k], KAT_EMODEL, "%s.inputs[%d] '%s': not an input of the bundle format",
                  mpath, k, specs[k].name);
    }
    kat__log(KAT_LOG_DEBUG, "%s: %s.outputs[%d] '%s' is not used by katana", c->origin, mpath, k,
             specs[k].name);
  }
  return KAT_OK;
}

static bool is_plain_file_name(const char *s) {
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
  return strchr(s, '/') == NULL && strchr(s, '\\') == NULL && strchr(s, ':') == NULL;
}

/* A 64-hex-digit SHA-256 (stored lowercase) from obj.key. */
static int get_hash(mctx *c, const kat__json *obj, const char *path, const char *key, char *sha) {
  const kat__json *hn;
  char full[PATH_MAX_LEN];
  int rc;
  char tmp[80];
  if ((rc = get_str(c, obj, path, key, tmp, sizeof tmp, &hn)) == KAT_OK) {
    size_t n = strlen(tmp);
    bool ok = n == 64;
    for (size_t i = 0; i < n && ok; i++) {
      char ch = tmp[i];
      ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
      if (ch >= 'A' && ch <= 'F') tmp[i] = (char)(ch - 'A' + 'a');
    }
    join(full, sizeof full, path, key);
    if (!ok) return merr(c, hn, KAT_EMODEL, "field '%s' must be 64 hex digits", full);
    memcpy(sha, tmp, KAT_SHA256_HEX_SIZE);
    return KAT_OK;
  }
  if (rc == KAT_EMODEL && kat__json_type(kat__json_get(obj, key)) == KAT_JSON_STRING) {
    join(full, sizeof full, path, key);
    return merr(c, kat__json_get(obj, key), KAT_EMODEL, "field '%s' must be 64 hex digits", full);
  }
  return rc;
}

static int get_file_and_hash(mctx *c, const kat__json *obj, const char *path, char *file,
                             char *sha) {
  const kat__json *fn;
  char full[PATH_MAX_LEN];
  int rc = get_str(c, obj, path, "file", file, KAT_FILE_NAME_MAX, &fn);
  if (rc) return rc;
  join(full, sizeof full, path, "file");
  if (!is_plain_file_name(file)) {
    return merr(c, fn, KAT_EMODEL, "field '%s' is '%s'; it must be a plain file name in the bundle",
                full, file);
  }
  return get_hash(c, obj, path, "sha256", sha);
}

static int parse_module(mctx *c, const kat__json *modules, int slot) {
  kat__manifest *m = c->m;
  kat__module_manifest *mod = &m->modules[slot];
  const char *name = k_module_names[slot];
  const kat__json *obj, *in_nodes[KAT_MAX_IO], *out_nodes[KAT_MAX_IO];
  char path[PATH_MAX_LEN];
  int rc = get_field(c, modules, "modules", name, KAT_JSON_OBJECT, &obj);
  if (rc) return rc;
  join(path, sizeof path, "modules", name);
  if ((rc = get_file_and_hash(c, obj, path, mod->file, mod->sha256))) return rc;

  const kat__json *prec = kat__json_get(obj, "precision");
  kat__strlcpy(mod->precision, "fp32", sizeof mod->precision);
  if (prec) {
    char full[PATH_MAX_LEN];
    const char *p = kat__json_string(prec, NULL);
    join(full, sizeof full, path, "precision");
    if (!p || (strcmp(p, "fp32") != 0 && strcmp(p, "fp16") != 0 && strcmp(p, "int8") != 0))
      return merr(c, prec, KAT_EMODEL, "field '%s' must be \"fp32\", \"fp16\" or \"int8\"", full);
    kat__strlcpy(mod->precision, p, sizeof mod->precision);
  }

  const kat__json *ft = NULL;
  if (slot == KAT_MODULE_MEMORY_ATTENTION) {
    /* "dynamic": memory dim 1 symbolic; "fixed_tokens": null, or the M of the fixed variant
     * memory_attention_fixed.onnx ("fixed_file", "fixed_sha256"), which has the same tensors
     * with M fixed (and, when dynamic is false, the M of this module too). */
    char full[PATH_MAX_LEN];
    join(full, sizeof full, path, "fixed_tokens");
    if ((rc = get_bool(c, obj, path, "dynamic", &mod->dynamic))) return rc;
    ft = kat__json_get(obj, "fixed_tokens");
    if (!ft) return merr(c, obj, KAT_EMODEL, "missing field '%s' (null or an integer)", full);
    if (!kat__json_is_null(ft)) {
      if ((rc = as_int(c, ft, full, 1, 1 << 24, &mod->fixed_tokens))) return rc;
    }
    if (!mod->dynamic && mod->fixed_tokens == 0) {
      return merr(c, ft, KAT_EMODEL, "field '%s' must be an integer when dynamic is false", full);
    }
  }

  if ((rc = parse_tensor_list(c, obj, path, "inputs", mod->inputs, mod->input_sym, &mod->n_inputs,
                              in_nodes)))
    return rc;
  if ((rc = parse_tensor_list(c, obj, path, "outputs", mod->outputs, mod->output_sym,
                              &mod->n_outputs, out_nodes)))
    return rc;
  const module_rule *mr = &k_modules[slot];
  if ((rc = check_list(c, mod, path, true, mr->in, mr->n_in, in_nodes))) return rc;
  if ((rc = check_list(c, mod, path, false, mr->out, mr->n_out, out_nodes))) return rc;
  mod->present = true;
  if (slot == KAT_MODULE_MASK_DECODER)
    m->mask_decoder_has_mask_input = kat__manifest_input_index(mod, "mask_input") >= 0;

  if (slot == KAT_MODULE_MEMORY_ATTENTION && mod->fixed_tokens > 0 &&
      (mod->dynamic || kat__json_get(obj, "fixed_file"))) {
    /* The fixed variant: memory_attention's tensors with every symbolic dim set to M. */
    kat__module_manifest *fx = &m->modules[KAT_MODULE_MEMORY_ATTENTION_FIXED];
    char fpath[PATH_MAX_LEN + 16];
    *fx = *mod;
    fx->dynamic = false;
    if ((rc = get_str(c, obj, path, "fixed_file", fx->file, sizeof fx->file, NULL))) return rc;
    if (!is_plain_file_name(fx->file)) {
      return merr(c, kat__json_get(obj, "fixed_file"), KAT_EMODEL,
                  "field '%s.fixed_file' must be a plain file name in the bundle", path);
    }
    if ((rc = get_hash(c, obj, path, "fixed_sha256", fx->sha256))) return rc;
    for (int i = 0; i < fx->n_inputs; i++) {
      for (int d = 0; d < fx->inputs[i].rank; d++) {
        if (fx->inputs[i].dims[d] == -1) {
          fx->inputs[i].dims[d] = fx->fixed_tokens;
          fx->input_sym[i][d][0] = '\0';
        }
      }
    }
    pfmt(fpath, sizeof fpath, "%s (fixed variant)", path);
    if ((rc = check_list(c, fx, fpath, true, mr->in, mr->n_in, in_nodes))) return rc;
  }
  return KAT_OK;
}

/* ---- constants --------------------------------------------------------------------------- */

typedef struct const_rule {
  const char *name;
  int rank;
  int dims[4];
} const_rule;

enum { D_NMEM = -20 };

static const const_rule k_consts[] = {
    {"vision_pos", 4, {1, D_C, D_H, D_W}},
    {"maskmem_pos_enc", 4, {1, D_CM, D_H, D_W}},
    {"maskmem_tpos_enc", 4, {D_NMEM, 1, 1, D_CM}},
    {"no_mem_embed", 3, {1, 1, D_C, 0}},
    {"no_obj_ptr", 2, {1, D_C, 0, 0}},
    {"no_obj_embed_spatial", 2, {1, D_CM, 0, 0}},
    {"obj_ptr_tpos_proj.weight", 2, {D_CM, D_C, 0, 0}},
    {"obj_ptr_tpos_proj.bias", 1, {D_CM, 0, 0, 0}},
    {"mask_downsample.weight", 4, {1, 1, 4, 4}},
    {"mask_downsample.bias", 1, {1, 0, 0, 0}},
};

static bool const_required(const kat__manifest *m, const char *name) {
  if (strcmp(name, "no_obj_ptr") == 0)
    return m->tracker.pred_obj_scores && m->tracker.use_obj_ptrs_in_encoder;
  if (strcmp(name, "no_obj_embed_spatial") == 0) return m->tracker.no_obj_embed_spatial;
  if (strncmp(name, "obj_ptr_tpos_proj.", 18) == 0) return m->tracker.proj_tpos_enc_in_obj_ptrs;
  /* Format 2: the host's 4x4 stride-4 conv for mask prompts (sam2_base.py mask_downsample),
   * which the model has when it uses object pointers. */
  if (strncmp(name, "mask_downsample.", 16) == 0)
    return m->format_version >= 2 && m->tracker.use_obj_ptrs_in_encoder;
  return true;
}

static int parse_constants(mctx *c, const kat__json *root) {
  kat__manifest *m = c->m;
  const kat__json *obj, *arr, *nodes[KAT_MAX_CONSTANTS];
  int rc = get_field(c, root, "", "constants", KAT_JSON_OBJECT, &obj);
  if (rc) return rc;
  if ((rc = get_file_and_hash(c, obj, "constants", m->constants_file, m->constants_sha256)))
    return rc;
  if ((rc = get_field(c, obj, "constants", "entries", KAT_JSON_ARRAY, &arr))) return rc;
  size_t count = kat__json_len(arr);
  if (count > KAT_MAX_CONSTANTS) {
    return merr(c, arr, KAT_EMODEL, "field 'constants.entries' has %zu entries, the limit is %d",
                count, KAT_MAX_CONSTANTS);
  }
  for (size_t i = 0; i < count; i++) {
    const kat__json *e = kat__json_at(arr, i), *shape, *off;
    char path[PATH_MAX_LEN], full[PATH_MAX_LEN + 16];
    pfmt(path, sizeof path, "constants.entries[%zu]", i);
    if (kat__json_type(e) != KAT_JSON_OBJECT) {
      return merr(c, e, KAT_EMODEL, "field '%s' must be an object, found %s", path,
                  kat__json_type_name(kat__json_type(e)));
    }
    kat__constant_entry *ce = &m->constants[i];
    if ((rc = get_str(c, e, path, "name", ce->spec.name, sizeof ce->spec.name, NULL))) return rc;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(m->constants[j].spec.name, ce->spec.name) == 0)
        return merr(c, e, KAT_EMODEL, "%s: constant '%s' is listed twice", path, ce->spec.name);
    }
    ce->spec.dtype = KAT_DT_F32;
    if ((rc = get_field(c, e, path, "shape", KAT_JSON_ARRAY, &shape))) return rc;
    pfmt(full, sizeof full, "%s.shape", path);
    if ((rc = parse_shape(c, shape, full, false, &ce->spec, NULL))) return rc;
    size_t n = 1;
    for (int d = 0; d < ce->spec.rank; d++) {
      if (!kat__size_mul(n, (size_t)ce->spec.dims[d], &n))
        return merr(c, shape, KAT_EMODEL, "%s: constant '%s' is too large", path, ce->spec.name);
    }
    ce->count = n;
    if (!kat__size_mul(n, sizeof(float), &ce->bytes))
      return merr(c, shape, KAT_EMODEL, "%s: constant '%s' is too large", path, ce->spec.name);
    pfmt(full, sizeof full, "%s.offset", path);
    off = kat__json_get(e, "offset");
    if (!off) return merr(c, e, KAT_EMODEL, "missing field '%s'", full);
    int64_t o;
    if ((rc = as_int(c, off, full, 0, INT64_C(1) << 48, &o))) return rc;
    if (o % 4) {
      return merr(c, off, KAT_EMODEL, "field '%s' of constant '%s' is %lld, not a multiple of 4",
                  full, ce->spec.name, (long long)o);
    }
    ce->offset = (uint64_t)o;
    uint64_t end = ce->offset + (uint64_t)ce->bytes;
    if (end < ce->offset)
      return merr(c, off, KAT_EMODEL, "%s: constant '%s' is too large", path, ce->spec.name);
    if (end > m->constants_end) m->constants_end = end;
    nodes[i] = e;
  }
  m->n_constants = (int)count;
  /* No two entries may share bytes. */
  for (int i = 0; i < m->n_constants; i++) {
    for (int j = 0; j < i; j++) {
      const kat__constant_entry *a = &m->constants[i], *b = &m->constants[j];
      if (a->bytes && b->bytes && a->offset < b->offset + b->bytes &&
          b->offset < a->offset + a->bytes) {
        return merr(c, nodes[i], KAT_EMODEL,
                    "constants.entries[%d] '%s' (bytes %llu..%llu) overlaps '%s' (bytes "
                    "%llu..%llu)",
                    i, a->spec.name, (unsigned long long)a->offset,
                    (unsigned long long)(a->offset + a->bytes), b->spec.name,
                    (unsigned long long)b->offset, (unsigned long long)(b->offset + b->bytes));
      }
    }
  }
  /* Known names: required ones present, every known one with its contract shape. */
  for (size_t r = 0; r < sizeof k_consts / sizeof k_consts[0]; r++) {
    const const_rule *cr = &k_consts[r];
    int i = -1;
    for (int k = 0; k < m->n_constants; k++)
      if (strcmp(m->constants[k].spec.name, cr->name) == 0) i = k;
    if (i < 0) {
      if (const_required(m, cr->name)) {
        return merr(c, arr, KAT_EMODEL, "constants.entries: missing constant '%s'", cr->name);
      }
      continue;
    }
    const kat__tensor_spec *s = &m->constants[i].spec;
    bool ok = s->rank == cr->rank;
    for (int d = 0; d < cr->rank && ok; d++) {
      int64_t want;
      switch (cr->dims[d]) {
        case D_C: want = m->hidden_dim; break;
        case D_CM: want = m->mem_dim; break;
        case D_H: want = m->feat_h; break;
        case D_W: want = m->feat_w; break;
        case D_NMEM: want = m->num_maskmem; break;
        default: want = cr->dims[d]; break;
      }
      ok = s->dims[d] == want;
    }
    if (!ok) {
      char have[128];
      format_dims(s, have, sizeof have);
      return merr(c, nodes[i], KAT_EMODEL,
                  "constants.entries[%d] '%s': bad shape %s for hidden_dim %d, mem_dim %d, "
                  "feat_size %dx%d, num_maskmem %d",
                  i, cr->name, have, m->hidden_dim, m->mem_dim, m->feat_h, m->feat_w,
                  m->num_maskmem);
    }
  }
  return KAT_OK;
}

/* ---- top level --------------------------------------------------------------------------- */

static const char *const k_top_keys[] = {"format",
                                         "format_version",
                                         "family",
                                         "config",
                                         "image_size",
                                         "mean",
                                         "std",
                                         "feat_size",
                                         "hidden_dim",
                                         "mem_dim",
                                         "low_res_mask_size",
                                         "use_high_res_features",
                                         "num_maskmem",
                                         "max_obj_ptrs_in_encoder",
                                         "tracker",
                                         "samurai",
                                         "modules",
                                         "constants"};

static int parse_root(mctx *c, const kat__json *root) {
  kat__manifest *m = c->m;
  const kat__json *v, *fam;
  char buf[64];
  int rc;
  if (kat__json_type(root) != KAT_JSON_OBJECT) {
    return merr(c, root, KAT_EMODEL, "the manifest must be a JSON object, found %s",
                kat__json_type_name(kat__json_type(root)));
  }
  v = kat__json_get(root, "format");
  if (!v) return merr(c, root, KAT_EFORMAT, "missing field 'format': not a katana bundle manifest");
  const char *fmt = kat__json_string(v, NULL);
  if (!fmt || strcmp(fmt, KAT_MANIFEST_FORMAT) != 0) {
    return merr(c, v, KAT_EFORMAT, "field 'format' is not \"%s\": not a katana bundle manifest",
                KAT_MANIFEST_FORMAT);
  }
  v = kat__json_get(root, "format_version");
  if (!v) return merr(c, root, KAT_EMODEL, "missing field 'format_version'");
  int64_t ver;
  if ((rc = as_int(c, v, "format_version", 0, INT32_MAX, &ver))) return rc;
  if (ver < KAT_MANIFEST_VERSION_MIN || ver > KAT_MANIFEST_VERSION) {
    return merr(c, v, KAT_ENOTSUP,
                "unsupported format_version %lld (this katana reads format_version %d..%d)",
                (long long)ver, KAT_MANIFEST_VERSION_MIN, KAT_MANIFEST_VERSION);
  }
  m->format_version = (int)ver;

  for (size_t i = 0; i < kat__json_len(root); i++) {
    const char *key = kat__json_key(kat__json_at(root, i));
    bool known = false;
    for (size_t k = 0; k < sizeof k_top_keys / sizeof k_top_keys[0] && !known; k++)
      known = strcmp(key, k_top_keys[k]) == 0;
    if (!known) kat__log(KAT_LOG_DEBUG, "%s: ignoring unknown field '%.64s'", c->origin, key);
  }

  if ((rc = get_str(c, root, "", "family", buf, sizeof buf, &fam))) return rc;
  if (strcmp(buf, "efficienttam") == 0) {
    m->family = KAT_FAMILY_EFFICIENTTAM;
  } else if (strcmp(buf, "sam2.1") == 0) {
    m->family = KAT_FAMILY_SAM21;
  } else {
    return merr(c, fam, KAT_EMODEL, "unknown family '%s' (expected 'efficienttam' or 'sam2.1')",
                buf);
  }
  if ((rc = get_str(c, root, "", "config", m->config, sizeof m->config, NULL))) return rc;
  if ((rc = get_int(c, root, "", "image_size", 64, 8192, &m->image_size))) return rc;
  if (m->image_size % 16) {
    return merr(c, kat__json_get(root, "image_size"), KAT_EMODEL,
                "field 'image_size' is %d, not a multiple of 16", m->image_size);
  }
  if ((rc = get_vec3(c, root, "mean", false, m->mean))) return rc;
  if ((rc = get_vec3(c, root, "std", true, m->std))) return rc;

  const kat__json *fs;
  if ((rc = get_field(c, root, "", "feat_size", KAT_JSON_ARRAY, &fs))) return rc;
  if (kat__json_len(fs) != 2)
    return merr(c, fs, KAT_EMODEL, "field 'feat_size' must be [H, W], found %zu numbers",
                kat__json_len(fs));
  int64_t fh, fw;
  if ((rc = as_int(c, kat__json_at(fs, 0), "feat_size[0]", 1, 1 << 16, &fh))) return rc;
  if ((rc = as_int(c, kat__json_at(fs, 1), "feat_size[1]", 1, 1 << 16, &fw))) return rc;
  if (fh != m->image_size / 16 || fw != m->image_size / 16) {
    return merr(c, fs, KAT_EMODEL,
                "field 'feat_size' is [%lld,%lld], expected [%d,%d] (image_size/16)", (long long)fh,
                (long long)fw, m->image_size / 16, m->image_size / 16);
  }
  m->feat_h = (int)fh;
  m->feat_w = (int)fw;
  if ((rc = get_int(c, root, "", "hidden_dim", 1, 8192, &m->hidden_dim))) return rc;
  if ((rc = get_int(c, root, "", "mem_dim", 1, 8192, &m->mem_dim))) return rc;
  if (m->hidden_dim % m->mem_dim) {
    return merr(c, kat__json_get(root, "mem_dim"), KAT_EMODEL,
                "field 'mem_dim' (%d) must divide hidden_dim (%d): object pointers are split into "
                "hidden_dim/mem_dim tokens",
                m->mem_dim, m->hidden_dim);
  }
  if ((rc = get_int(c, root, "", "low_res_mask_size", 1, 8192, &m->low_res_mask_size))) return rc;
  if (m->low_res_mask_size != m->image_size / 4) {
    return merr(c, kat__json_get(root, "low_res_mask_size"), KAT_EMODEL,
                "field 'low_res_mask_size' is %d, expected %d (image_size/4)", m->low_res_mask_size,
                m->image_size / 4);
  }
  if ((rc = get_bool(c, root, "", "use_high_res_features", &m->use_high_res_features))) return rc;
  if ((rc = get_int(c, root, "", "num_maskmem", 1, 64, &m->num_maskmem))) return rc;
  if ((rc = get_int(c, root, "", "max_obj_ptrs_in_encoder", 0, 4096, &m->max_obj_ptrs_in_encoder)))
    return rc;
  if ((rc = parse_fields(c, root, "tracker", k_tracker, sizeof k_tracker / sizeof k_tracker[0],
                         &m->tracker)))
    return rc;
  if (m->tracker.multimask_min_pt_num > m->tracker.multimask_max_pt_num) {
    return merr(c, kat__json_get(root, "tracker"), KAT_EMODEL,
                "tracker.multimask_min_pt_num (%d) is larger than multimask_max_pt_num (%d)",
                m->tracker.multimask_min_pt_num, m->tracker.multimask_max_pt_num);
  }
  if ((rc = parse_fields(c, root, "samurai", k_samurai, sizeof k_samurai / sizeof k_samurai[0],
                         &m->samurai)))
    return rc;
  if ((rc = kat__validate_samurai_defaults(&m->samurai, c->eb))) {
    char msg[KAT_ERRBUF_SIZE];
    kat__strlcpy(msg, c->eb ? c->eb->msg : "", sizeof msg);
    return merr(c, kat__json_get(root, "samurai"), rc, "%s", msg);
  }

  const kat__json *modules;
  if ((rc = get_field(c, root, "", "modules", KAT_JSON_OBJECT, &modules))) return rc;
  for (int slot = 0; slot < KAT_MODULE_COUNT; slot++)
    if ((rc = parse_module(c, modules, slot))) return rc;
  for (size_t i = 0; i < kat__json_len(modules); i++) {
    const char *key = kat__json_key(kat__json_at(modules, i));
    bool known = false;
    for (int k = 0; k < KAT_MODULE_COUNT; k++) known = known || strcmp(key, k_module_names[k]) == 0;
    if (!known) kat__log(KAT_LOG_DEBUG, "%s: ignoring unknown module '%.64s'", c->origin, key);
  }
  return parse_constants(c, root);
}

int kat__manifest_parse(const char *text, size_t len, const char *origin, kat__manifest *out,
                        kat__errbuf *eb) {
  kat__json_doc *doc = NULL;
  kat__json_limits lim = {KAT_MANIFEST_MAX_BYTES, 1 << 16, 32};
  if (!out) return kat__fail(eb, KAT_EINVAL, "manifest: out is NULL");
  memset(out, 0, sizeof *out);
  if (!origin) origin = "katana.json";
  int rc = kat__json_parse(text, len, origin, &lim, &doc, eb);
  if (rc) return rc;
  mctx c = {origin, eb, out};
  rc = parse_root(&c, kat__json_root(doc));
  kat__json_destroy(doc);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

int kat__manifest_load(const char *path, kat__manifest *out, kat__errbuf *eb) {
  FILE *f = NULL;
  char *buf = NULL;
  int rc;
  if (!path || !out) return kat__fail(eb, KAT_EINVAL, "manifest: NULL argument");
  /* A regular file of at most KAT_MANIFEST_MAX_BYTES: a FIFO or a device fails at once. */
  if ((rc = kat__open_regular_file(path, "manifest", KAT_MANIFEST_MAX_BYTES, &f, NULL, eb)))
    return rc;
  buf = kat__malloc(KAT_MANIFEST_MAX_BYTES + 1);
  if (!buf) {
    rc = kat__fail(eb, KAT_ENOMEM, "out of memory reading %s", path);
    goto done;
  }
  size_t n = fread(buf, 1, KAT_MANIFEST_MAX_BYTES + 1, f);
  if (ferror(f)) {
    rc = kat__fail(eb, KAT_EIO, "read error in %s", path);
    goto done;
  }
  if (n > KAT_MANIFEST_MAX_BYTES) {
    rc = kat__fail(eb, KAT_EMODEL, "%s is larger than %zu bytes", path, KAT_MANIFEST_MAX_BYTES);
    goto done;
  }
  rc = kat__manifest_parse(buf, n, path, out, eb);
done:
  kat__free(buf);
  fclose(f);
  return rc;
}

const kat__constant_entry *kat__manifest_constant(const kat__manifest *m, const char *name) {
  if (!m || !name) return NULL;
  for (int i = 0; i < m->n_constants; i++)
    if (strcmp(m->constants[i].spec.name, name) == 0) return &m->constants[i];
  return NULL;
}

static int find_spec(const kat__tensor_spec *s, int n, const char *name) {
  if (!name) return -1;
  for (int i = 0; i < n; i++)
    if (strcmp(s[i].name, name) == 0) return i;
  return -1;
}

int kat__manifest_input_index(const kat__module_manifest *mod, const char *name) {
  return mod ? find_spec(mod->inputs, mod->n_inputs, name) : -1;
}

int kat__manifest_output_index(const kat__module_manifest *mod, const char *name) {
  return mod ? find_spec(mod->outputs, mod->n_outputs, name) : -1;
}
