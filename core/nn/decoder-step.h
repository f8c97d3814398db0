/* decoder-step.h: one forward pass of the decoder over new rows of several sequences at
 * once: a prompt (or a slice of one), the next token of each decoding sequence, or both
 * together (continuous batching). The projections and the MLP run over all rows in one
 * product, so the weights are read once per step; attention reads each sequence's own
 * KV cache in place. vlm_decoder_forward() is the one-sequence case. */
#pragma once

#include "nn/decoder.h"

G_BEGIN_DECLS

/* One sequence's part of a step: rows positions starting at cache->len. */
typedef struct {
  VlmKvCache *cache;            /* grows by rows */
  const float *embeds;          /* [rows, hidden] */
  gint64 rows;
  const gint64 *streams;        /* nullable [3, stride]: M-RoPE position streams */
  gint64 streams_stride;        /* 0: rows */
  gint64 position_delta;        /* added to positions without streams (rope_deltas) */
  const gint64 *spans;          /* n_spans bidirectional (start, end) position pairs */
  guint n_spans;
} VlmDecoderSeq;

/* Scratch for steps of up to max_rows rows over up to max_seqs sequences, allocated once
 * so that stepping never allocates. */
struct _VlmDecoderScratch {
  gint64 max_rows, max_seqs;
  float *x, *h, *q, *k, *v, *attn, *gate, *up;
  float *last;                  /* [max_seqs, hidden]: each sequence's last row, normalised */
  gint64 *positions;            /* [max_rows] */
  gint64 *stream_positions;     /* [3, max_rows] */
};

VlmDecoderScratch *vlm_decoder_scratch_new (VlmDecoder *dec, gint64 max_rows, gint64 max_seqs,
                                            GError **error);
void               vlm_decoder_scratch_free (VlmDecoderScratch *scratch);
void               vlm_decoder_step (VlmDecoder *dec, VlmDecoderScratch *scratch,
                                     const VlmDecoderSeq *seqs, gint64 n_seqs,
                                     float *final_hidden, float *logits);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmDecoderScratch, vlm_decoder_scratch_free)

G_END_DECLS
