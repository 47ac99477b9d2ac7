/*
 * A synthetic bundle for the model tests: a tiny, contract-valid manifest (S = 64, C = 16,
 * Cm = 8, H = W = 4, EfficientTAM, no high-res features), stand-in module files and a
 * constants.bin whose float k is k * 0.5. The manifest is written with ' for " so the tests can
 * mutate it with readable string replacements. Module files are not ONNX: these bundles test
 * the manifest, hashing and constants, not sessions (tests/test_bundle.c uses a real bundle).
 */
#ifndef KAT_BUNDLE_FIXTURE_H
#define KAT_BUNDLE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/sha256.h"

static const char kat_fixture_manifest[] =
    "{'format':'katana-bundle','format_version':1,'family':'efficienttam','config':'micro_test',"
    "'image_size':64,'mean':[0.485,0.456,0.406],'std':[0.229,0.224,0.225],'feat_size':[4,4],"
    "'hidden_dim':16,'mem_dim':8,'low_res_mask_size':16,'use_high_res_features':false,"
    "'num_maskmem':7,'max_obj_ptrs_in_encoder':16,\n"
    "'tracker':{'add_tpos_enc_to_obj_ptrs':false,'proj_tpos_enc_in_obj_ptrs':false,"
    "'use_signed_tpos_enc_to_obj_ptrs':false,'only_obj_ptrs_in_the_past_for_eval':true,"
    "'directly_add_no_mem_embed':true,'pred_obj_scores':true,'fixed_no_obj_ptr':true,"
    "'soft_no_obj_ptr':false,'use_multimask_token_for_obj_ptr':true,"
    "'multimask_output_for_tracking':true,'multimask_output_in_sam':true,"
    "'multimask_min_pt_num':0,'multimask_max_pt_num':1,'dynamic_multimask_via_stability':true,"
    "'dynamic_multimask_stability_delta':0.05,'dynamic_multimask_stability_thresh':0.98,"
    "'sigmoid_scale_for_mem_enc':20.0,'sigmoid_bias_for_mem_enc':-10.0,"
    "'memory_temporal_stride_for_eval':1,'no_obj_embed_spatial':false,"
    "'binarize_mask_from_pts_for_mem_enc':true,'iou_prediction_use_sigmoid':true,"
    "'use_obj_ptrs_in_encoder':true},\n"
    "'samurai':{'stable_frames_threshold':15,'stable_ious_threshold':0.3,"
    "'min_obj_score_logits':-1.0,'kf_score_weight':0.25,'memory_bank_iou_threshold':0.5,"
    "'memory_bank_obj_score_threshold':0.0,'memory_bank_kf_score_threshold':0.0},\n"
    "'modules':{\n"
    "'image_encoder':{'file':'image_encoder.onnx','sha256':'@IE@',"
    "'inputs':[{'name':'image','dtype':'float32','shape':[1,3,64,64]}],"
    "'outputs':[{'name':'vision_feats','dtype':'float32','shape':[1,16,4,4]}]},\n"
    "'memory_attention':{'file':'memory_attention.onnx','sha256':'@MA@','dynamic':true,"
    "'fixed_tokens':null,'inputs':[{'name':'curr','dtype':'float32','shape':[1,16,4,4]},"
    "{'name':'memory','dtype':'float32','shape':[1,'M',8]},"
    "{'name':'memory_pos','dtype':'float32','shape':[1,'M',8]},"
    "{'name':'num_obj_ptr_tokens','dtype':'int64','shape':[]}],"
    "'outputs':[{'name':'pix_feat_with_mem','dtype':'float32','shape':[1,16,4,4]}]},\n"
    "'mask_decoder':{'file':'mask_decoder.onnx','sha256':'@MD@',"
    "'inputs':[{'name':'image_embed','dtype':'float32','shape':[1,16,4,4]},"
    "{'name':'point_coords','dtype':'float32','shape':[1,'N',2]},"
    "{'name':'point_labels','dtype':'int32','shape':[1,'N']}],"
    "'outputs':[{'name':'masks','dtype':'float32','shape':[1,4,16,16]},"
    "{'name':'iou_pred','dtype':'float32','shape':[1,4]},"
    "{'name':'obj_score_logits','dtype':'float32','shape':[1,1]},"
    "{'name':'obj_ptr','dtype':'float32','shape':[1,4,16]}]},\n"
    "'memory_encoder':{'file':'memory_encoder.onnx','sha256':'@ME@',"
    "'inputs':[{'name':'pix_feat','dtype':'float32','shape':[1,16,4,4]},"
    "{'name':'mask_logits','dtype':'float32','shape':[1,1,16,16]},"
    "{'name':'is_mask_from_pts','dtype':'float32','shape':[1]}],"
    "'outputs':[{'name':'maskmem_features','dtype':'float32','shape':[1,8,4,4]}]}},\n"
    "'constants':{'file':'constants.bin','sha256':'@CB@','entries':["
    "{'name':'vision_pos','shape':[1,16,4,4],'offset':0},"
    "{'name':'maskmem_pos_enc','shape':[1,8,4,4],'offset':1024},"
    "{'name':'maskmem_tpos_enc','shape':[7,1,1,8],'offset':1536},"
    "{'name':'no_mem_embed','shape':[1,1,16],'offset':1760},"
    "{'name':'no_obj_ptr','shape':[1,16],'offset':1824}]}}\n";

