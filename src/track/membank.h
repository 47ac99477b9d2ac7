/*
 * Bounded memory bank of one tracked object.
 *
 * The reference keeps every past frame's output forever. The memory attention of frame f only
 * reads (sam2_base.py `_prepare_memory_conditioned_features`):
 *  - the conditioning frames (the prompted frames: frame 0 for a box on the first frame, plus any
 *    later prompt or correction; at most max_cond): memory features and object pointers;
 *  - SAMURAI: among frames 2..f-1 that pass the memory-bank thresholds ("valid"), the most recent
 *    ones (at most max_obj_ptrs_in_encoder - 1 are scanned, the last num_maskmem - 1 entries are
 *    used), plus frame f-1 whichever its scores; plain SAM 2: frames f-6..f-1;
 *  - the object pointers of frames f-1 .. f-(P-1), P = min(num_frames, max_obj_ptrs_in_encoder).
 * Valid frames only accumulate, so the K = min(max_obj_ptrs_in_encoder - 1, num_maskmem - 1) most
 * recent valid frames plus the newest frame are all any later frame can reach. The bank keeps
 * exactly those memory features (K + 2 slots: K + 1 retained, one being written), a ring of P - 1
 * pointers and the conditioning frame, all allocated at create; a step allocates nothing.
 *
 * Stored features are [H*W, Cm] f32 (transposed from the encoder's [Cm,H,W], the layout the memory
 * tokens use) rounded to bfloat16 values (sam2_video_predictor.py `_run_single_frame_inference`).
 *
 * Thread-safety: one thread at a time per bank.
 */
#ifndef KAT_TRACK_MEMBANK_H
#define KAT_TRACK_MEMBANK_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The most conditioning frames one bank holds (kat__membank_config.max_cond). */
#define KAT__MEMBANK_MAX_COND 64

typedef struct kat__membank_config {
  int samurai;          /* 1: SAMURAI memory selection; 0: plain SAM 2 (previous frames) */
  int num_maskmem;      /* 7 */
  int max_obj_ptrs;     /* max_obj_ptrs_in_encoder, 16 */
  int64_t num_frames;   /* length of the video when known (limits pointers); 0 = unknown */
  int max_cond;         /* conditioning frames the bank holds (prompts, corrections); 0 = 1 */
  double iou_threshold; /* memory_bank_iou_threshold 0.5 */
  double obj_threshold; /* memory_bank_obj_score_threshold 0.0 */
  double kf_threshold;  /* memory_bank_kf_score_threshold 0.0 */
  int hw;               /* H*W of the feature map */
  int mem_dim;          /* Cm, 64 */
  int hidden_dim;       /* C, 256; a multiple of Cm */
  int add_tpos_enc_to_obj_ptrs;
  int proj_tpos_enc_in_obj_ptrs;
  int use_signed_tpos_enc_to_obj_ptrs; /* no effect when tracking forward */
  /* Borrowed constants (valid for the bank's life; may be NULL in selection-only tests):
   * maskmem_pos_enc [Cm,H,W], maskmem_tpos_enc [num_maskmem,Cm],
   * tpos_proj_w [Cm, C] and tpos_proj_b [Cm] when proj_tpos_enc_in_obj_ptrs. */
  const float *maskmem_pos_enc;
  const float *maskmem_tpos_enc;
  const float *tpos_proj_w;
  const float *tpos_proj_b;
} kat__membank_config;

/* Scores of one tracked frame that the SAMURAI memory rule reads. */
typedef struct kat__frame_scores {
  float best_iou;  /* predicted IoU of the chosen mask */
  float obj_score; /* object score logit */
  int has_kf;      /* kf_score is not None */
  float kf_score;
} kat__frame_scores;

