/* ops.h: the op set. F32 compute on contiguous buffers, plus tensor-level helpers
 * (broadcasting, concat) that accept any float dtype and strided views. */
#pragma once

#include "compute/linear.h"
#include "vlm/vlm-tensor.h"

G_BEGIN_DECLS

typedef enum { VLM_BINARY_ADD, VLM_BINARY_SUB, VLM_BINARY_MUL, VLM_BINARY_DIV } VlmBinaryOp;

typedef enum {
  VLM_ACT_IDENTITY,
  VLM_ACT_GELU,        /* exact, erf */
  VLM_ACT_GELU_TANH,   /* "gelu_pytorch_tanh", "gelu_new" */
  VLM_ACT_QUICK_GELU,  /* x * sigmoid(1.702 x) */
  VLM_ACT_SILU,
  VLM_ACT_RELU,
} VlmActivation;

/* Elementwise */
VlmTensor *vlm_op_binary (VlmBinaryOp op, VlmTensor *a, VlmTensor *b, GError **error);
VlmTensor *vlm_op_to_f32 (VlmTensor *t, GError **error);
void       vlm_add_f32 (float *out, const float *a, const float *b, gint64 n);
void       vlm_mul_f32 (float *out, const float *a, const float *b, gint64 n);
void       vlm_scale_f32 (float *x, float s, gint64 n);
void       vlm_add_rows_f32 (float *x, const float *row, gint64 rows, gint64 dim);
gboolean   vlm_activation_from_name (const char *name, VlmActivation *out);
void       vlm_activate (float *x, gint64 n, VlmActivation act);
void       vlm_glu (const float *gate, const float *up, float *out, gint64 n, VlmActivation act);

/* Normalisation (w_offset: Gemma stores RMSNorm weights as w - 1) */
void       vlm_rms_norm (const float *x, const float *w, float w_offset, gint64 rows, gint64 dim,
                         float eps, float *out);
void       vlm_layer_norm (const float *x, const float *w, const float *b, gint64 rows,
                           gint64 dim, float eps, float *out);
void       vlm_softmax_rows (float *x, gint64 rows, gint64 n);

/* Rotary embeddings */
typedef enum { VLM_ROPE_DEFAULT, VLM_ROPE_LINEAR, VLM_ROPE_LLAMA3 } VlmRopeType;
typedef struct {
  VlmRopeType type;
  double factor;                 /* linear, llama3 */
  double low_freq_factor, high_freq_factor;
  double original_max_position;  /* llama3 */
} VlmRopeScaling;
void       vlm_rope_inv_freq (float *inv_freq, int rot_dim, double theta, const VlmRopeScaling *s);
void       vlm_rope_apply (float *x, gint64 seq, gint64 heads, gint64 head_dim,
                           const gint64 *positions, const float *inv_freq, int rot_dim,
                           gboolean interleaved);

/* Attention: q [sq, hq, d], k [sk, hkv, d], v [sk, hkv, dv], out [sq, hq, dv].
 * Query i sits at position q_offset + i, key j at position j. A key is visible when
 * valid (key_valid NULL or nonzero) and either both positions lie in one
 * bidirectional span [start, end) or the causal and sliding-window rules allow it
 * (window w: query p sees keys p - w < j). Rows with no visible key give zeros. */
typedef struct {
  gboolean causal;
  gint64 q_offset;
  gint64 window;               /* 0: unlimited */
  const guint8 *key_valid;     /* [sk] padding mask, or NULL */
  const gint64 *spans;         /* n_spans pairs (start, end) */
  guint n_spans;
  float scale;                 /* 0: 1/sqrt(d) */
  float softcap;               /* 0: none; else logits = cap * tanh(logits / cap) */
} VlmAttnMask;
void       vlm_attention (const float *q, const float *k, const float *v, gint64 sq, gint64 sk,
                          gint64 hq, gint64 hkv, gint64 d, gint64 dv, const VlmAttnMask *mask,
                          float *out);

/* Layout and vision */
void       vlm_conv2d_patch (const float *img, gint64 c, gint64 h, gint64 w, gint64 kernel,
                             const VlmLinear *weight, float *out);
void       vlm_avg_pool_2d (const float *x, gint64 h, gint64 w, gint64 dim, gint64 k, float *out);
void       vlm_pixel_shuffle (const float *x, gint64 n, gint64 dim, gint64 s, float *out);
void       vlm_matmul_batched (gint64 batch, gint64 M, gint64 N, gint64 K, const float *A,
                               const float *B, gboolean trans_b, float *C);
VlmTensor *vlm_op_concat (VlmTensor **tensors, guint n, int axis, GError **error);

G_END_DECLS
