/* vision-encoder.c: the ViT forward pass, batched over tiles.
 *
 * Every projection is one VlmLinear product over all patches of the batch;
 * attention is vlm_attention() per tile (blocks of queries per head, two BLAS
 * products and a masked softmax). With FP16 products (precision f16) a layer is
 * four calls that keep intermediate rows in cache (see layer_f16()). */
#include "nn/vision-encoder.h"
#include "compute/attention-f16.h"
#include "compute/gemm-bf16.h"
#include "compute/gemm-f16.h"
#include "compute/threadpool.h"
#include "weights/weight-binder.h"
#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

/* ---- weights ---- */

static void
request_norm (VlmWeightRequest *r, const char *name, gint64 dim, VlmTensor **dest)
{
  vlm_weight_request_tensor (r, name, 1, (gint64[]) { dim }, 0, dest);
}

static void
request_layer (VlmWeightRequest *r, VlmVisionLayer *L, gint64 i, gint64 D, gint64 I)
{
  g_autofree char *p = g_strdup_printf ("encoder.layers.%" G_GINT64_FORMAT ".", i);
  char *n;
  const struct { const char *suffix; VlmTensor **dest; } norms[] = {
    { "layer_norm1.weight", &L->ln1_w }, { "layer_norm1.bias", &L->ln1_b },
    { "layer_norm2.weight", &L->ln2_w }, { "layer_norm2.bias", &L->ln2_b },
  };
  for (guint k = 0; k < G_N_ELEMENTS (norms); k++) {
    n = g_strconcat (p, norms[k].suffix, NULL);
    request_norm (r, n, D, norms[k].dest);
    g_free (n);
  }
  const struct { const char *suffix; gint64 out, in; VlmLinear *dest; } lins[] = {
    { "self_attn.q_proj", D, D, &L->q }, { "self_attn.k_proj", D, D, &L->k },
    { "self_attn.v_proj", D, D, &L->v }, { "self_attn.out_proj", D, D, &L->o },
    { "mlp.fc1", I, D, &L->fc1 },        { "mlp.fc2", D, I, &L->fc2 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (lins); k++) {
    n = g_strconcat (p, lins[k].suffix, NULL);
    vlm_weight_request_linear (r, n, lins[k].out, lins[k].in, VLM_WEIGHT_BIAS, lins[k].dest);
    g_free (n);
  }
}

/**
 * vlm_vision_encoder_load:
 * @cfg: the tower's shape
 * @weights: the opened checkpoint
 * @prefix: the tower's HF name prefix, e.g. "model.vision_model."
 * @aliases: (array zero-terminated=1) (nullable): other prefixes the tower may be
 *   stored under (mlx-community: "vision_model.")
 * @error: return location for a #GError
 *
 * Binds the tower's weights (dense or MLX-quantized, conv kernels in either
 * layout); projection weights stay in their stored format, the rest is F32.
 *
 * Returns: (transfer full) (nullable): the encoder, or %NULL with one error listing
 *   every missing or misshaped tensor
 */
VlmVisionEncoder *
vlm_vision_encoder_load (const VlmVisionConfig *cfg, VlmWeights *weights, const char *prefix,
                         const char *const *aliases, GError **error)
{
  if (cfg->hidden <= 0 || cfg->n_heads <= 0 || cfg->hidden % cfg->n_heads || cfg->patch <= 0
      || cfg->image_size < cfg->patch || cfg->n_layers < 0 || cfg->intermediate <= 0
      || cfg->channels <= 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "vision tower: inconsistent config (hidden %" G_GINT64_FORMAT ", heads %"
                 G_GINT64_FORMAT ", patch %" G_GINT64_FORMAT ", image %" G_GINT64_FORMAT ")",
                 cfg->hidden, cfg->n_heads, cfg->patch, cfg->image_size);
    return NULL;
  }
  g_autoptr (VlmVisionEncoder) enc = g_new0 (VlmVisionEncoder, 1);
  gint64 D = cfg->hidden, p = cfg->patch;
  enc->cfg = *cfg;
  enc->side = cfg->image_size / p;
  enc->layers = g_new0 (VlmVisionLayer, cfg->n_layers);

  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (weights, prefix, aliases);
  g_autoptr (VlmTensor) conv = NULL, conv_bias = NULL;
  vlm_weight_request_tensor (r, "embeddings.patch_embedding.weight", 4,
                             (gint64[]) { D, cfg->channels, p, p }, VLM_WEIGHT_CONV, &conv);
  gint64 n_pos = enc->side * enc->side + (cfg->class_token ? 1 : 0);
  if (cfg->class_token) {
    request_norm (r, "embeddings.class_embedding", D, &enc->class_embed);
    request_norm (r, "pre_layrnorm.weight", D, &enc->pre_w);
    request_norm (r, "pre_layrnorm.bias", D, &enc->pre_b);
  } else {
    vlm_weight_request_tensor (r, "embeddings.patch_embedding.bias", 1, (gint64[]) { D }, 0,
                               &conv_bias);
  }
  vlm_weight_request_tensor (r, "embeddings.position_embedding.weight", 2,
                             (gint64[]) { n_pos, D }, 0, &enc->pos_embed);
  for (gint64 i = 0; i < cfg->n_layers; i++)
    request_layer (r, &enc->layers[i], i, D, cfg->intermediate);
  request_norm (r, "post_layernorm.weight", D, &enc->post_w);
  request_norm (r, "post_layernorm.bias", D, &enc->post_b);
  gboolean ok = vlm_weight_request_finish (r, error);

  if (ok) {
    /* The conv as a [D, C * p * p] layer with columns (channel, y, x). */
    g_autoptr (VlmTensor) flat = vlm_tensor_reshape (conv, 2, (gint64[]) { D, cfg->channels * p * p },
                                                     error);
    ok = flat && vlm_linear_init_dense (&enc->patch_embed, flat, conv_bias, error);
  }
  return ok ? g_steal_pointer (&enc) : NULL;
}

