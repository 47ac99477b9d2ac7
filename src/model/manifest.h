/*
 * The bundle manifest (katana.json, docs/bundle-format.md, format_version 1 or 2) as a plain
 * struct.
 *
 * kat__manifest_parse checks the manifest completely: the JSON syntax, every field's presence,
 * type and range, the derived sizes (feat_size = image_size / 16, low_res_mask_size =
 * image_size / 4), every module's tensor list against the module contract of bundle-format.md
 * (names, dtypes, ranks, fixed dims, which dims are symbolic), and the constants table (names,
 * shapes, f32 alignment, no overlaps). Each problem has its own message naming the field or
 * tensor, with the line:column of the offending JSON value where there is one, e.g.
 * "katana.json:14:22: modules.image_encoder.inputs[0] 'image': shape[2] is 511, expected 512".
 * Statuses: KAT_EFORMAT (not JSON), KAT_ENOTSUP (format_version or format not supported),
 * KAT_EMODEL (anything else wrong in the content).
 *
 * Unknown fields are ignored (logged at debug level) so the exporter can add informational ones.
 *
 * Thread-safety: a parsed kat__manifest is a plain value; reading it from several threads is safe.
 */
#ifndef KAT_MODEL_MANIFEST_H
#define KAT_MODEL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "katana/runtime.h"
#include "model/sha256.h"
#include "runtime/session.h"

#define KAT_MANIFEST_FORMAT "katana-bundle"
#define KAT_MANIFEST_VERSION 2     /* the newest format_version read */
#define KAT_MANIFEST_VERSION_MIN 1 /* the oldest format_version read */
#define KAT_MANIFEST_MAX_BYTES ((size_t)1 << 20)
#define KAT_FILE_NAME_MAX 256
#define KAT_SYM_MAX 32
#define KAT_MAX_CONSTANTS 64

/* Module slots: the four kat_module values, then the optional fixed-M memory attention
 * (modules.memory_attention.fixed_tokens/fixed_file/fixed_sha256: the same tensors as
 * memory_attention with M = fixed_tokens). */
#define KAT_MODULE_MEMORY_ATTENTION_FIXED 4
#define KAT_MANIFEST_MODULES 5

typedef enum kat__family { KAT_FAMILY_EFFICIENTTAM = 1, KAT_FAMILY_SAM21 = 2 } kat__family;

/* Returns "efficienttam" / "sam2.1", or "unknown". */
const char *kat__family_name(kat__family f);
/* Returns the manifest name of a module slot ("memory_attention_fixed" for slot 4), or NULL. */
const char *kat__manifest_module_name(int module);

/* The official SAM 2 config flags of the same names (manifest "tracker"). */
typedef struct kat__tracker_flags {
  bool add_tpos_enc_to_obj_ptrs;
  bool proj_tpos_enc_in_obj_ptrs;
  bool use_signed_tpos_enc_to_obj_ptrs;
  bool only_obj_ptrs_in_the_past_for_eval;
  bool directly_add_no_mem_embed;
  bool pred_obj_scores;
  bool fixed_no_obj_ptr;
  bool soft_no_obj_ptr;
  bool use_multimask_token_for_obj_ptr;
  bool multimask_output_for_tracking;
  bool multimask_output_in_sam;
  bool dynamic_multimask_via_stability;
  bool no_obj_embed_spatial;
  bool binarize_mask_from_pts_for_mem_enc;
  bool iou_prediction_use_sigmoid; /* applied in-graph; informational for the host */
  bool use_obj_ptrs_in_encoder;
  int multimask_min_pt_num;
  int multimask_max_pt_num;
  int memory_temporal_stride_for_eval;
  double dynamic_multimask_stability_delta;
  double dynamic_multimask_stability_thresh;
  double sigmoid_scale_for_mem_enc;
  double sigmoid_bias_for_mem_enc;
} kat__tracker_flags;

/* SAMURAI defaults (manifest "samurai"); the tracker may override them at run time. */
typedef struct kat__samurai_defaults {
  int stable_frames_threshold;
  double stable_ious_threshold;
  double min_obj_score_logits;
  double kf_score_weight;
  double memory_bank_iou_threshold;
  double memory_bank_obj_score_threshold;
  double memory_bank_kf_score_threshold;
} kat__samurai_defaults;

