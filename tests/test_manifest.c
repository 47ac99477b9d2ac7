/*
 * katana.json parsing and bundle loading on synthetic bundles (tests/kat_bundle_fixture.h):
 * every field of a valid manifest, one mutation per kind of error (each message must name the
 * field or tensor and, where there is a JSON value, its line:column), and bundle-level failures:
 * missing files, wrong hashes, truncated or oversized constants. The real exported bundle is
 * covered by tests/test_bundle.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kat_bundle_fixture.h"
#include "kat_test.h"
#include "model/bundle.h"
#include "model/manifest.h"

static kat__manifest g_man; /* large: keep it off the stack */

static int parse_mutated(const char *from, const char *to, kat__errbuf *eb) {
  char *text = kat_fx_manifest(from, to);
  KAT_CHECK(text != NULL);
  if (!text) return -999;
  int rc = kat__manifest_parse(text, strlen(text), "katana.json", &g_man, eb);
  free(text);
  return rc;
}

KAT_TEST(test_valid) {
  kat__errbuf eb = {{0}};
  int rc = parse_mutated(NULL, NULL, &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  const kat__manifest *m = &g_man;
  KAT_CHECK_INT_EQ(m->format_version, 1);
  KAT_CHECK_INT_EQ(m->family, KAT_FAMILY_EFFICIENTTAM);
  KAT_CHECK_STR_EQ(kat__family_name(m->family), "efficienttam");
  KAT_CHECK_STR_EQ(m->config, "micro_test");
  KAT_CHECK_INT_EQ(m->image_size, 64);
  KAT_CHECK_NEAR(m->mean[0], 0.485, 1e-12);
  KAT_CHECK_NEAR(m->mean[2], 0.406, 1e-12);
  KAT_CHECK_NEAR(m->std[1], 0.224, 1e-12);
  KAT_CHECK_INT_EQ(m->feat_h, 4);
  KAT_CHECK_INT_EQ(m->feat_w, 4);
  KAT_CHECK_INT_EQ(m->hidden_dim, 16);
  KAT_CHECK_INT_EQ(m->mem_dim, 8);
  KAT_CHECK_INT_EQ(m->low_res_mask_size, 16);
  KAT_CHECK(!m->use_high_res_features);
  KAT_CHECK_INT_EQ(m->num_maskmem, 7);
  KAT_CHECK_INT_EQ(m->max_obj_ptrs_in_encoder, 16);
  /* tracker */
  KAT_CHECK(!m->tracker.add_tpos_enc_to_obj_ptrs);
  KAT_CHECK(m->tracker.only_obj_ptrs_in_the_past_for_eval);
  KAT_CHECK(m->tracker.directly_add_no_mem_embed);
  KAT_CHECK(m->tracker.pred_obj_scores);
  KAT_CHECK(m->tracker.fixed_no_obj_ptr);
  KAT_CHECK(!m->tracker.soft_no_obj_ptr);
  KAT_CHECK(m->tracker.binarize_mask_from_pts_for_mem_enc);
  KAT_CHECK(!m->tracker.no_obj_embed_spatial);
  KAT_CHECK(m->tracker.iou_prediction_use_sigmoid);
  KAT_CHECK(m->tracker.use_obj_ptrs_in_encoder);
  KAT_CHECK_INT_EQ(m->tracker.multimask_min_pt_num, 0);
  KAT_CHECK_INT_EQ(m->tracker.multimask_max_pt_num, 1);
  KAT_CHECK_INT_EQ(m->tracker.memory_temporal_stride_for_eval, 1);
  KAT_CHECK_NEAR(m->tracker.dynamic_multimask_stability_delta, 0.05, 1e-12);
  KAT_CHECK_NEAR(m->tracker.dynamic_multimask_stability_thresh, 0.98, 1e-12);
  KAT_CHECK_NEAR(m->tracker.sigmoid_scale_for_mem_enc, 20.0, 0);
  KAT_CHECK_NEAR(m->tracker.sigmoid_bias_for_mem_enc, -10.0, 0);
  /* samurai */
  KAT_CHECK_INT_EQ(m->samurai.stable_frames_threshold, 15);
  KAT_CHECK_NEAR(m->samurai.stable_ious_threshold, 0.3, 1e-12);
  KAT_CHECK_NEAR(m->samurai.min_obj_score_logits, -1.0, 0);
  KAT_CHECK_NEAR(m->samurai.kf_score_weight, 0.25, 0);
  KAT_CHECK_NEAR(m->samurai.memory_bank_iou_threshold, 0.5, 0);
  /* modules */
  for (int i = 0; i < KAT_MODULE_COUNT; i++) {
    KAT_CHECK(m->modules[i].present);
    KAT_CHECK_INT_EQ(strlen(m->modules[i].sha256), 64);
    KAT_CHECK_STR_EQ(m->modules[i].precision, "fp32");
  }
  KAT_CHECK(!m->modules[KAT_MODULE_MEMORY_ATTENTION_FIXED].present);
  KAT_CHECK_STR_EQ(m->modules[KAT_MODULE_IMAGE_ENCODER].file, "image_encoder.onnx");
  const kat__module_manifest *ma = &m->modules[KAT_MODULE_MEMORY_ATTENTION];
  KAT_CHECK(ma->dynamic);
  KAT_CHECK_INT_EQ(ma->fixed_tokens, 0);
  KAT_CHECK_INT_EQ(ma->n_inputs, 4);
  KAT_CHECK_INT_EQ(ma->n_outputs, 1);
  int mi = kat__manifest_input_index(ma, "memory");
  KAT_CHECK_INT_EQ(mi, 1);
  KAT_CHECK_INT_EQ(ma->inputs[mi].rank, 3);
  KAT_CHECK_INT_EQ(ma->inputs[mi].dims[1], -1);
  KAT_CHECK_STR_EQ(ma->input_sym[mi][1], "M");
  KAT_CHECK_INT_EQ(ma->inputs[mi].dims[2], 8);
  int ni = kat__manifest_input_index(ma, "num_obj_ptr_tokens");
  KAT_CHECK_INT_EQ(ma->inputs[ni].rank, 0);
  KAT_CHECK_INT_EQ(ma->inputs[ni].dtype, KAT_DT_I64);
  const kat__module_manifest *md = &m->modules[KAT_MODULE_MASK_DECODER];
  KAT_CHECK_INT_EQ(md->inputs[kat__manifest_input_index(md, "point_labels")].dtype, KAT_DT_I32);
  KAT_CHECK_INT_EQ(kat__manifest_output_index(md, "obj_ptr"), 3);
  KAT_CHECK_INT_EQ(kat__manifest_output_index(md, "nope"), -1);
  /* constants */
  KAT_CHECK_INT_EQ(m->n_constants, 5);
  KAT_CHECK_INT_EQ(m->constants_end, KAT_FIXTURE_CONST_BYTES);
  const kat__constant_entry *e = kat__manifest_constant(m, "maskmem_tpos_enc");
  KAT_CHECK(e != NULL);
  if (e) {
    KAT_CHECK_INT_EQ(e->offset, 1536);
    KAT_CHECK_INT_EQ(e->count, 56);
    KAT_CHECK_INT_EQ(e->bytes, 224);
    KAT_CHECK_INT_EQ(e->spec.dims[0], 7);
    KAT_CHECK_INT_EQ(e->spec.dtype, KAT_DT_F32);
  }
  KAT_CHECK(kat__manifest_constant(m, "no_such") == NULL);
  KAT_CHECK_STR_EQ(kat__manifest_module_name(KAT_MODULE_MEMORY_ATTENTION_FIXED),
                   "memory_attention_fixed");
}

/* Accepted variations: fixed-M variant, high-res SAM 2.1, unknown extra fields, uppercase hash,
 * optional tracker flags, fp16 precision. */
KAT_TEST(test_valid_variants) {
  kat__errbuf eb = {{0}};
  int rc = parse_mutated("'fixed_tokens':null",
                         "'fixed_tokens':24,'fixed_file':'memory_attention_fixed.onnx',"
                         "'fixed_sha256':'@MF@'",
                         &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  const kat__module_manifest *fx = &g_man.modules[KAT_MODULE_MEMORY_ATTENTION_FIXED];
  KAT_CHECK(fx->present);
  KAT_CHECK(!fx->dynamic);
  KAT_CHECK_STR_EQ(fx->file, "memory_attention_fixed.onnx");
  KAT_CHECK_INT_EQ(fx->fixed_tokens, 24);
  KAT_CHECK_INT_EQ(fx->inputs[kat__manifest_input_index(fx, "memory")].dims[1], 24);
  KAT_CHECK_INT_EQ(fx->inputs[kat__manifest_input_index(fx, "memory_pos")].dims[1], 24);
  KAT_CHECK(g_man.modules[KAT_MODULE_MEMORY_ATTENTION].dynamic);
  KAT_CHECK_INT_EQ(g_man.modules[KAT_MODULE_MEMORY_ATTENTION].inputs[1].dims[1], -1);

  /* SAM 2.1 with high-res features: C/8 and C/4 channels at S/4 and S/8. */
  char *t1 = kat_fx_replace(kat_fixture_manifest, "'use_high_res_features':false",
                            "'use_high_res_features':true");
  char *t2 = kat_fx_replace(t1, "'family':'efficienttam'", "'family':'sam2.1'");
  char *t3 = kat_fx_replace(
      t2, "'shape':[1,16,4,4]}]},\n'memory_attention'",
      "'shape':[1,16,4,4]},{'name':'high_res_feats_0','dtype':'float32','shape':[1,2,16,16]},"
      "{'name':'high_res_feats_1','dtype':'float32','shape':[1,4,8,8]}]},\n'memory_attention'");
  char *t4 = kat_fx_replace(
      t3, "{'name':'point_coords'",
      "{'name':'high_res_feats_0','dtype':'float32','shape':[1,2,16,16]},"
      "{'name':'high_res_feats_1','dtype':'float32','shape':[1,4,8,8]},{'name':'point_coords'");
  KAT_CHECK(t4 != NULL);
  if (t4) {
    t4 = kat_fx_fill(t4);
    rc = kat__manifest_parse(t4, strlen(t4), "katana.json", &g_man, &eb);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    KAT_CHECK_INT_EQ(g_man.family, KAT_FAMILY_SAM21);
    KAT_CHECK(g_man.use_high_res_features);
    KAT_CHECK_INT_EQ(g_man.modules[KAT_MODULE_MASK_DECODER].n_inputs, 5);
    /* The same with a wrong channel count names the tensor. */
    char *t5 = kat_fx_replace(t4, "[1,4,8,8]", "[1,64,8,8]");
    KAT_CHECK(t5 != NULL);
    if (!t5) t5 = strdup("");
    rc = kat__manifest_parse(t5, strlen(t5), "katana.json", &g_man, &eb);
    KAT_CHECK_INT_EQ(rc, KAT_EMODEL);
    KAT_CHECK_CONTAINS(eb.msg,
                       "modules.image_encoder.outputs[2] 'high_res_feats_1': bad shape "
                       "[1,64,8,8]: dim 1 is 64, expected 4");
    free(t5);
  }
  free(t1);
  free(t2);
  free(t3);
  free(t4);

  KAT_CHECK_INT_EQ(parse_mutated("'modules':{", "'modules':{'extra_module':{'x':1},", &eb), KAT_OK);
  KAT_CHECK_INT_EQ(parse_mutated("'format_version':1,", "'format_version':1,'note':[1,2],", &eb),
                   KAT_OK);
  /* Without object pointers in the encoder there is no no_obj_ptr constant. */
  char *u1 = kat_fx_replace(kat_fixture_manifest, "'use_obj_ptrs_in_encoder':true",
                            "'use_obj_ptrs_in_encoder':false");
  char *u2 =
      u1 ? kat_fx_replace(u1, ",{'name':'no_obj_ptr','shape':[1,16],'offset':1824}", "") : NULL;
  KAT_CHECK(u2 != NULL);
  if (u2) {
    u2 = kat_fx_fill(u2);
    KAT_CHECK_INT_EQ(kat__manifest_parse(u2, strlen(u2), NULL, &g_man, &eb), KAT_OK);
    KAT_CHECK(!g_man.tracker.use_obj_ptrs_in_encoder);
    KAT_CHECK_INT_EQ(g_man.n_constants, 4);
    KAT_CHECK_INT_EQ(g_man.constants_end, 1824);
  }
  free(u1);
  free(u2);
  KAT_CHECK_INT_EQ(parse_mutated("'file':'mask_decoder.onnx',",
                                 "'file':'mask_decoder.onnx','precision':'fp16',", &eb),
                   KAT_OK);
  KAT_CHECK_STR_EQ(g_man.modules[KAT_MODULE_MASK_DECODER].precision, "fp16");
  /* Upper-case hex digits are accepted and stored lowercase. */
  KAT_CHECK_INT_EQ(parse_mutated("'sha256':'@IE@'",
                                 "'sha256':'ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef"
                                 "0123456789'",
                                 &eb),
                   KAT_OK);
  KAT_CHECK_STR_EQ(g_man.modules[KAT_MODULE_IMAGE_ENCODER].sha256,
                   "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
}

typedef struct mutation {
  const char *from, *to;
  int status;
  const char *needle;
} mutation;

static const mutation k_mutations[] = {
    /* JSON syntax */
    {"'num_maskmem':7,", "'num_maskmem':7,,", KAT_EFORMAT, "katana.json:1:"},
    {"'tracker':{", "'tracker':{'a':1,'a':2,", KAT_EFORMAT, "katana.json:2:"},
    /* format and version */
    {"'format':'katana-bundle'", "'format':'onnx-bundle'", KAT_EFORMAT,
     "field 'format' is not \"katana-bundle\""},
    {"'format':'katana-bundle',", "", KAT_EFORMAT, "missing field 'format'"},
    {"'format_version':1", "'format_version':3", KAT_ENOTSUP,
     "katana.json:1:44: unsupported format_version 3 (this katana reads format_version 1..2)"},
    {"'format_version':1", "'format_version':0", KAT_ENOTSUP,
     "katana.json:1:44: unsupported format_version 0 (this katana reads format_version 1..2)"},
    /* format 2 without the decoder's mask input (the fixture's decoder is format 1) */
    {"'format_version':1", "'format_version':2", KAT_EMODEL,
     "modules.mask_decoder.inputs: missing tensor 'mask_input' required by the bundle format "
     "(version 2)"},
    /* format 1 with a format 2 input */
    {"{'name':'point_labels','dtype':'int32','shape':[1,'N']}",
     "{'name':'point_labels','dtype':'int32','shape':[1,'N']},"
     "{'name':'has_mask_input','dtype':'float32','shape':[1]}",
     KAT_EMODEL,
     "modules.mask_decoder.inputs[3] 'has_mask_input': input of bundle format 2, but "
     "format_version is 1"},
    {"'format_version':1", "'format_version':'1'", KAT_EMODEL,
     "field 'format_version' must be an integer, found string"},
    /* scalar fields */
    {"'family':'efficienttam'", "'family':'sam3'", KAT_EMODEL,
     "unknown family 'sam3' (expected 'efficienttam' or 'sam2.1')"},
    {"'config':'micro_test'", "'config':''", KAT_EMODEL, "field 'config' must not be empty"},
    {"'image_size':64,", "", KAT_EMODEL, "missing field 'image_size'"},
    {"'image_size':64", "'image_size':'64'", KAT_EMODEL,
     "field 'image_size' must be an integer, found string"},
    {"'image_size':64", "'image_size':64.5", KAT_EMODEL,
     "field 'image_size' must be an integer, found 64.5"},
    {"'image_size':64", "'image_size':72", KAT_EMODEL,
     "field 'image_size' is 72, not a multiple of 16"},
    {"'image_size':64", "'image_size':16", KAT_EMODEL,
     "field 'image_size' is 16, expected 64..8192"},
    {"'mean':[0.485,0.456,0.406]", "'mean':[0.485,0.456]", KAT_EMODEL,
     "field 'mean' must have 3 numbers (RGB), found 2"},
    {"'mean':[0.485,0.456,0.406]", "'mean':[0.485,'x',0.406]", KAT_EMODEL,
     "field 'mean[1]' must be a number, found string"},
    {"'std':[0.229,0.224,0.225]", "'std':[0.229,0,0.225]", KAT_EMODEL,
     "field 'std[1]' must be positive, found 0"},
    {"'feat_size':[4,4]", "'feat_size':[4,5]", KAT_EMODEL,
     "field 'feat_size' is [4,5], expected [4,4] (image_size/16)"},
    {"'feat_size':[4,4]", "'feat_size':4", KAT_EMODEL,
     "field 'feat_size' must be an array, found number"},
    {"'mem_dim':8", "'mem_dim':5", KAT_EMODEL, "field 'mem_dim' (5) must divide hidden_dim (16)"},
    {"'low_res_mask_size':16", "'low_res_mask_size':32", KAT_EMODEL,
     "field 'low_res_mask_size' is 32, expected 16 (image_size/4)"},
    {"'use_high_res_features':false", "'use_high_res_features':0", KAT_EMODEL,
     "field 'use_high_res_features' must be a boolean, found number"},
    {"'use_high_res_features':false", "'use_high_res_features':true", KAT_EMODEL,
     "modules.image_encoder.outputs: missing tensor 'high_res_feats_0' required by the bundle "
     "format"},
    {"'num_maskmem':7", "'num_maskmem':0", KAT_EMODEL, "field 'num_maskmem' is 0, expected 1..64"},
    /* tracker and samurai */
    {"'tracker':{", "'trackers':{", KAT_EMODEL, "missing field 'tracker'"},
    {"'tracker':{", "'tracker':[],'x':{", KAT_EMODEL,
     "field 'tracker' must be an object, found array"},
    {"'pred_obj_scores':true,", "", KAT_EMODEL, "missing field 'tracker.pred_obj_scores'"},
    {"'pred_obj_scores':true", "'pred_obj_scores':'true'", KAT_EMODEL,
     "field 'tracker.pred_obj_scores' must be a boolean, found string"},
    {"'sigmoid_scale_for_mem_enc':20.0", "'sigmoid_scale_for_mem_enc':null", KAT_EMODEL,
     "field 'tracker.sigmoid_scale_for_mem_enc' must be a number, found null"},
    {"'multimask_min_pt_num':0", "'multimask_min_pt_num':2", KAT_EMODEL,
     "tracker.multimask_min_pt_num (2) is larger than multimask_max_pt_num (1)"},
    {"'memory_temporal_stride_for_eval':1", "'memory_temporal_stride_for_eval':0", KAT_EMODEL,
     "field 'tracker.memory_temporal_stride_for_eval' is 0, expected 1..1000"},
    {"'iou_prediction_use_sigmoid':true", "'iou_prediction_use_sigmoid':1", KAT_EMODEL,
     "field 'tracker.iou_prediction_use_sigmoid' must be a boolean, found number"},
    {"'use_obj_ptrs_in_encoder':true", "'use_obj_ptr_in_encoder':true", KAT_EMODEL,
     "missing field 'tracker.use_obj_ptrs_in_encoder'"},
    {"'kf_score_weight':0.25", "'kf_score_weight':true", KAT_EMODEL,
     "field 'samurai.kf_score_weight' must be a number, found boolean"},
    {"'stable_frames_threshold':15", "'stable_frames_threshold':1.5", KAT_EMODEL,
     "field 'samurai.stable_frames_threshold' must be an integer, found 1.5"},
    /* modules */
    {"'modules':{", "'module':{", KAT_EMODEL, "missing field 'modules'"},
    {"'mask_decoder':{", "'mask_decoder2':{", KAT_EMODEL, "missing field 'modules.mask_decoder'"},
    {"'file':'image_encoder.onnx'", "'file':'../image_encoder.onnx'", KAT_EMODEL,
     "field 'modules.image_encoder.file' is '../image_encoder.onnx'; it must be a plain file name"},
    {"'file':'image_encoder.onnx',", "", KAT_EMODEL, "missing field 'modules.image_encoder.file'"},
    {"'sha256':'@IE@'", "'sha256':'abc'", KAT_EMODEL,
     "field 'modules.image_encoder.sha256' must be 64 hex digits"},
    {"'sha256':'@IE@'",
     "'sha256':'zzcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789'", KAT_EMODEL,
     "field 'modules.image_encoder.sha256' must be 64 hex digits"},
    {"'sha256':'@IE@',", "", KAT_EMODEL, "missing field 'modules.image_encoder.sha256'"},
    {"'file':'mask_decoder.onnx',", "'file':'mask_decoder.onnx','precision':'int4',", KAT_EMODEL,
     "field 'modules.mask_decoder.precision' must be \"fp32\", \"fp16\" or \"int8\""},
    {"'shape':[1,3,64,64]", "'shape':[1,3,64,65]", KAT_EMODEL,
     "modules.image_encoder.inputs[0] 'image': bad shape [1,3,64,65]: dim 3 is 65, expected 64"},
    {"'shape':[1,3,64,64]", "'shape':[1,3,64]", KAT_EMODEL,
     "modules.image_encoder.inputs[0] 'image': bad shape [1,3,64]: rank 3, expected 4"},
    {"'shape':[1,3,64,64]", "'shape':[1,3,'S','S']", KAT_EMODEL,
     "modules.image_encoder.inputs[0] 'image': bad shape: dim 2 is symbolic 'S', expected 64"},
    {"'shape':[1,3,64,64]", "'shape':[1,3,64,true]", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0].shape[3]' must be an integer or a string "
     "(symbolic), found boolean"},
    {"'shape':[1,3,64,64]", "'shape':[1,3,64,0]", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0].shape[3]' is 0, expected 1.."},
    {"'shape':[1,3,64,64]", "'shape':[1,3,64,'']", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0].shape[3]': a symbolic dim needs a name"},
    {"'shape':[1,3,64,64]", "'shape':[1,1,1,1,1,1,1,1,1]", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0].shape' has rank 9, the limit is 8"},
    {"'shape':[1,3,64,64]", "'dims':[1,3,64,64]", KAT_EMODEL,
     "missing field 'modules.image_encoder.inputs[0].shape'"},
    {"{'name':'image','dtype':'float32'", "{'name':'image','dtype':'float16'", KAT_EMODEL,
     "modules.image_encoder.inputs[0] 'image': dtype is float16, expected float32"},
    {"{'name':'image','dtype':'float32'", "{'name':'image','dtype':'float64'", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0].dtype' of tensor 'image': unknown dtype 'float64'"},
    {"{'name':'image',", "{'name':'img',", KAT_EMODEL,
     "modules.image_encoder.inputs: missing tensor 'image' required by the bundle format"},
    {"'inputs':[{'name':'image'", "'inputs':[1,{'name':'image'", KAT_EMODEL,
     "field 'modules.image_encoder.inputs[0]' must be an object, found number"},
    {"'shape':[1,'M',8]", "'shape':[1,100,8]", KAT_EMODEL,
     "modules.memory_attention.inputs[1] 'memory': bad shape [1,100,8]: dim 1 is 100 but must be "
     "symbolic (dynamic)"},
    {"{'name':'point_labels','dtype':'int32'", "{'name':'point_labels','dtype':'int64'", KAT_EMODEL,
     "modules.mask_decoder.inputs[2] 'point_labels': dtype is int64, expected int32"},
    {"{'name':'point_coords'",
     "{'name':'mask_input','dtype':'float32','shape':[1,1,16,16]},{'name':'point_coords'",
     KAT_EMODEL,
     "modules.mask_decoder.inputs[1] 'mask_input': input of bundle format 2, but format_version "
     "is 1"},
    {"{'name':'point_coords'",
     "{'name':'mask_prompt','dtype':'float32','shape':[1,1,16,16]},{'name':'point_coords'",
     KAT_EMODEL, "modules.mask_decoder.inputs[1] 'mask_prompt': not an input of the bundle format"},
    {"{'name':'iou_pred'", "{'name':'masks'", KAT_EMODEL,
     "field 'modules.mask_decoder.outputs': tensor 'masks' is listed twice"},
    {"{'name':'obj_ptr','dtype':'float32','shape':[1,4,16]}",
     "{'name':'obj_ptr','dtype':'float32','shape':[1,4,8]}", KAT_EMODEL,
     "modules.mask_decoder.outputs[3] 'obj_ptr': bad shape [1,4,8]: dim 2 is 8, expected 16"},
    {"'inputs':[{'name':'pix_feat','dtype':'float32','shape':[1,16,4,4]},"
     "{'name':'mask_logits','dtype':'float32','shape':[1,1,16,16]},"
     "{'name':'is_mask_from_pts','dtype':'float32','shape':[1]}]",
     "'inputs':[]", KAT_EMODEL, "field 'modules.memory_encoder.inputs' is empty"},
    {"'outputs':[{'name':'maskmem_features'", "'outputs':[{'name':'maskmem'", KAT_EMODEL,
     "modules.memory_encoder.outputs: missing tensor 'maskmem_features'"},
    {"'dynamic':true", "'dynamic':false", KAT_EMODEL,
     "field 'modules.memory_attention.fixed_tokens' must be an integer when dynamic is false"},
    {"'dynamic':true,", "", KAT_EMODEL, "missing field 'modules.memory_attention.dynamic'"},
    {"'fixed_tokens':null,", "", KAT_EMODEL,
     "missing field 'modules.memory_attention.fixed_tokens' (null or an integer)"},
    {"'fixed_tokens':null", "'fixed_tokens':24", KAT_EMODEL,
     "missing field 'modules.memory_attention.fixed_file'"},
    {"'fixed_tokens':null", "'fixed_tokens':24,'fixed_file':'memory_attention_fixed.onnx'",
     KAT_EMODEL, "missing field 'modules.memory_attention.fixed_sha256'"},
    {"'fixed_tokens':null", "'fixed_tokens':-3", KAT_EMODEL,
     "field 'modules.memory_attention.fixed_tokens' is -3, expected 1.."},
    /* constants */
    {"'constants':{", "'constant':{", KAT_EMODEL, "missing field 'constants'"},
    {"'file':'constants.bin'", "'file':'/etc/passwd'", KAT_EMODEL,
     "field 'constants.file' is '/etc/passwd'; it must be a plain file name"},
    {"{'name':'no_mem_embed','shape':[1,1,16]", "{'name':'no_mem_embed','shape':[1,16]", KAT_EMODEL,
     "constants.entries[3] 'no_mem_embed': bad shape [1,16] for hidden_dim 16, mem_dim 8"},
    {"{'name':'maskmem_tpos_enc','shape':[7,1,1,8]", "{'name':'maskmem_tpos_enc','shape':[6,1,1,8]",
     KAT_EMODEL, "constants.entries[2] 'maskmem_tpos_enc': bad shape [6,1,1,8]"},
    {"'offset':1760", "'offset':1762", KAT_EMODEL,
     "field 'constants.entries[3].offset' of constant 'no_mem_embed' is 1762, not a multiple of "
     "4"},
    {"'offset':1760", "'offset':1000", KAT_EMODEL,
     "constants.entries[3] 'no_mem_embed' (bytes 1000..1064) overlaps 'vision_pos' (bytes "
     "0..1024)"},
    {"'offset':1760", "'offset':-4", KAT_EMODEL,
     "field 'constants.entries[3].offset' is -4, expected 0.."},
    {",{'name':'no_obj_ptr','shape':[1,16],'offset':1824}", "", KAT_EMODEL,
     "constants.entries: missing constant 'no_obj_ptr'"},
    {"{'name':'no_obj_ptr'", "{'name':'no_mem_embed'", KAT_EMODEL,
     "constants.entries[4]: constant 'no_mem_embed' is listed twice"},
    {"{'name':'no_obj_ptr','shape':[1,16]", "{'name':'no_obj_ptr','shape':[1,'C']", KAT_EMODEL,
     "field 'constants.entries[4].shape[1]' is symbolic 'C'; constants need integer dims"},
    {"'offset':1824", "'offset':'1824'", KAT_EMODEL,
     "field 'constants.entries[4].offset' must be an integer, found string"},
    {"'proj_tpos_enc_in_obj_ptrs':false", "'proj_tpos_enc_in_obj_ptrs':true", KAT_EMODEL,
     "constants.entries: missing constant 'obj_ptr_tpos_proj.weight'"},
    {"'no_obj_embed_spatial':false", "'no_obj_embed_spatial':true", KAT_EMODEL,
     "constants.entries: missing constant 'no_obj_embed_spatial'"},
};

/* The fixture turned into format 2 by hand: the two decoder inputs and the mask_downsample
 * constants after the others (offsets 1888 and 1952). */
#define V2_INPUTS                                                \
  "{'name':'point_labels','dtype':'int32','shape':[1,'N']},"     \
  "{'name':'mask_input','dtype':'float32','shape':[1,1,16,16]}," \
  "{'name':'has_mask_input','dtype':'float32','shape':[1]}"
#define V2_CONSTS                                                      \
  "{'name':'no_obj_ptr','shape':[1,16],'offset':1824},"                \
  "{'name':'mask_downsample.weight','shape':[1,1,4,4],'offset':1888}," \
  "{'name':'mask_downsample.bias','shape':[1],'offset':1952}"

static char *v2_text(const char *from, const char *to) {
  char *a = kat_fx_replace(kat_fixture_manifest, "'format_version':1", "'format_version':2");
  char *b =
      a ? kat_fx_replace(a, "{'name':'point_labels','dtype':'int32','shape':[1,'N']}", V2_INPUTS)
        : NULL;
  char *c =
      b ? kat_fx_replace(b, "{'name':'no_obj_ptr','shape':[1,16],'offset':1824}", V2_CONSTS) : NULL;
  char *d = c && from ? kat_fx_replace(c, from, to) : c;
  if (d != c) free(c);
  free(a);
  free(b);
  return d ? kat_fx_fill(d) : NULL;
}

static int parse_v2(const char *from, const char *to, kat__errbuf *eb) {
  char *text = v2_text(from, to);
  KAT_CHECK(text != NULL);
  if (!text) return -999;
  int rc = kat__manifest_parse(text, strlen(text), "katana.json", &g_man, eb);
  free(text);
  return rc;
}

/* Format 2 is read and records the mask input; format 1 records none. */
KAT_TEST(test_format2) {
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(parse_mutated(NULL, NULL, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(g_man.format_version, 1);
  KAT_CHECK(!g_man.mask_decoder_has_mask_input);
  int rc = parse_v2(NULL, NULL, &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  KAT_CHECK_INT_EQ(g_man.format_version, 2);
  KAT_CHECK(g_man.mask_decoder_has_mask_input);
  const kat__module_manifest *md = &g_man.modules[KAT_MODULE_MASK_DECODER];
  KAT_CHECK_INT_EQ(md->n_inputs, 5);
  int mi = kat__manifest_input_index(md, "mask_input");
  KAT_CHECK_INT_EQ(mi, 3);
  if (mi >= 0) KAT_CHECK_INT_EQ(md->inputs[mi].dims[3], 16);
  KAT_CHECK_INT_EQ(kat__manifest_input_index(md, "has_mask_input"), 4);
  const kat__constant_entry *w = kat__manifest_constant(&g_man, "mask_downsample.weight");
  KAT_CHECK(w != NULL);
  if (w) KAT_CHECK_INT_EQ(w->count, 16);
  KAT_CHECK_INT_EQ(g_man.constants_end, 1956);

  /* Wrong shapes, dtypes and a missing flag or constant are named. */
  KAT_CHECK_INT_EQ(parse_v2("'shape':[1,1,16,16]}", "'shape':[1,1,8,8]}", &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg,
                     "modules.mask_decoder.inputs[3] 'mask_input': bad shape [1,1,8,8]: "
                     "dim 2 is 8, expected 16");
  KAT_CHECK_INT_EQ(
      parse_v2("'has_mask_input','dtype':'float32'", "'has_mask_input','dtype':'int32'", &eb),
      KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "'has_mask_input': dtype is int32, expected float32");
  KAT_CHECK_INT_EQ(parse_v2(",{'name':'has_mask_input','dtype':'float32','shape':[1]}", "", &eb),
                   KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg,
                     "missing tensor 'has_mask_input' required by the bundle format "
                     "(version 2)");
  KAT_CHECK_INT_EQ(parse_v2(",{'name':'mask_downsample.bias','shape':[1],'offset':1952}", "", &eb),
                   KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "constants.entries: missing constant 'mask_downsample.bias'");
  KAT_CHECK_INT_EQ(
      parse_v2("'shape':[1,1,4,4],'offset':1888", "'shape':[1,4,4],'offset':1888", &eb),
      KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "'mask_downsample.weight': bad shape [1,4,4]");
}

KAT_TEST(test_errors) {
  for (size_t i = 0; i < sizeof k_mutations / sizeof k_mutations[0]; i++) {
    const mutation *mu = &k_mutations[i];
    kat__errbuf eb = {{0}};
    memset(&g_man, 0x5a, sizeof g_man);
    int rc = parse_mutated(mu->from, mu->to, &eb);
    if (rc != mu->status || !strstr(eb.msg, mu->needle))
      fprintf(stderr, "mutation %zu: '%s' -> '%s'\n", i, mu->from, mu->to);
    KAT_CHECK_INT_EQ(rc, mu->status);
    KAT_CHECK_CONTAINS(eb.msg, mu->needle);
    KAT_CHECK_INT_EQ(g_man.image_size, 0); /* zeroed on failure */
  }
  /* Not an object; not JSON at all; too large. */
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__manifest_parse("[]", 2, "k.json", &g_man, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "k.json:1:1: the manifest must be a JSON object, found array");
  KAT_CHECK_INT_EQ(kat__manifest_parse("\x7f"
                                       "ELF",
                                       4, NULL, &g_man, &eb),
                   KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "katana.json:1:1: expected a value, found byte 0x7f");
  size_t big = KAT_MANIFEST_MAX_BYTES + 1;
  char *text = malloc(big);
  memset(text, ' ', big);
  KAT_CHECK_INT_EQ(kat__manifest_parse(text, big, NULL, &g_man, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "more than the limit");
  free(text);
  KAT_CHECK_INT_EQ(kat__manifest_load("/nonexistent/katana.json", &g_man, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "/nonexistent/katana.json");
}

static void make_tmpdir(char *dir, size_t n) {
  const char *t = getenv("TMPDIR");
  snprintf(dir, n, "%s/kat_manifest_XXXXXX", t && t[0] ? t : "/tmp");
  KAT_CHECK(mkdtemp(dir) != NULL);
}

static int open_bundle(const char *dir, bool verify, kat__bundle **b, kat__errbuf *eb) {
  kat__bundle_options o;
  kat__bundle_options_init(&o);
  o.verify_hashes = verify;
  return kat__bundle_open(dir, &o, b, eb);
}

KAT_TEST(test_bundle_synthetic) {
  char dir[512], path[1024];
  kat__errbuf eb = {{0}};
  kat__bundle *b = NULL;
  make_tmpdir(dir, sizeof dir);
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, NULL, NULL), 0);

  /* Valid: open, manifest, paths, constants. */
  int rc = open_bundle(dir, true, &b, &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (b) {
    KAT_CHECK_INT_EQ(kat__bundle_manifest(b)->image_size, 64);
    KAT_CHECK_STR_EQ(kat__bundle_dir(b), dir);
    snprintf(path, sizeof path, "%s/mask_decoder.onnx", dir);
    KAT_CHECK_STR_EQ(kat__bundle_module_path(b, KAT_MODULE_MASK_DECODER), path);
    KAT_CHECK(kat__bundle_module_path(b, KAT_MODULE_MEMORY_ATTENTION_FIXED) == NULL);
    KAT_CHECK(!kat__bundle_has_module(b, 7));
    const kat__tensor_spec *spec = NULL;
    const float *v = kat__bundle_constant(b, "no_mem_embed", &spec);
    KAT_CHECK(v != NULL && spec != NULL);
    if (v && spec) {
      KAT_CHECK_STR_EQ(spec->name, "no_mem_embed");
      KAT_CHECK_INT_EQ(spec->rank, 3);
      KAT_CHECK_INT_EQ(spec->dims[2], 16);
      KAT_CHECK_NEAR(v[0], 1760 / 4 * 0.5, 0); /* float k of the file is k/2 */
      KAT_CHECK_NEAR(v[15], (1760 / 4 + 15) * 0.5, 0);
    }
    v = kat__bundle_constant(b, "maskmem_tpos_enc", NULL);
    KAT_CHECK(v != NULL);
    if (v) KAT_CHECK_NEAR(v[55], (1536 / 4 + 55) * 0.5, 0);
    KAT_CHECK(kat__bundle_constant(b, "nothing", &spec) == NULL);
    KAT_CHECK(spec == NULL);
    kat__bundle_destroy(b);
    b = NULL;
  }
  kat__bundle_destroy(NULL);

  /* The fixed variant must exist and match its hash. */
  const char *fx_from = "'fixed_tokens':null";
  const char *fx_to =
      "'fixed_tokens':24,'fixed_file':'memory_attention_fixed.onnx','fixed_sha256':'@MF@'";
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, fx_from, fx_to), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_OK);
  KAT_CHECK(kat__bundle_has_module(b, KAT_MODULE_MEMORY_ATTENTION_FIXED));
  kat__bundle_destroy(b);
  b = NULL;
  snprintf(path, sizeof path, "%s/memory_attention_fixed.onnx", dir);
  unlink(path);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "memory_attention_fixed file");
  KAT_CHECK_CONTAINS(eb.msg, "memory_attention_fixed.onnx");
  KAT_CHECK(b == NULL);

  /* A missing module file is named, with or without hashing. */
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, NULL, NULL), 0);
  snprintf(path, sizeof path, "%s/memory_encoder.onnx", dir);
  unlink(path);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "memory_encoder file");
  KAT_CHECK_CONTAINS(eb.msg, path);
  KAT_CHECK(b == NULL);

  /* A changed module file: hash mismatch names the file; skipping hashes accepts it. */
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, NULL, NULL), 0);
  KAT_CHECK_INT_EQ(kat_fx_write(dir, "mask_decoder.onnx", "stand-in for mask_decoder.onnY", 30), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  snprintf(path, sizeof path, "%s/mask_decoder.onnx has sha256", dir);
  KAT_CHECK_CONTAINS(eb.msg, path);
  KAT_CHECK_CONTAINS(eb.msg, "the manifest says");
  KAT_CHECK(b == NULL);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_OK);
  kat__bundle_destroy(b);
  b = NULL;

  /* constants.bin: truncated (names the first entry past the end), too long, changed, missing. */
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, NULL, NULL), 0);
  float c[KAT_FIXTURE_CONST_BYTES / 4];
  for (int k = 0; k < KAT_FIXTURE_CONST_BYTES / 4; k++) c[k] = (float)k * 0.5f;
  KAT_CHECK_INT_EQ(kat_fx_write(dir, "constants.bin", c, 1800), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg,
                     "constants.bin is truncated: 1800 bytes, but constant 'no_mem_embed' "
                     "(offset 1760, 64 bytes) ends at byte 1824");
  KAT_CHECK(b == NULL);
  KAT_CHECK_INT_EQ(kat_fx_write(dir, "constants.bin", c, 0), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "constant 'vision_pos' (offset 0");
  char big[KAT_FIXTURE_CONST_BYTES + 4];
  memcpy(big, c, sizeof c);
  memset(big + sizeof c, 0, 4);
  KAT_CHECK_INT_EQ(kat_fx_write(dir, "constants.bin", big, sizeof big), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "constants.bin is longer than the 1888 bytes");
  c[100] = 1.0f;
  KAT_CHECK_INT_EQ(kat_fx_write(dir, "constants.bin", c, sizeof c), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "constants file");
  KAT_CHECK_CONTAINS(eb.msg, "constants.bin has sha256");
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_OK); /* same size, hash skipped */
  kat__bundle_destroy(b);
  b = NULL;
  snprintf(path, sizeof path, "%s/constants.bin", dir);
  unlink(path);
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "constants.bin");

  /* A bad manifest and a missing one. */
  KAT_CHECK_INT_EQ(kat_fx_bundle(dir, "'num_maskmem':7", "'num_maskmem':'seven'"), 0);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "katana.json:1:");
  KAT_CHECK_CONTAINS(eb.msg, "field 'num_maskmem' must be an integer, found string");
  snprintf(path, sizeof path, "%s/katana.json", dir);
  unlink(path);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "has no katana.json");
  KAT_CHECK_INT_EQ(kat__bundle_open(NULL, NULL, &b, &eb), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat__bundle_open(dir, NULL, NULL, &eb), KAT_EINVAL);
  kat_fx_cleanup(dir);
}

KAT_TEST_MAIN(KAT_CASE(test_valid), KAT_CASE(test_valid_variants), KAT_CASE(test_format2),
              KAT_CASE(test_errors), KAT_CASE(test_bundle_synthetic))