/** vlm_vision_encoder_free: releases an encoder and its weight references. */
void
vlm_vision_encoder_free (VlmVisionEncoder *enc)
{
  if (!enc)
    return;
  for (gint64 i = 0; enc->layers && i < enc->cfg.n_layers; i++) {
    VlmVisionLayer *L = &enc->layers[i];
    g_clear_pointer (&L->ln1_w, vlm_tensor_unref);
    g_clear_pointer (&L->ln1_b, vlm_tensor_unref);
    g_clear_pointer (&L->ln2_w, vlm_tensor_unref);
    g_clear_pointer (&L->ln2_b, vlm_tensor_unref);
    vlm_linear_clear (&L->q);
    vlm_linear_clear (&L->k);
    vlm_linear_clear (&L->v);
    vlm_linear_clear (&L->o);
    vlm_linear_clear (&L->fc1);
    vlm_linear_clear (&L->fc2);
  }
  g_free (enc->layers);
  vlm_linear_clear (&enc->patch_embed);
  g_clear_pointer (&enc->pos_embed, vlm_tensor_unref);
  g_clear_pointer (&enc->post_w, vlm_tensor_unref);
  g_clear_pointer (&enc->post_b, vlm_tensor_unref);
  g_clear_pointer (&enc->class_embed, vlm_tensor_unref);
  g_clear_pointer (&enc->pre_w, vlm_tensor_unref);
  g_clear_pointer (&enc->pre_b, vlm_tensor_unref);
  g_free (enc);
}

/* ---- embeddings ---- */