#define KAT_FIXTURE_CONST_BYTES 1888

/* Returns a malloc'ed copy of `s` with the first `from` replaced by `to` (NULL if absent). */
static inline char *kat_fx_replace(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  if (!at) return NULL;
  size_t a = (size_t)(at - s), f = strlen(from), t = strlen(to), n = strlen(s);
  char *out = malloc(n - f + t + 1);
  memcpy(out, s, a);
  memcpy(out + a, to, t);
  memcpy(out + a + t, at + f, n - a - f + 1);
  return out;
}

/* In place: ' -> ". */
static inline void kat_fx_quotes(char *s) {
  for (; *s; s++)
    if (*s == '\'') *s = '"';
}

static inline int kat_fx_write(const char *dir, const char *name, const void *data, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  fclose(f);
  return w == n ? 0 : -1;
}

static inline void kat_fx_hash(const void *data, size_t n, char hex[KAT_SHA256_HEX_SIZE]) {
  uint8_t d[KAT_SHA256_SIZE];
  kat__sha256(data, n, d);
  kat__sha256_hex(d, hex);
}

static const char *const kat_fx_files[5] = {"image_encoder.onnx", "memory_attention.onnx",
                                            "mask_decoder.onnx", "memory_encoder.onnx",
                                            "memory_attention_fixed.onnx"};
static const char *const kat_fx_tokens[5] = {"@IE@", "@MA@", "@MD@", "@ME@", "@MF@"};

/* Fills the stand-in files' real hashes into manifest text `m` (which it frees) and turns ' into
 * ". Returns a malloc'ed string (caller frees). */
static inline char *kat_fx_fill(char *m) {
  for (int i = 0; i < 5; i++) {
    char hex[KAT_SHA256_HEX_SIZE], content[64];
    snprintf(content, sizeof content, "stand-in for %s", kat_fx_files[i]);
    kat_fx_hash(content, strlen(content), hex);
    char *n = kat_fx_replace(m, kat_fx_tokens[i], hex);
    if (n) {
      free(m);
      m = n;
    }
  }
  float c[KAT_FIXTURE_CONST_BYTES / 4];
  for (int k = 0; k < KAT_FIXTURE_CONST_BYTES / 4; k++) c[k] = (float)k * 0.5f;
  char hex[KAT_SHA256_HEX_SIZE];
  kat_fx_hash(c, sizeof c, hex);
  char *n = kat_fx_replace(m, "@CB@", hex);
  if (n) {
    free(m);
    m = n;
  }
  kat_fx_quotes(m);
  return m;
}

/* The manifest text (after `from` -> `to` when from is not NULL), filled by kat_fx_fill. */
static inline char *kat_fx_manifest(const char *from, const char *to) {
  char *m = from ? kat_fx_replace(kat_fixture_manifest, from, to) : strdup(kat_fixture_manifest);
  if (!m) {
    fprintf(stderr, "fixture: '%s' not found in the manifest\n", from);
    return NULL;
  }
  return kat_fx_fill(m);
}

/* Writes a complete synthetic bundle into `dir` (manifest mutated as in kat_fx_manifest). */
static inline int kat_fx_bundle(const char *dir, const char *from, const char *to) {
  char *m = kat_fx_manifest(from, to);
  if (!m) return -1;
  int rc = kat_fx_write(dir, "katana.json", m, strlen(m));
  free(m);
  for (int i = 0; i < 5 && rc == 0; i++) {
    char content[64];
    snprintf(content, sizeof content, "stand-in for %s", kat_fx_files[i]);
    rc = kat_fx_write(dir, kat_fx_files[i], content, strlen(content));
  }
  float c[KAT_FIXTURE_CONST_BYTES / 4];
  for (int k = 0; k < KAT_FIXTURE_CONST_BYTES / 4; k++) c[k] = (float)k * 0.5f;
  if (rc == 0) rc = kat_fx_write(dir, "constants.bin", c, sizeof c);
  return rc;
}

/* Removes the fixture's files and the folder. */
static inline void kat_fx_cleanup(const char *dir) {
  char path[1024];
  const char *extra[] = {"katana.json", "constants.bin"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, kat_fx_files[i]);
    unlink(path);
  }
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, extra[i]);
    unlink(path);
  }
  rmdir(dir);
}

#endif /* KAT_BUNDLE_FIXTURE_H */