/* One ONNX module of the bundle. dims of -1 are symbolic; *_sym[i][d] holds the name ("M"). */
typedef struct kat__module_manifest {
  bool present;                     /* always true for slots 0..3 after a successful parse */
  char file[KAT_FILE_NAME_MAX];     /* plain file name inside the bundle folder */
  char sha256[KAT_SHA256_HEX_SIZE]; /* 64 lowercase hex digits */
  char precision[8]; /* "fp32" (default), "fp16" or "int8" (weights; I/O stay as listed) */
  /* memory_attention: dynamic M (memory dim 1 symbolic) or fixed M = fixed_tokens; the fixed
   * variant slot has dynamic false and its dims filled in. */
  bool dynamic;
  int64_t fixed_tokens; /* 0 when the manifest says null */
  int n_inputs, n_outputs;
  kat__tensor_spec inputs[KAT_MAX_IO];
  kat__tensor_spec outputs[KAT_MAX_IO];
  char input_sym[KAT_MAX_IO][KAT_MAX_RANK][KAT_SYM_MAX];
  char output_sym[KAT_MAX_IO][KAT_MAX_RANK][KAT_SYM_MAX];
} kat__module_manifest;

/* One constants.bin entry: little-endian f32, `count` elements from byte `offset`. */
typedef struct kat__constant_entry {
  kat__tensor_spec spec; /* name, KAT_DT_F32, shape (no symbolic dims) */
  uint64_t offset;
  size_t count;
  size_t bytes;
} kat__constant_entry;

typedef struct kat__manifest {
  int format_version; /* 1 or 2 */
  /* The mask decoder has the format 2 inputs mask_input [1,1,S/4,S/4] f32 and has_mask_input [1]
   * f32 (always so on format 2, never on format 1); without them mask prompts and corrections
   * cannot be expressed and must be refused. */
  bool mask_decoder_has_mask_input;
  kat__family family;
  char config[128];           /* e.g. "efficienttam_ti_512x512" */
  int image_size;             /* S: the model input is [1,3,S,S] */
  double mean[3], std[3];     /* normalisation of x/255, RGB */
  int feat_h, feat_w;         /* H = W = S/16 */
  int hidden_dim;             /* C */
  int mem_dim;                /* Cm */
  int low_res_mask_size;      /* S/4 */
  bool use_high_res_features; /* SAM 2.1: high_res_feats_0/1 flow encoder -> decoder */
  int num_maskmem;
  int max_obj_ptrs_in_encoder;
  kat__tracker_flags tracker;
  kat__samurai_defaults samurai;
  kat__module_manifest modules[KAT_MANIFEST_MODULES]; /* index kat_module, or 4 (fixed M) */
  char constants_file[KAT_FILE_NAME_MAX];
  char constants_sha256[KAT_SHA256_HEX_SIZE];
  int n_constants;
  kat__constant_entry constants[KAT_MAX_CONSTANTS];
  uint64_t constants_end; /* byte just past the furthest entry: the expected file size */
} kat__manifest;

/*
 * Parses and validates `len` bytes of manifest text (borrowed for the call) into the caller-owned
 * *out (large: about 80 KiB; allocate it on the heap). `origin` (may be NULL) names the file in
 * messages. *out holds nothing that needs releasing. On failure *out is zeroed and the status and
 * message are as described at the top of this file.
 */
int kat__manifest_parse(const char *text, size_t len, const char *origin, kat__manifest *out,
                        kat__errbuf *eb);

/* Reads the file at `path` (a regular file of at most KAT_MANIFEST_MAX_BYTES) and parses it.
 * KAT_ENOENT/KAT_EIO when it cannot be read, KAT_EFORMAT when it is a FIFO, device or folder,
 * KAT_ERANGE when it is larger. The samurai values are range-checked by
 * kat__validate_samurai_defaults (KAT_EMODEL). */
int kat__manifest_load(const char *path, kat__manifest *out, kat__errbuf *eb);

/* The constant entry named `name`, or NULL. */
const kat__constant_entry *kat__manifest_constant(const kat__manifest *m, const char *name);

/* Index of the named tensor in a module's input/output list, or -1. */
int kat__manifest_input_index(const kat__module_manifest *mod, const char *name);
int kat__manifest_output_index(const kat__module_manifest *mod, const char *name);

#endif /* KAT_MODEL_MANIFEST_H */