/**
 * vlm_vision_position_ids:
 * @patch_valid: (nullable): [rows, cols] nonzero for real patches; %NULL: all real
 * @rows: patch rows of the tile
 * @cols: patch columns of the tile
 * @side: patches per side of the position table
 * @ids: (out): [rows * cols] position ids
 * @error: return location for a #GError
 *
 * Idefics2/3's NaViT-style ids (transformers <= 4.54): the valid region (nh rows
 * from the first column, nw columns from the first row) is spread over the whole
 * table by bucketizing the fractional coordinates i / nh into @side buckets;
 * valid patches take the ids in row-major order, padding patches id 0. The float
 * arithmetic follows torch.arange (float32 values computed in double) and
 * torch.bucketize (right=True) so that ties fall the same way.
 *
 * Returns: %FALSE when the valid patches do not form such a region
 */
gboolean
vlm_vision_position_ids (const guint8 *patch_valid, gint64 rows, gint64 cols, gint64 side,
                         gint64 *ids, GError **error)
{
  gint64 nh = 0, nw = 0, n_valid = 0;
  for (gint64 r = 0; r < rows; r++)
    nh += !patch_valid || patch_valid[r * cols];
  for (gint64 c = 0; c < cols; c++)
    nw += !patch_valid || patch_valid[c];
  for (gint64 i = 0; i < rows * cols; i++)
    n_valid += !patch_valid || patch_valid[i];
  if (nh == 0 || nw == 0 || n_valid != nh * nw) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "vision tower: the valid patches (%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                 ") do not form a %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                 " region anchored at the top-left corner",
                 n_valid, rows * cols, nh, nw);
    return FALSE;
  }
  /* boundaries = arange(1/side, 1.0, 1/side) */
  double bstep = 1.0 / (double) side;
  gint64 n_bounds = (gint64) ceil ((1.0 - bstep) / bstep);
  float *bounds = g_new (float, MAX (n_bounds, 1));
  for (gint64 k = 0; k < n_bounds; k++)
    bounds[k] = (float) (bstep + bstep * (double) k);
  gint64 *bucket_h = g_new (gint64, nh), *bucket_w = g_new (gint64, nw);
  for (int axis = 0; axis < 2; axis++) {
    gint64 n = axis ? nw : nh, *bucket = axis ? bucket_w : bucket_h;
    /* fractional coords = arange(0, 1 - 1e-6, float32(1 / n)) */
    double step = (double) (1.0f / (float) n);
    for (gint64 i = 0; i < n; i++) {
      float coord = (float) (step * (double) i);
      gint64 b = 0;
      while (b < n_bounds && bounds[b] <= coord)
        b++;
      bucket[i] = b;
    }
  }
  gint64 v = 0;
  for (gint64 i = 0; i < rows * cols; i++) {
    if (patch_valid && !patch_valid[i]) {
      ids[i] = 0;
      continue;
    }
    ids[i] = bucket_h[v / nw] * side + bucket_w[v % nw];
    v++;
  }
  g_free (bounds);
  g_free (bucket_h);
  g_free (bucket_w);
  return TRUE;
}

/**
 * vlm_vision_encoder_seq_len:
 * @enc: the encoder
 * @height: tile height, a multiple of the patch size
 * @width: tile width, a multiple of the patch size
 *
 * Returns: tokens per tile: the patches, plus the class token of a CLIP tower
 */
gint64
vlm_vision_encoder_seq_len (const VlmVisionEncoder *enc, gint64 height, gint64 width)
{
  return (height / enc->cfg.patch) * (width / enc->cfg.patch) + (enc->cfg.class_token ? 1 : 0);
}

static void layer_norm_rows (const float *x, const float *w, const float *b, gint64 rows,
                             gint64 dim, float eps, float *out);

/* CLIP: [class, patches...] plus the position table in order, then the pre-LayerNorm.
 * The table has no interpolation, so the tile must have the configured size. */
