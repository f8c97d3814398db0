/* qwen2vl-vision-model.c: the Qwen2-VL / Qwen2.5-VL vision tower and patch merger.
 *
 * Patches arrive in merge order (each merge x merge block of patches, blocks
 * row-major), so the merger is a plain reshape of merge^2 consecutive rows. Every
 * image frame attends only to itself (the reference's cu_seqlens); Qwen2.5-VL's
 * windowed blocks attend within windows of merge blocks, for which the rows are
 * permuted into window order before the first block and the merged rows put back
 * after the merger. */
#include "qwen2vl-vision-model.h"

#include "compute/threadpool.h"
#include "nn/mrope.h"

#include <math.h>
#include <string.h>

#define VISION "vision_config"

static gboolean
read_full_attention (Qwen2vlVisionConfig *cfg, VlmModelDir *dir, GError **error)
{
  cfg->full_attention = g_new0 (gboolean, MAX (cfg->depth, 1));
  JsonNode *n = vlm_model_dir_lookup (dir, VISION, "fullatt_block_indexes");
  if (!n) {
    /* Qwen2_5_VLVisionConfig's default */
    for (gint64 i = 7; i < cfg->depth && i <= 31; i += 8)
      cfg->full_attention[i] = TRUE;
    return TRUE;
  }
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  for (guint i = 0; a && i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    gint64 b = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64
                   ? json_node_get_int (e) : -1;
    if (b < 0 || b >= cfg->depth) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "%s/config.json: vision_config.fullatt_block_indexes element %u is not a "
                   "block index below depth %" G_GINT64_FORMAT, vlm_model_dir_get_path (dir), i,
                   cfg->depth);
      return FALSE;
    }
    cfg->full_attention[b] = TRUE;
  }
  if (!a) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: vision_config.fullatt_block_indexes is not a list",
                 vlm_model_dir_get_path (dir));
    return FALSE;
  }
  return TRUE;
}

/**
 * qwen2vl_vision_config_load:
 * @cfg: (out caller-allocates): the tower's shape; free cfg->full_attention
 * @dir: the model folder
 * @error: return location for a #GError
 *
 * Reads vision_config with the defaults of Qwen2VLVisionConfig (model_type
 * qwen2_vl: embed_dim, mlp_ratio, hidden_size as the output width, QuickGELU) or
 * Qwen2_5_VLVisionConfig (qwen2_5_vl: hidden_size, intermediate_size,
 * out_hidden_size, SiLU, window_size, fullatt_block_indexes).
 *
 * Returns: %FALSE for unsupported or inconsistent settings
 */
