/* qwen2vl-vision-model.h: the Qwen2-VL / Qwen2.5-VL vision transformer and patch
 * merger (transformers' Qwen2VisionTransformerPretrainedModel and
 * Qwen2_5_VisionTransformerPretrainedModel). Internal to the qwen2vl plugin. */
#pragma once

#include <vlm/vlm.h>

#include "compute/ops.h"
#include "weights/weight-binder.h"

G_BEGIN_DECLS

typedef struct {
  gboolean qwen25;          /* RMSNorm + SwiGLU blocks, windowed attention */
  gint64 dim, out_dim, depth, heads, intermediate;
  gint64 channels, patch, temporal, merge;
  gint64 window_size;       /* pixels per window side (2.5) */
  gboolean *full_attention; /* [depth]: the block attends over the whole image (2.5) */
  VlmActivation act;        /* block MLP */
  float eps;
} Qwen2vlVisionConfig;

typedef struct {
  VlmTensor *norm1_w, *norm1_b, *norm2_w, *norm2_b; /* biases NULL for RMSNorm */
  VlmLinear qkv, proj;
  VlmLinear fc1, fc2;                               /* Qwen2-VL MLP */
  VlmLinear gate, up, down;                         /* Qwen2.5-VL MLP */
} Qwen2vlVisionBlock;

typedef struct {
  Qwen2vlVisionConfig cfg;
  VlmLinear patch_embed;    /* Conv3d as [dim, channels * temporal * patch * patch] */
  Qwen2vlVisionBlock *blocks;
  VlmTensor *ln_q_w, *ln_q_b; /* merger norm; bias NULL for RMSNorm */
  VlmLinear mlp0, mlp2;
  float *inv_freq;          /* [head_dim / 2]: the head_dim / 4 frequencies, twice */
} Qwen2vlVision;

gboolean      qwen2vl_vision_config_load (Qwen2vlVisionConfig *cfg, VlmModelDir *dir,
                                          GError **error);
Qwen2vlVision *qwen2vl_vision_load (const Qwen2vlVisionConfig *cfg, VlmWeights *weights,
                                    GError **error);
void          qwen2vl_vision_free (Qwen2vlVision *vision);

gboolean      qwen2vl_vision_check_grid (const Qwen2vlVisionConfig *cfg, const gint64 *grid_thw,
                                         gint64 n_images, gint64 n_patches, GError **error);
void          qwen2vl_vision_forward (const Qwen2vlVision *vision, const float *pixels,
                                      const gint64 *grid_thw, gint64 n_images,
                                      gint64 n_patches, float *last_block, float *features);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Qwen2vlVision, qwen2vl_vision_free)

G_END_DECLS