static gboolean
embed_clip (const VlmVisionEncoder *enc, const float *patches, gint64 batch, gint64 seq,
            float *x, GError **error)
{
  gint64 D = enc->cfg.hidden;
  if (seq != enc->side * enc->side) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "vision tower: %" G_GINT64_FORMAT " patches per image, the position table has %"
                 G_GINT64_FORMAT " (image_size %" G_GINT64_FORMAT ")", seq,
                 enc->side * enc->side, enc->cfg.image_size);
    return FALSE;
  }
  const float *pos = vlm_tensor_get_data (enc->pos_embed);
  for (gint64 b = 0; b < batch; b++) {
    float *xb = x + b * (seq + 1) * D;
    vlm_add_f32 (xb, vlm_tensor_get_data (enc->class_embed), pos, D);
    vlm_add_f32 (xb + D, patches + b * seq * D, pos + D, seq * D);
  }
  layer_norm_rows (x, vlm_tensor_get_data (enc->pre_w), vlm_tensor_get_data (enc->pre_b),
                   batch * (seq + 1), D, enc->cfg.eps, x);
  return TRUE;
}

/**
 * vlm_vision_encoder_embed:
 * @enc: the encoder
 * @pixels: [batch, channels, height, width]
 * @patch_valid: (nullable): [batch, height / patch, width / patch]; %NULL: all valid
 * @batch: tiles
 * @height: tile height, a multiple of the patch size
 * @width: tile width, a multiple of the patch size
 * @x: (out): [batch, seq, D] patch embeddings plus position embeddings (seq from
 *   vlm_vision_encoder_seq_len(); a CLIP tower's class token first, pre-LayerNorm applied)
 * @error: return location for a #GError
 *
 * Returns: %FALSE when a tile's valid patches cannot be given positions
 */
gboolean
vlm_vision_encoder_embed (const VlmVisionEncoder *enc, const float *pixels,
                          const guint8 *patch_valid, gint64 batch, gint64 height, gint64 width,
                          float *x, GError **error)
{
  const VlmVisionConfig *c = &enc->cfg;
  gint64 p = c->patch, gh = height / p, gw = width / p, seq = gh * gw, D = c->hidden;
  gint64 plen = c->channels * p * p;
  float *cols = g_new (float, batch * seq * plen);
  for (gint64 b = 0; b < batch; b++) {
    const float *img = pixels + b * c->channels * height * width;
    for (gint64 py = 0; py < gh; py++)
      for (gint64 px = 0; px < gw; px++) {
        float *dst = cols + ((b * seq) + py * gw + px) * plen;
        for (gint64 ch = 0; ch < c->channels; ch++)
          for (gint64 ky = 0; ky < p; ky++)
            memcpy (dst + (ch * p + ky) * p, img + (ch * height + py * p + ky) * width + px * p,
                    (gsize) p * sizeof (float));
      }
  }
  if (c->class_token) {
    float *patches = g_new (float, batch * seq * D);
    vlm_linear_forward (&enc->patch_embed, cols, batch * seq, patches);
    g_free (cols);
    gboolean ok = embed_clip (enc, patches, batch, seq, x, error);
    g_free (patches);
    return ok;
  }
  vlm_linear_forward (&enc->patch_embed, cols, batch * seq, x);
  g_free (cols);

  const float *pos = vlm_tensor_get_data (enc->pos_embed);
  gint64 *ids = g_new (gint64, seq);
  for (gint64 b = 0; b < batch; b++) {
    if (!vlm_vision_position_ids (patch_valid ? patch_valid + b * seq : NULL, gh, gw, enc->side,
                                  ids, error)) {
      g_prefix_error (error, "tile %" G_GINT64_FORMAT ": ", b);
      g_free (ids);
      return FALSE;
    }
    for (gint64 i = 0; i < seq; i++)
      vlm_add_f32 (x + (b * seq + i) * D, x + (b * seq + i) * D, pos + ids[i] * D, D);
  }
  g_free (ids);
  return TRUE;
}

/* ---- transformer blocks ---- */

typedef struct {
  const float *x, *w, *b;
  float *out, eps;
  gint64 dim;
} NormJob;

static void
norm_range (gpointer data, gint64 begin, gint64 end)
{
  const NormJob *j = data;
  vlm_layer_norm (j->x + begin * j->dim, j->w, j->b, end - begin, j->dim, j->eps,
                  j->out + begin * j->dim);
}