gboolean
qwen2vl_vision_config_load (Qwen2vlVisionConfig *cfg, VlmModelDir *dir, GError **error)
{
  const char *path = vlm_model_dir_get_path (dir);
  memset (cfg, 0, sizeof *cfg);
  cfg->qwen25 = g_str_has_prefix (vlm_model_dir_get_model_type (dir), "qwen2_5_vl");
  cfg->depth = vlm_model_dir_get_int (dir, VISION, "depth", 32);
  cfg->heads = vlm_model_dir_get_int (dir, VISION, "num_heads", 16);
  cfg->channels = vlm_model_dir_get_int (dir, VISION, "in_channels|in_chans", 3);
  cfg->patch = vlm_model_dir_get_int (dir, VISION, "patch_size|spatial_patch_size", 14);
  cfg->temporal = vlm_model_dir_get_int (dir, VISION, "temporal_patch_size", 2);
  cfg->merge = vlm_model_dir_get_int (dir, VISION, "spatial_merge_size", 2);
  cfg->eps = 1e-6f;
  const char *act;
  if (cfg->qwen25) {
    cfg->dim = vlm_model_dir_get_int (dir, VISION, "hidden_size", 3584);
    cfg->intermediate = vlm_model_dir_get_int (dir, VISION, "intermediate_size", 3420);
    cfg->out_dim = vlm_model_dir_get_int (dir, VISION, "out_hidden_size", 3584);
    cfg->window_size = vlm_model_dir_get_int (dir, VISION, "window_size", 112);
    act = vlm_model_dir_get_string (dir, VISION, "hidden_act", "silu");
  } else {
    cfg->dim = vlm_model_dir_get_int (dir, VISION, "embed_dim", 1280);
    cfg->intermediate = cfg->dim * vlm_model_dir_get_int (dir, VISION, "mlp_ratio", 4);
    cfg->out_dim = vlm_model_dir_get_int (dir, VISION, "hidden_size", 3584);
    act = vlm_model_dir_get_string (dir, VISION, "hidden_act", "quick_gelu");
  }
  if (!vlm_activation_from_name (act, &cfg->act)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: vision_config.hidden_act \"%s\" is not supported", path, act);
    return FALSE;
  }
  gint64 unit = cfg->patch * cfg->merge;
  if (cfg->dim <= 0 || cfg->heads <= 0 || cfg->dim % cfg->heads || (cfg->dim / cfg->heads) % 4
      || cfg->depth < 0 || cfg->depth > 1024 || cfg->intermediate <= 0 || cfg->out_dim <= 0
      || cfg->channels <= 0 || cfg->patch <= 0 || cfg->temporal <= 0 || cfg->merge <= 0
      || cfg->dim > G_MAXINT32 || cfg->intermediate > G_MAXINT32 || cfg->patch > 1024
      || cfg->merge > 64 || cfg->temporal > 64 || cfg->channels > 64
      || (cfg->qwen25 && (cfg->window_size < unit || cfg->window_size % unit))) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: inconsistent vision_config (width %" G_GINT64_FORMAT
                 ", heads %" G_GINT64_FORMAT ", depth %" G_GINT64_FORMAT ", patch %"
                 G_GINT64_FORMAT ", merge %" G_GINT64_FORMAT ", window %" G_GINT64_FORMAT ")",
                 path, cfg->dim, cfg->heads, cfg->depth, cfg->patch, cfg->merge,
                 cfg->window_size);
    return FALSE;
  }
  if (cfg->qwen25)
    return read_full_attention (cfg, dir, error);
  cfg->full_attention = g_new (gboolean, MAX (cfg->depth, 1));
  for (gint64 i = 0; i < cfg->depth; i++)
    cfg->full_attention[i] = TRUE;
  return TRUE;
}

