/* batch-decode.h: one decode step for several sequences at once (continuous batching).
 * Each sequence keeps its own KV cache; the projections and the MLP run over all rows
 * together, so the weights are read once per step instead of once per sequence. */
#pragma once

#include "nn/decoder.h"

G_BEGIN_DECLS

/* Scratch for up to max_batch rows, allocated once. */
typedef struct {
  gint64 max_batch;
  float *x, *h, *q, *k, *v, *attn, *gate, *up;
  gint64 *positions;
} VlmDecoderBatch;

VlmDecoderBatch *vlm_decoder_batch_new (VlmDecoder *dec, gint64 max_batch, GError **error);
void             vlm_decoder_batch_free (VlmDecoderBatch *batch);
void             vlm_decoder_forward_batch (VlmDecoder *dec, VlmDecoderBatch *batch,
                                            VlmKvCache *const *caches, const float *embeds,
                                            gint64 n, float *logits);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmDecoderBatch, vlm_decoder_batch_free)

G_END_DECLS