static void
layer_norm_rows (const float *x, const float *w, const float *b, gint64 rows, gint64 dim,
                 float eps, float *out)
{
  NormJob j = { x, w, b, out, eps, dim };
  vlm_parallel_for (rows, 64, norm_range, &j);
}

typedef struct {
  float *x;
  gint64 dim;
  VlmActivation act;
} ActJob;

static void
act_range (gpointer data, gint64 begin, gint64 end)
{
  const ActJob *j = data;
  vlm_activate (j->x + begin * j->dim, (end - begin) * j->dim, j->act);
}

/* A layer projection, in BF16 or FP16 products when the encoder was asked for them. */
static void
project (const VlmVisionEncoder *enc, const VlmLinear *lin, const float *x, gint64 n, float *y)
{
  if (enc->f16_products)
    vlm_linear_forward_f16 (lin, x, n, y);
  else if (enc->bf16_products)
    vlm_linear_forward_bf16 (lin, x, n, y);
  else
    vlm_linear_forward (lin, x, n, y);
}

/* One layer with FP16 products: LayerNorm 1 and q, k, v from one pass over the rows;
 * the FP16 attention tile by tile (split over heads and query blocks); the output
 * projection added into the residual as it is stored; LayerNorm 2, fc1, the activation
 * and fc2 block by block of rows into the residual. Neither the normed rows nor the
 * MLP's hidden activations go to memory. */
static void
layer_f16 (const VlmVisionEncoder *enc, const VlmVisionLayer *L, float *x, const guint8 *valid,
           gint64 nb, gint64 seq, float *q, float *k, float *v, float *a)
{
  const VlmVisionConfig *c = &enc->cfg;
  gint64 D = c->hidden, hd = D / c->n_heads, R = nb * seq;
  VlmF16LayerNorm ln1 = { vlm_tensor_get_data (L->ln1_w), vlm_tensor_get_data (L->ln1_b), c->eps };
  VlmF16LayerNorm ln2 = { vlm_tensor_get_data (L->ln2_w), vlm_tensor_get_data (L->ln2_b), c->eps };
  const VlmLinear *qkv[] = { &L->q, &L->k, &L->v };
  float *ys[] = { q, k, v };
  vlm_linear_forward_f16_multi (qkv, 3, &ln1, x, R, ys);
  for (gint64 b = 0; b < nb; b++) {
    VlmAttnMask mask = { .key_valid = valid ? valid + b * seq : NULL };
    vlm_attention_f16 (q + b * seq * D, k + b * seq * D, v + b * seq * D, seq, seq,
                       c->n_heads, c->n_heads, hd, hd, &mask, a + b * seq * D);
  }
  vlm_linear_forward_f16_add (&L->o, a, R, x);
  vlm_mlp_f16_add (&L->fc1, &L->fc2, c->act, &ln2, x, R, x);
}

/**
 * vlm_vision_encoder_run_layers:
 * @enc: the encoder
 * @x: [batch, seq, D] hidden states, updated in place
 * @patch_valid: (nullable): [batch, seq]; invalid patches are hidden from every
 *   query as keys (they are still computed as queries); %NULL: all valid
 * @batch: tiles
 * @seq: tokens per tile
 * @first: first layer to run
 * @last: one past the last layer to run
 */