static void
request_block (VlmWeightRequest *r, const Qwen2vlVisionConfig *c, gint64 i, Qwen2vlVisionBlock *b)
{
  gint64 D = c->dim, I = c->intermediate;
  g_autofree char *p = g_strdup_printf ("blocks.%" G_GINT64_FORMAT ".", i);
  const struct { const char *name; VlmTensor **dest; gboolean layer_norm_only; } norms[] = {
    { "norm1.weight", &b->norm1_w, FALSE }, { "norm2.weight", &b->norm2_w, FALSE },
    { "norm1.bias", &b->norm1_b, TRUE },    { "norm2.bias", &b->norm2_b, TRUE },
  };
  for (guint k = 0; k < G_N_ELEMENTS (norms); k++) {
    if (norms[k].layer_norm_only && c->qwen25)
      continue;
    g_autofree char *n = g_strconcat (p, norms[k].name, NULL);
    vlm_weight_request_tensor (r, n, 1, &D, 0, norms[k].dest);
  }
  /* which: 0 both generations, 1 Qwen2-VL's MLP, 2 Qwen2.5-VL's gated MLP */
  const struct { const char *name; gint64 out, in; VlmLinear *dest; int which; } lins[] = {
    { "attn.qkv", 3 * D, D, &b->qkv, 0 },      { "attn.proj", D, D, &b->proj, 0 },
    { "mlp.fc1", I, D, &b->fc1, 1 },           { "mlp.fc2", D, I, &b->fc2, 1 },
    { "mlp.gate_proj", I, D, &b->gate, 2 },    { "mlp.up_proj", I, D, &b->up, 2 },
    { "mlp.down_proj", D, I, &b->down, 2 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (lins); k++) {
    if (lins[k].which && lins[k].which != (c->qwen25 ? 2 : 1))
      continue;
    g_autofree char *n = g_strconcat (p, lins[k].name, NULL);
    vlm_weight_request_linear (r, n, lins[k].out, lins[k].in, VLM_WEIGHT_BIAS, lins[k].dest);
  }
}

/**
 * qwen2vl_vision_load:
 * @cfg: the tower's shape (copied; the tower owns cfg->full_attention afterwards)
 * @weights: the opened checkpoint
 * @error: return location for a #GError
 *
 * Binds `visual.*` (the published layout) or `model.visual.*` (transformers 4.52+).
 *
 * Returns: (transfer full) (nullable): the tower, or %NULL with one error listing
 *   every missing or misshaped tensor
 */
Qwen2vlVision *
qwen2vl_vision_load (const Qwen2vlVisionConfig *cfg, VlmWeights *weights, GError **error)
{
  g_autoptr (Qwen2vlVision) v = g_new0 (Qwen2vlVision, 1);
  v->cfg = *cfg;
  const Qwen2vlVisionConfig *c = &v->cfg;
  gint64 D = c->dim, M = D * c->merge * c->merge, P = c->patch;
  v->blocks = g_new0 (Qwen2vlVisionBlock, MAX (c->depth, 1));
  const char *const aliases[] = { "model.visual.", NULL };
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (weights, "visual.", aliases);
  g_autoptr (VlmTensor) conv = NULL;
  vlm_weight_request_tensor (r, "patch_embed.proj.weight", 5,
                             (gint64[]) { D, c->channels, c->temporal, P, P }, VLM_WEIGHT_CONV,
                             &conv);
  for (gint64 i = 0; i < c->depth; i++)
    request_block (r, c, i, &v->blocks[i]);
  vlm_weight_request_tensor (r, "merger.ln_q.weight", 1, &D, 0, &v->ln_q_w);
  if (!c->qwen25)
    vlm_weight_request_tensor (r, "merger.ln_q.bias", 1, &D, 0, &v->ln_q_b);
  vlm_weight_request_linear (r, "merger.mlp.0", M, M, VLM_WEIGHT_BIAS, &v->mlp0);
  vlm_weight_request_linear (r, "merger.mlp.2", c->out_dim, M, VLM_WEIGHT_BIAS, &v->mlp2);
  if (!vlm_weight_request_finish (r, error))
    return NULL;
  /* The Conv3d (stride = kernel) is a product with the kernel flattened the way the
   * processor flattens a patch: (channel, temporal copy, y, x). */
  g_autoptr (VlmTensor) flat = vlm_tensor_reshape (
      conv, 2, (gint64[]) { D, c->channels * c->temporal * P * P }, error);
  if (!flat || !vlm_linear_init_dense (&v->patch_embed, flat, NULL, error))
    return NULL;
  /* VisionRotaryEmbedding(head_dim / 2): head_dim / 4 frequencies, used once for
   * the row and once for the column. */
  gint64 hd = D / c->heads, quarter = hd / 4;
  v->inv_freq = g_new (float, 2 * quarter);
  vlm_rope_inv_freq (v->inv_freq, (int) (hd / 2), 10000.0, NULL);
  memcpy (v->inv_freq + quarter, v->inv_freq, (gsize) quarter * sizeof (float));
  return g_steal_pointer (&v);
}

/** qwen2vl_vision_free: releases a tower and its weight references. */
void
qwen2vl_vision_free (Qwen2vlVision *v)
{
  if (!v)
    return;
  for (gint64 i = 0; v->blocks && i < v->cfg.depth; i++) {
    Qwen2vlVisionBlock *b = &v->blocks[i];
    VlmTensor **ts[] = { &b->norm1_w, &b->norm1_b, &b->norm2_w, &b->norm2_b };
    for (guint k = 0; k < G_N_ELEMENTS (ts); k++)
      g_clear_pointer (ts[k], vlm_tensor_unref);
    VlmLinear *ls[] = { &b->qkv, &b->proj, &b->fc1, &b->fc2, &b->gate, &b->up, &b->down };
    for (guint k = 0; k < G_N_ELEMENTS (ls); k++)
      vlm_linear_clear (ls[k]);
  }
  g_free (v->blocks);
  vlm_linear_clear (&v->patch_embed);
  g_clear_pointer (&v->ln_q_w, vlm_tensor_unref);
  g_clear_pointer (&v->ln_q_b, vlm_tensor_unref);
  vlm_linear_clear (&v->mlp0);
  vlm_linear_clear (&v->mlp2);
  g_free (v->inv_freq);
  g_free (v->cfg.full_attention);
  g_free (v);
}

/**
 * qwen2vl_vision_check_grid:
 * @cfg: the tower's shape
 * @grid_thw: [n_images, 3] patch grids
 * @n_images: images
 * @n_patches: rows of pixel_values
 * @error: return location for a #GError
 *
 * Returns: %FALSE unless every grid is positive, its sides are multiples of the
 *   merge size, and the grids add up to @n_patches
 */
gboolean
qwen2vl_vision_check_grid (const Qwen2vlVisionConfig *cfg, const gint64 *grid_thw,
                           gint64 n_images, gint64 n_patches, GError **error)
{
  gint64 total = 0;
  for (gint64 i = 0; i < n_images; i++) {
    const gint64 *g = grid_thw + 3 * i;
    if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || g[0] > 1 << 16 || g[1] > 1 << 16
        || g[2] > 1 << 16 || g[1] % cfg->merge || g[2] % cfg->merge) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "image_grid_thw row %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") is not a grid of whole %"
                   G_GINT64_FORMAT "x%" G_GINT64_FORMAT " merge blocks", i, g[0], g[1], g[2],
                   cfg->merge, cfg->merge);
      return FALSE;
    }
    total += g[0] * g[1] * g[2];
  }
  if (total != n_patches) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "image_grid_thw covers %" G_GINT64_FORMAT " patches but pixel_values has %"
                 G_GINT64_FORMAT " rows", total, n_patches);
    return FALSE;
  }
  return TRUE;
}

