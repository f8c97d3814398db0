/* vision-encoder.h: a ViT image encoder (patch embedding, position embeddings,
 * pre-norm transformer blocks, final LayerNorm) shared by the SigLIP-style towers.
 *
 * The forward pass is split into stages so that towers with extras compose them:
 * CLIP prepends a class token and a pre-LayerNorm after vlm_vision_encoder_embed(),
 * and selects a hidden state by running only the first k layers with
 * vlm_vision_encoder_run_layers() before (or instead of) the post norm. */
#pragma once

#include "compute/ops.h"
#include "weights/weight-binder.h"

G_BEGIN_DECLS

typedef struct {
  gint64 hidden;        /* D */
  gint64 intermediate;  /* MLP width */
  gint64 n_layers;
  gint64 n_heads;
  gint64 patch;         /* kernel size = stride */
  gint64 channels;
  gint64 image_size;    /* the position table covers (image_size / patch)^2 patches */
  float eps;            /* LayerNorm epsilon */
  VlmActivation act;    /* MLP activation */
  gboolean class_token; /* CLIP: class embedding first, pre-LayerNorm, no patch bias */
} VlmVisionConfig;

typedef struct {
  VlmTensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;  /* [D] F32 */
  VlmLinear q, k, v, o, fc1, fc2;
} VlmVisionLayer;

typedef struct {
  VlmVisionConfig cfg;
  gint64 side;          /* patches per side of the position grid */
  VlmLinear patch_embed;  /* [D, channels * patch * patch], columns (channel, y, x) */
  VlmTensor *pos_embed;   /* [side * side, D] F32 */
  VlmVisionLayer *layers;
  VlmTensor *post_w, *post_b;  /* [D] F32 */
  VlmTensor *class_embed, *pre_w, *pre_b;  /* [D] F32, class_token only */
  /* Opt-in (default FALSE: exact F32): the layers' projections round their inputs to
   * BF16 and multiply with vdpbf16ps (compute/gemm-bf16.h) where the CPU can. */
  gboolean bf16_products;
  /* Opt-in, likewise: the projections and both attention products with inputs and
   * weights rounded to FP16, vfmadd231ph in short runs (compute/gemm-f16.h,
   * compute/attention-f16.h). */
  gboolean f16_products;
} VlmVisionEncoder;

VlmVisionEncoder *vlm_vision_encoder_load (const VlmVisionConfig *cfg, VlmWeights *weights,
                                           const char *prefix, const char *const *aliases,
                                           GError **error);
void              vlm_vision_encoder_free (VlmVisionEncoder *enc);

gboolean vlm_vision_position_ids (const guint8 *patch_valid, gint64 rows, gint64 cols,
                                  gint64 side, gint64 *ids, GError **error);
gint64   vlm_vision_encoder_seq_len (const VlmVisionEncoder *enc, gint64 height, gint64 width);
gboolean vlm_vision_encoder_embed (const VlmVisionEncoder *enc, const float *pixels,
                                   const guint8 *patch_valid, gint64 batch, gint64 height,
                                   gint64 width, float *x, GError **error);
void     vlm_vision_encoder_run_layers (const VlmVisionEncoder *enc, float *x,
                                        const guint8 *patch_valid, gint64 batch, gint64 seq,
                                        gint64 first, gint64 last);
void     vlm_vision_encoder_post_norm (const VlmVisionEncoder *enc, float *x, gint64 rows);
gboolean vlm_vision_encoder_forward (const VlmVisionEncoder *enc, const float *pixels,
                                     const guint8 *patch_valid, gint64 batch, gint64 height,
                                     gint64 width, float *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmVisionEncoder, vlm_vision_encoder_free)

G_END_DECLS