void
vlm_vision_encoder_run_layers (const VlmVisionEncoder *enc, float *x, const guint8 *patch_valid,
                               gint64 batch, gint64 seq, gint64 first, gint64 last)
{
  const VlmVisionConfig *c = &enc->cfg;
  gint64 D = c->hidden, hd = D / c->n_heads;
  /* Tiles never attend to each other, so they go through the layers in groups of some
   * 4096 patches: products that large run at full BLAS speed, and the scratch stays a
   * fraction of what the whole batch would need (13 tiles of 1024: 110 MB, not 360). */
  gint64 group = MIN (batch, MAX (1, 4096 / MAX (seq, 1)));
  gint64 G = group * seq;
  /* FP16 products need no normed rows (h) and no MLP activations (m) in memory */
  gboolean f16 = enc->f16_products;
  float *h = f16 ? NULL : g_new (float, G * D), *q = g_new (float, G * D), *k = g_new (float, G * D);
  float *v = g_new (float, G * D), *a = g_new (float, G * D);
  float *m = f16 ? NULL : g_new (float, G * c->intermediate);
  for (gint64 b0 = 0; b0 < batch; b0 += group) {
    gint64 nb = MIN (group, batch - b0), R = nb * seq;
    float *xg = x + b0 * seq * D;
    const guint8 *valid = patch_valid ? patch_valid + b0 * seq : NULL;
    for (gint64 l = first; l < last; l++) {
      const VlmVisionLayer *L = &enc->layers[l];
      if (f16) {
        layer_f16 (enc, L, xg, valid, nb, seq, q, k, v, a);
        continue;
      }
      layer_norm_rows (xg, vlm_tensor_get_data (L->ln1_w), vlm_tensor_get_data (L->ln1_b), R, D,
                       c->eps, h);
      project (enc, &L->q, h, R, q);
      project (enc, &L->k, h, R, k);
      project (enc, &L->v, h, R, v);
      /* One tile at a time; vlm_attention splits it over heads and query blocks. */
      for (gint64 b = 0; b < nb; b++) {
        VlmAttnMask mask = { .key_valid = valid ? valid + b * seq : NULL };
        vlm_attention (q + b * seq * D, k + b * seq * D, v + b * seq * D, seq, seq, c->n_heads,
                       c->n_heads, hd, hd, &mask, a + b * seq * D);
      }
      project (enc, &L->o, a, R, h);
      vlm_add_f32 (xg, xg, h, R * D);

      layer_norm_rows (xg, vlm_tensor_get_data (L->ln2_w), vlm_tensor_get_data (L->ln2_b), R, D,
                       c->eps, h);
      project (enc, &L->fc1, h, R, m);
      ActJob act = { m, c->intermediate, c->act };
      vlm_parallel_for (R, 16, act_range, &act);
      project (enc, &L->fc2, m, R, h);
      vlm_add_f32 (xg, xg, h, R * D);
    }
  }
  g_free (h);
  g_free (q);
  g_free (k);
  g_free (v);
  g_free (a);
  g_free (m);
}

/** vlm_vision_encoder_post_norm: the final LayerNorm over @rows rows of @x, in place. */
void
vlm_vision_encoder_post_norm (const VlmVisionEncoder *enc, float *x, gint64 rows)
{
  layer_norm_rows (x, vlm_tensor_get_data (enc->post_w), vlm_tensor_get_data (enc->post_b), rows,
                   enc->cfg.hidden, enc->cfg.eps, x);
}

/**
 * vlm_vision_encoder_forward:
 * @enc: the encoder
 * @pixels: [batch, channels, height, width]
 * @patch_valid: (nullable): [batch, height / patch, width / patch]
 * @batch: tiles
 * @height: tile height
 * @width: tile width
 * @out: (out): [batch, patches, D], after the post LayerNorm
 * @error: return location for a #GError
 *
 * Embeddings, every layer, then the post LayerNorm (the SigLIP last_hidden_state).
 *
 * Returns: %FALSE as vlm_vision_encoder_embed() does
 */
gboolean
vlm_vision_encoder_forward (const VlmVisionEncoder *enc, const float *pixels,
                            const guint8 *patch_valid, gint64 batch, gint64 height, gint64 width,
                            float *out, GError **error)
{
  gint64 seq = vlm_vision_encoder_seq_len (enc, height, width);
  if (!vlm_vision_encoder_embed (enc, pixels, patch_valid, batch, height, width, out, error))
    return FALSE;
  vlm_vision_encoder_run_layers (enc, out, patch_valid, batch, seq, 0, enc->cfg.n_layers);
  vlm_vision_encoder_post_norm (enc, out, batch * seq);
  return TRUE;
}