/* ---- positions and windows ---- */

/* Row and column of every patch (merge order), as rot_pos_emb's pos_ids: [2, n]. */
static void
patch_positions (const Qwen2vlVisionConfig *c, const gint64 *grid, gint64 n_images, gint64 n,
                 gint64 *pos)
{
  gint64 r = 0, m = c->merge;
  for (gint64 i = 0; i < n_images; i++) {
    const gint64 *g = grid + 3 * i;
    for (gint64 t = 0; t < g[0]; t++)
      for (gint64 bh = 0; bh < g[1] / m; bh++)
        for (gint64 bw = 0; bw < g[2] / m; bw++)
          for (gint64 y = 0; y < m; y++)
            for (gint64 x = 0; x < m; x++, r++) {
              pos[r] = bh * m + y;
              pos[n + r] = bw * m + x;
            }
  }
}

/* Frame boundaries (cu_seqlens): each frame of each image attends to itself. */
static GArray *
frame_bounds (const gint64 *grid, gint64 n_images)
{
  GArray *b = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 end = 0;
  g_array_append_val (b, end);
  for (gint64 i = 0; i < n_images; i++)
    for (gint64 t = 0; t < grid[3 * i]; t++) {
      end += grid[3 * i + 1] * grid[3 * i + 2];
      g_array_append_val (b, end);
    }
  return b;
}