/* What frame f attends to, in the reference order. */
typedef struct kat__mem_selection {
  int n_mem; /* spatial memories: cond frames first, then t_pos ascending */
  int64_t mem_frame[KAT__MEMBANK_MAX_COND + 16];
  int mem_tpos[KAT__MEMBANK_MAX_COND + 16];
  int mem_cond[KAT__MEMBANK_MAX_COND + 16]; /* index among the cond frames, -1 for the others */
  int n_ptr; /* pointers: cond frames first, then t_diff = 1, 2, ... */
  int64_t ptr_frame[KAT__MEMBANK_MAX_COND + 64];
  int64_t ptr_pos[KAT__MEMBANK_MAX_COND + 64]; /* temporal distance of the position encoding */
  int ptr_cond[KAT__MEMBANK_MAX_COND + 64];    /* index among the cond frames, -1 otherwise */
} kat__mem_selection;

typedef struct kat__membank kat__membank;

/* Creates a bank (copies `cfg`; the constants stay borrowed). KAT_EINVAL on an unsupported
 * config, KAT_ENOMEM; *out stays NULL on failure. */
int kat__membank_create(const kat__membank_config *cfg, kat__membank **out, kat__errbuf *eb);
void kat__membank_destroy(kat__membank *b);
/* Forgets every frame (a new track). */
void kat__membank_reset(kat__membank *b);

/* Worst-case token count of memory (M) and of pointer tokens, for sizing the buffers. */
size_t kat__membank_max_tokens(const kat__membank *b);

/* Conditioning frames stored and the most the bank holds; the last frame pushed (-1: none). */
int kat__membank_cond_count(const kat__membank *b);
int kat__membank_cond_capacity(const kat__membank *b);
int64_t kat__membank_last_frame(const kat__membank *b);

/*
 * Stores frame `frame`'s outputs: `maskmem` [Cm,H,W] f32 from the memory encoder (NULL in
 * selection-only use), `add_spatial` [Cm] f32 added to it first (SAM 2.1's no_obj_embed_spatial
 * for an absent object) or NULL, `obj_ptr` [C] f32 (after no-object mixing) or NULL, and its
 * scores. Frame 0 is the conditioning frame and comes first; later frames must come in increasing
 * order.
 */
int kat__membank_push(kat__membank *b, int64_t frame, const float *maskmem,
                      const float *add_spatial, const float *obj_ptr,
                      const kat__frame_scores *scores, kat__errbuf *eb);
/*
 * As kat__membank_push, with `is_cond` 1 for a conditioning frame (a prompted or corrected frame,
 * kept for the whole track: sam2_video_predictor.py cond_frame_outputs) and 0 for a tracked one.
 * Frames are absolute video indices in increasing order; the first must be a conditioning frame
 * (an object may start on any frame). KAT_ERANGE when max_cond conditioning frames are held.
 */
int kat__membank_push_frame(kat__membank *b, int64_t frame, int is_cond, const float *maskmem,
                            const float *add_spatial, const float *obj_ptr,
                            const kat__frame_scores *scores, kat__errbuf *eb);

/* The frames frame `frame` attends to (sam2_base.py `_prepare_memory_conditioned_features`). */
void kat__membank_select(const kat__membank *b, int64_t frame, kat__mem_selection *sel);

/*
 * Assembles the memory_attention inputs of frame `frame`: `memory` and `memory_pos` [M, Cm] f32
 * (spatial tokens, then pointer tokens), *n_tokens = M, *n_ptr_tokens = pointer tokens.
 * Buffers hold kat__membank_max_tokens() * Cm floats. KAT_ESTATE without a conditioning frame.
 */
int kat__membank_assemble(kat__membank *b, int64_t frame, float *memory, float *memory_pos,
                          int64_t *n_tokens, int64_t *n_ptr_tokens, kat__errbuf *eb);

/* Rounds a float32 to the nearest bfloat16 value (ties to even), as tensor.to(torch.bfloat16). */
float kat__round_bf16(float v);

/* get_1d_sine_pe of sam2_utils.py for one position: out [dim] f32 (dim even). */
void kat__sine_pe_1d(float pos, int dim, float *out);

#endif /* KAT_TRACK_MEMBANK_H */
