/* decoder.h: a Llama-family causal text decoder (token embeddings, RMSNorm, RoPE,
 * grouped-query attention over a KV cache, gated MLP, final norm, LM head).
 *
 * Later families are configuration, not copies: VlmDecoderConfig carries the knobs
 * (embedding scale, norm weight offset, q/k/v and MLP biases, sliding-window layers,
 * attention and final logit soft-capping) that Gemma, Gemma 3 and Qwen2 set differently. */
#pragma once

#include "compute/ops.h"
#include "nn/kv-cache.h"
#include "vlm/vlm-model-dir.h"
#include "vlm/vlm-pipeline.h"

G_BEGIN_DECLS

/* Which prompt tokens attend bidirectionally; generated tokens are always causal. */
typedef enum {
  VLM_PROMPT_CAUSAL,            /* Llama */
  VLM_PROMPT_PREFIX,            /* the whole prompt (PaliGemma's prefix-LM) */
  VLM_PROMPT_IMAGE_BLOCKS,      /* each run of image tokens (token_type_ids 1; Gemma 3) */
} VlmPromptAttention;

typedef struct {
  gint64 hidden, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab;
  double rms_eps;
  double rope_theta;
  VlmRopeScaling rope_scaling;  /* type VLM_ROPE_DEFAULT when absent */
  gboolean rope_interleaved;
  VlmActivation act;            /* of the gated MLP: act(gate) * up */
  gboolean tie_word_embeddings; /* the top-level config's flag governs (Idefics3) */
  gint64 image_token_id;        /* -1: the model takes no image features */
  /* Family knobs; a Llama config leaves them at their neutral values. */
  float embed_scale;            /* text embeddings times this (Gemma: sqrt(hidden)) */
  float norm_weight_offset;     /* RMSNorm uses (offset + w) (Gemma: 1) */
  gboolean attention_bias;      /* q/k/v projections have biases (Qwen2) */
  gboolean mlp_bias;
  gint64 sliding_window;        /* window of the layers marked sliding; 0: none */
  float attn_softcap, final_softcap; /* 0: none */
  /* Gemma-family knobs (neutral values for Llama). */
  gint64 sliding_window_pattern; /* without layer_types: every Nth layer is global; 0: none */
  double rope_local_theta;      /* RoPE base of sliding layers (unscaled); 0: as global */
  float attn_scale;             /* 0: head_dim^-0.5 (Gemma 3: query_pre_attn_scalar^-0.5) */
  gboolean qk_norm;             /* RMSNorm of each q/k head before RoPE (Gemma 3) */
  gboolean sandwich_norms;      /* norms after attention and around the MLP (Gemma 2/3) */
  gint64 position_offset;       /* first rotary position (PaliGemma: 1) */
  gboolean scale_image_features; /* image rows also get embed_scale (PaliGemma 4.x) */
  VlmPromptAttention prompt_attention;
  /* M-RoPE (Qwen2-VL): how many rotary frequencies read the temporal, height and width
   * position streams; all 0: plain RoPE. */
  gint64 mrope_section[3];
} VlmDecoderConfig;

typedef struct {
  VlmLinear q, k, v, o, gate, up, down;
  VlmTensor *attn_norm, *mlp_norm; /* [hidden] F32 */
  VlmTensor *post_attn_norm, *post_mlp_norm; /* [hidden] F32, sandwich_norms only */
  VlmTensor *q_norm, *k_norm;   /* [head_dim] F32, qk_norm only */
  gint64 window;                /* 0: full attention */
} VlmDecoderLayer;

typedef struct {
  VlmDecoderConfig cfg;
  VlmLinear embed;              /* [vocab, hidden], read in its stored format */
  VlmLinear lm_head;            /* empty (NULL data) when tied and not stored */
  VlmTensor *final_norm;
  VlmDecoderLayer *layers;
  float *inv_freq;              /* [head_dim / 2] */
  float *inv_freq_local;        /* [head_dim / 2] of sliding layers, or NULL */
} VlmDecoder;

/* Scratch of vlm_decoder_step() (nn/decoder-step.h). */
typedef struct _VlmDecoderScratch VlmDecoderScratch;

/* What one sequence needs besides the weights: the cache and the scratch for up to
 * max_rows rows at a time, all allocated up front. */
typedef struct {
  VlmKvCache *cache;
  gint64 max_rows;
  VlmDecoderScratch *scratch;
  const gint64 *next_streams;   /* nullable [3, n]: M-RoPE streams of the next forward call */
  gint64 position_delta;        /* added to positions without streams (rope_deltas) */
  float *logits;                /* [vocab] of the last row of the last forward */
  gint64 *spans;                /* n_spans bidirectional (start, end) row pairs, owned */
  guint n_spans;
} VlmDecoderState;

gboolean   vlm_decoder_config_load (VlmDecoderConfig *cfg, VlmModelDir *dir, GError **error);
VlmDecoder *vlm_decoder_load (VlmModelDir *dir, VlmPipeline *pipeline, GError **error);
void        vlm_decoder_free (VlmDecoder *dec);

gboolean    vlm_decoder_embed (VlmDecoder *dec, const gint64 *ids, gint64 n, float *out,
                               GError **error);
gboolean    vlm_decoder_merge_image_features (VlmDecoder *dec, const gint64 *ids, gint64 n,
                                              const float *features, gint64 n_features,
                                              float *embeds, GError **error);

VlmDecoderState *vlm_decoder_state_new (VlmDecoder *dec, gint64 max_rows, gint64 capacity,
                                        GError **error);
void        vlm_decoder_state_free (VlmDecoderState *state);
gboolean    vlm_decoder_prompt_spans (const VlmDecoderConfig *cfg, const gint64 *token_types,
                                      gint64 n, gint64 **spans, guint *n_spans, GError **error);
void        vlm_decoder_forward (VlmDecoder *dec, VlmDecoderState *state, const float *embeds,
                                 gint64 n, float *final_hidden);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmDecoder, vlm_decoder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmDecoderState, vlm_decoder_state_free)

G_END_DECLS