/* Qwen2.5-VL get_window_index: merge blocks grouped into windows of w x w blocks
 * (the grid padded up to whole windows), frame by frame; @index receives the
 * block order, @bounds the window boundaries in rows (empty windows dropped). */
static GArray *
window_index (const Qwen2vlVisionConfig *c, const gint64 *grid, gint64 n_images, gint64 *index)
{
  gint64 w = c->window_size / (c->merge * c->patch), unit = c->merge * c->merge;
  GArray *b = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 end = 0, k = 0, base = 0;
  g_array_append_val (b, end);
  for (gint64 i = 0; i < n_images; i++) {
    gint64 gt = grid[3 * i], gh = grid[3 * i + 1] / c->merge, gw = grid[3 * i + 2] / c->merge;
    /* The reference pads by w - side % w, a whole empty window when divisible. */
    gint64 nwh = (gh + w - gh % w) / w, nww = (gw + w - gw % w) / w;
    for (gint64 t = 0; t < gt; t++)
      for (gint64 wy = 0; wy < nwh; wy++)
        for (gint64 wx = 0; wx < nww; wx++) {
          gint64 count = 0;
          for (gint64 y = wy * w; y < MIN ((wy + 1) * w, gh); y++)
            for (gint64 x = wx * w; x < MIN ((wx + 1) * w, gw); x++, count++)
              index[k++] = base + (t * gh + y) * gw + x;
          if (count) {
            end += count * unit;
            g_array_append_val (b, end);
          }
        }
    base += gt * gh * gw;
  }
  return b;
}

/* Rows @src permuted by merge-block order @order: dst block g = src block order[g]. */
static void
gather_blocks (const float *src, const gint64 *order, gint64 n_blocks, gint64 block_len,
               float *dst)
{
  for (gint64 g = 0; g < n_blocks; g++)
    memcpy (dst + g * block_len, src + order[g] * block_len, (gsize) block_len * sizeof (float));
}

/* ---- blocks ---- */

#define Q_CHUNK 256

typedef struct {
  const float *qkv;        /* [n, 3 * D] after RoPE on the q and k parts */
  const gint64 *bounds;    /* segment boundaries */
  const gint64 *items;     /* (segment, first query row) pairs */
  gint64 heads, hd, D;
  float scale;
  float *out;              /* [n, D] */
} AttnJob;

/* One (segment, head, chunk of queries) per item: S = Q K^T, softmax, O = S V. */
static void
attn_range (gpointer data, gint64 begin, gint64 end)
{
  const AttnJob *j = data;
  gint64 ld = 3 * j->D;
  float *s = NULL;
  gsize s_len = 0;
  for (gint64 it = begin; it < end; it++) {
    gint64 pair = it / j->heads, h = it % j->heads;
    gint64 seg = j->items[2 * pair], q0 = j->items[2 * pair + 1];
    gint64 a = j->bounds[seg], len = j->bounds[seg + 1] - a;
    gint64 rows = MIN (Q_CHUNK, a + len - q0);
    if ((gsize) (rows * len) > s_len) {
      g_free (s);
      s_len = (gsize) (rows * len);
      s = g_new (float, s_len);
    }
    const float *q = j->qkv + q0 * ld + h * j->hd, *k = j->qkv + a * ld + j->D + h * j->hd;
    const float *v = j->qkv + a * ld + 2 * j->D + h * j->hd;
    vlm_sgemm (rows, len, j->hd, q, ld, k, ld, TRUE, s, len, FALSE);
    for (gint64 r = 0; r < rows; r++) {
      float *row = s + r * len, mx = -INFINITY;
      for (gint64 t = 0; t < len; t++)
        mx = MAX (mx, row[t] * j->scale);
      float sum = 0;
      for (gint64 t = 0; t < len; t++)
        sum += row[t] = expf (row[t] * j->scale - mx);
      vlm_scale_f32 (row, 1.0f / sum, len);
    }
    vlm_sgemm (rows, j->hd, len, s, len, v, ld, FALSE, j->out + q0 * j->D + h * j->hd, j->D,
               FALSE);
  }
  g_free (s);
}

static void
attention (const Qwen2vlVisionConfig *c, const float *qkv, const GArray *bounds, float *out)
{
  GArray *items = g_array_new (FALSE, FALSE, sizeof (gint64));
  const gint64 *b = (const gint64 *) bounds->data;
  for (gint64 seg = 0; seg + 1 < bounds->len; seg++)
    for (gint64 q0 = b[seg]; q0 < b[seg + 1]; q0 += Q_CHUNK) {
      gint64 pair[2] = { seg, q0 };
      g_array_append_vals (items, pair, 2);
    }
  gint64 hd = c->dim / c->heads;
  AttnJob j = { qkv, b, (const gint64 *) items->data, c->heads, hd, c->dim,
                1.0f / sqrtf ((float) hd), out };
  vlm_parallel_for ((gint64) (items->len / 2) * c->heads, 1, attn_range, &j);
  g_array_free (items, TRUE);
}

static void
norm (const Qwen2vlVisionConfig *c, const float *x, VlmTensor *w, VlmTensor *b, gint64 rows,
      float *out)
{
  if (b)
    vlm_layer_norm (x, vlm_tensor_get_data (w), vlm_tensor_get_data (b), rows, c->dim, c->eps,
                    out);
  else
    vlm_rms_norm (x, vlm_tensor_get_data (w), 0.0f, rows, c->dim, c->eps, out);
}

/* Moves the q and k heads of each [3 * D] row out and back to rotate them. */
static void
rotate_qk (const Qwen2vlVision *v, float *qkv, gint64 n, const gint64 *pos, float *tmp)
{
  const Qwen2vlVisionConfig *c = &v->cfg;
  gint64 D = c->dim, hd = D / c->heads;
  const gint64 section[3] = { hd / 4, hd / 4, 0 };
  for (int part = 0; part < 2; part++) {
    for (gint64 r = 0; r < n; r++)
      memcpy (tmp + r * D, qkv + r * 3 * D + part * D, (gsize) D * sizeof (float));
    vlm_mrope_apply (tmp, n, c->heads, hd, pos, n, v->inv_freq, section);
    for (gint64 r = 0; r < n; r++)
      memcpy (qkv + r * 3 * D + part * D, tmp + r * D, (gsize) D * sizeof (float));
  }
}

typedef struct {
  float *qkv, *attn, *h, *m1, *m2;
} Scratch;

static void
block_forward (const Qwen2vlVision *v, const Qwen2vlVisionBlock *b, float *x, gint64 n,
               const gint64 *pos, const GArray *bounds, Scratch *s)
{
  const Qwen2vlVisionConfig *c = &v->cfg;
  gint64 D = c->dim, I = c->intermediate;
  norm (c, x, b->norm1_w, b->norm1_b, n, s->h);
  vlm_linear_forward (&b->qkv, s->h, n, s->qkv);
  rotate_qk (v, s->qkv, n, pos, s->attn);
  attention (c, s->qkv, bounds, s->attn);
  vlm_linear_forward (&b->proj, s->attn, n, s->h);
  vlm_add_f32 (x, x, s->h, n * D);

  norm (c, x, b->norm2_w, b->norm2_b, n, s->h);
  if (c->qwen25) {
    vlm_linear_forward (&b->gate, s->h, n, s->m1);
    vlm_linear_forward (&b->up, s->h, n, s->m2);
    vlm_glu (s->m1, s->m2, s->m1, n * I, c->act);
    vlm_linear_forward (&b->down, s->m1, n, s->h);
  } else {
    vlm_linear_forward (&b->fc1, s->h, n, s->m1);
    vlm_activate (s->m1, n * I, c->act);
    vlm_linear_forward (&b->fc2, s->m1, n, s->h);
  }
  vlm_add_f32 (x, x, s->h, n * D);
}

/**
 * qwen2vl_vision_forward:
 * @vision: the tower
 * @pixels: [n_patches, channels * temporal * patch * patch] in merge order
 * @grid_thw: [n_images, 3], checked with qwen2vl_vision_check_grid()
 * @n_images: images
 * @n_patches: patches of all images
 * @last_block: (nullable): [n_patches, dim] hidden states after the last block
 *   (Qwen2.5-VL: in window order, as the reference keeps them)
 * @features: [n_patches / merge^2, out_dim] merged features in the images' order
 */
void
qwen2vl_vision_forward (const Qwen2vlVision *v, const float *pixels, const gint64 *grid_thw,
                        gint64 n_images, gint64 n_patches, float *last_block, float *features)
{
  const Qwen2vlVisionConfig *c = &v->cfg;
  gint64 n = n_patches, D = c->dim, I = c->intermediate, unit = c->merge * c->merge;
  gint64 n_blocks = n / unit, M = D * unit;
  float *x = g_new (float, n * D);
  gint64 *pos = g_new (gint64, 2 * n);
  vlm_linear_forward (&v->patch_embed, pixels, n, x);
  patch_positions (c, grid_thw, n_images, n, pos);
  GArray *full = frame_bounds (grid_thw, n_images), *windows = NULL;
  gint64 *order = NULL;
  if (c->qwen25) {
    /* Window order: blocks of merge^2 rows permuted, positions with them. */
    order = g_new (gint64, MAX (n_blocks, 1));
    windows = window_index (c, grid_thw, n_images, order);
    float *xw = g_new (float, n * D);
    gint64 *pw = g_new (gint64, 2 * n);
    gather_blocks (x, order, n_blocks, unit * D, xw);
    for (gint64 g = 0; g < n_blocks; g++)
      for (gint64 u = 0; u < unit; u++) {
        pw[g * unit + u] = pos[order[g] * unit + u];
        pw[n + g * unit + u] = pos[n + order[g] * unit + u];
      }
    g_free (x);
    g_free (pos);
    x = xw;
    pos = pw;
  }
  Scratch s = { g_new (float, n * 3 * D), g_new (float, n * D), g_new (float, n * D),
                g_new (float, n * I), c->qwen25 ? g_new (float, n * I) : NULL };
  for (gint64 l = 0; l < c->depth; l++)
    block_forward (v, &v->blocks[l], x, n, pos, c->full_attention[l] ? full : windows, &s);
  if (last_block)
    memcpy (last_block, x, (gsize) (n * D) * sizeof (float));

  /* Merger: norm, merge^2 consecutive rows as one, Linear, exact GELU, Linear. */
  norm (c, x, v->ln_q_w, v->ln_q_b, n, x);
  float *hm = g_new (float, n_blocks * M);
  vlm_linear_forward (&v->mlp0, x, n_blocks, hm);
  vlm_activate (hm, n_blocks * M, VLM_ACT_GELU);
  if (c->qwen25) {
    float *merged = g_new (float, n_blocks * c->out_dim);
    vlm_linear_forward (&v->mlp2, hm, n_blocks, merged);
    for (gint64 g = 0; g < n_blocks; g++)
      memcpy (features + order[g] * c->out_dim, merged + g * c->out_dim,
              (gsize) c->out_dim * sizeof (float));
    g_free (merged);
  } else {
    vlm_linear_forward (&v->mlp2, hm, n_blocks, features);
  }
  g_free (hm);
  g_free (s.qkv);
  g_free (s.attn);
  g_free (s.h);
  g_free (s.m1);
  g_free (s.m2);
  g_free (x);
  g_free (pos);
  g_free (order);
  g_array_free (full, TRUE);
  if (windows)
    g_array_free (windows, TRUE);
}
