/* qwen2vl-rope-index.c: the "qwen2vl-rope-index" element: the three M-RoPE position
 * streams (temporal, height, width) of a prompt, as get_rope_index of transformers'
 * Qwen2-VL / Qwen2.5-VL computes them: text advances all three streams together;
 * an image's tokens take (t, row, column) of its merged grid offset by the position
 * reached; the text after it continues from the largest position used. rope_deltas
 * (largest position + 1 - length) lets decoding continue from there. */
#include "qwen2vl-elements.h"

#include <string.h>

struct _Qwen2vlRopeIndex {
  VlmModelElement parent;
  gint64 image_token, vision_start, merge;
  gboolean qwen25;          /* images sit at temporal position 0 (no frame rate) */
};

G_DEFINE_FINAL_TYPE (Qwen2vlRopeIndex, qwen2vl_rope_index, VLM_TYPE_MODEL_ELEMENT)

static gboolean
rope_index_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Qwen2vlRopeIndex *self = QWEN2VL_ROPE_INDEX (element);
  self->image_token = vlm_model_dir_get_int (dir, NULL, "image_token_id", 151655);
  self->vision_start = vlm_model_dir_get_int (dir, NULL, "vision_start_token_id", 151652);
  self->merge = vlm_model_dir_get_int (dir, "vision_config", "spatial_merge_size", 2);
  self->qwen25 = g_str_has_prefix (vlm_model_dir_get_model_type (dir), "qwen2_5_vl");
  if (self->merge <= 0 || self->merge > 64) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: vision_config.spatial_merge_size %" G_GINT64_FORMAT
                 " is out of range", vlm_model_dir_get_path (dir), self->merge);
    return FALSE;
  }
  return TRUE;
}

static VlmTensor *
read_i64 (VlmTensor *t, const char *port, gint64 cols, GError **error)
{
  VlmDType dt = t ? vlm_tensor_get_dtype (t) : VLM_DTYPE_F32;
  guint nd = t ? vlm_tensor_get_ndim (t) : 0;
  gboolean ok = t && (dt == VLM_DTYPE_I64 || dt == VLM_DTYPE_I32 || dt == VLM_DTYPE_BOOL)
                && nd == 2 && vlm_tensor_get_numel (t) > 0
                && (cols ? vlm_tensor_get_dim (t, 1) == cols : vlm_tensor_get_dim (t, 0) == 1);
  if (!ok) {
    g_autofree char *d = t ? vlm_tensor_describe (t) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: %s, expected I64 %s", port, d,
                 cols ? "[n, 3]" : "[1, L]");
    return NULL;
  }
  g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (t, VLM_DTYPE_I64, error);
  return i64 ? vlm_tensor_contiguous (i64) : NULL;
}

/* The streams of the valid tokens @ids (n of them) into pos[0..n), pos[L..L+n),
 * pos[2L..2L+n). */
static gboolean
image_positions (Qwen2vlRopeIndex *self, const gint64 *ids, gint64 n, const gint64 *grid,
                 gint64 n_grids, gint64 *pos, gint64 L, GError **error)
{
  gint64 n_images = 0;
  for (gint64 i = 0; i + 1 < n; i++)
    n_images += ids[i] == self->vision_start && ids[i + 1] == self->image_token;
  if (n_images > n_grids) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "input_ids has %" G_GINT64_FORMAT " images but image_grid_thw only %"
                 G_GINT64_FORMAT " rows", n_images, n_grids);
    return FALSE;
  }
  gint64 st = 0, next = 0; /* next: the position after the largest so far */
  for (gint64 img = 0; img < n_images; img++) {
    gint64 ed = st;
    while (ed < n && ids[ed] != self->image_token)
      ed++;
    const gint64 *g = grid + 3 * img;
    /* Bounded first so that the product cannot overflow. */
    gboolean sane = g[0] > 0 && g[0] <= n && g[1] > 0 && g[1] <= 1 << 20 && g[2] > 0
                    && g[2] <= 1 << 20;
    gint64 gt = sane ? g[0] : 0, gh = sane ? g[1] / self->merge : 0;
    gint64 gw = sane ? g[2] / self->merge : 0;
    if (ed == n || gt <= 0 || gh <= 0 || gw <= 0 || gt * gh * gw > n - ed) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "image %" G_GINT64_FORMAT ": input_ids has no run of %" G_GINT64_FORMAT
                   " image tokens for its grid (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT ")", img, MAX (gt * gh * gw, 0), g[0], g[1], g[2]);
      return FALSE;
    }
    for (gint64 i = st; i < ed; i++)
      for (int s = 0; s < 3; s++)
        pos[s * L + i] = next + (i - st);
    gint64 base = next + (ed - st), mx = 0;
    for (gint64 t = 0, i = ed; t < gt; t++)
      for (gint64 y = 0; y < gh; y++)
        for (gint64 x = 0; x < gw; x++, i++) {
          pos[i] = base + (self->qwen25 ? 0 : t);
          pos[L + i] = base + y;
          pos[2 * L + i] = base + x;
          mx = MAX (mx, MAX (pos[i], MAX (pos[L + i], pos[2 * L + i])));
        }
    next = mx + 1;
    st = ed + gt * gh * gw;
  }
  for (gint64 i = st; i < n; i++)
    for (int s = 0; s < 3; s++)
      pos[s * L + i] = next + (i - st);
  return TRUE;
}

static gboolean
rope_index_process (VlmElement *element, GError **error)
{
  Qwen2vlRopeIndex *self = QWEN2VL_ROPE_INDEX (element);
  g_autoptr (VlmTensor) ids = read_i64 (vlm_element_get_input_tensor (element, "input_ids"),
                                        "input_ids", 0, error);
  if (!ids)
    return FALSE;
  gint64 L = vlm_tensor_get_dim (ids, 1);
  VlmTensor *mask_in = vlm_element_get_input_tensor (element, "attention_mask");
  VlmTensor *grid_in = vlm_element_get_input_tensor (element, "image_grid_thw");
  g_autoptr (VlmTensor) mask = mask_in ? read_i64 (mask_in, "attention_mask", 0, error) : NULL;
  g_autoptr (VlmTensor) grid = grid_in ? read_i64 (grid_in, "image_grid_thw", 3, error) : NULL;
  if ((mask_in && !mask) || (grid_in && !grid))
    return FALSE;
  if (mask && vlm_tensor_get_dim (mask, 1) != L) {
    g_autofree char *d = vlm_tensor_describe (mask);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "attention_mask: %s, expected [1, %" G_GINT64_FORMAT "]", d, L);
    return FALSE;
  }
  const gint64 *all = vlm_tensor_get_data (ids), *m = mask ? vlm_tensor_get_data (mask) : NULL;
  /* Padding positions are left at 1 and skipped, as the reference does. */
  g_autofree gint64 *valid = g_new (gint64, L), *where = g_new (gint64, L);
  gint64 n = 0;
  for (gint64 i = 0; i < L; i++)
    if (!m || m[i] == 1) {
      where[n] = i;
      valid[n++] = all[i];
    }
  g_autofree gint64 *pos = g_new0 (gint64, 3 * MAX (n, 1));
  if (grid) {
    if (!image_positions (self, valid, n, vlm_tensor_get_data (grid), vlm_tensor_get_dim (grid, 0),
                          pos, n, error))
      return FALSE;
  } else {
    for (gint64 i = 0; i < n; i++)
      pos[i] = pos[n + i] = pos[2 * n + i] = i;
  }
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_I64, 3, (gint64[]) { 3, 1, L });
  g_autoptr (VlmTensor) deltas = vlm_tensor_new (VLM_DTYPE_I64, 2, (gint64[]) { 1, 1 });
  gint64 *o = vlm_tensor_get_data_mut (out), mx = -1;
  for (gint64 i = 0; i < 3 * L; i++)
    o[i] = 1;
  for (int s = 0; s < 3; s++)
    for (gint64 i = 0; i < n; i++) {
      o[s * L + where[i]] = pos[s * n + i];
      mx = MAX (mx, pos[s * n + i]);
    }
  /* Text-only prompts: the reference's max over the whole (mask-filled) tensor. */
  if (!grid && n < L)
    mx = MAX (mx, 1);
  *(gint64 *) vlm_tensor_get_data_mut (deltas) = mx + 1 - L;
  vlm_element_set_output_tensor (element, "position_ids", out);
  vlm_element_set_output_tensor (element, "rope_deltas", deltas);
  return TRUE;
}

static void
qwen2vl_rope_index_class_init (Qwen2vlRopeIndexClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  VLM_MODEL_ELEMENT_CLASS (klass)->load = rope_index_load;
  ec->process = rope_index_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Qwen2-VL rope index",
                                  "M-RoPE (temporal, height, width) positions of a prompt from "
                                  "its image grids, and the offset decoding continues with");
  vlm_element_class_add_port (ec, "input_ids", VLM_PORT_INPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, L] prompt ids with expanded image tokens");
  vlm_element_class_add_port (ec, "image_grid_thw", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [n_images, 3]; absent: text only");
  vlm_element_class_add_port (ec, "attention_mask", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [1, L]; 0 marks padding");
  vlm_element_class_add_port (ec, "position_ids", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [3, 1, L] temporal, height and width positions");
  vlm_element_class_add_port (ec, "rope_deltas", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, 1] largest position + 1 - L: generated token i sits at "
                              "L + i + rope_deltas on every stream");
}

static void
qwen2vl_rope_index_init (Qwen2vlRopeIndex *self)
{
}
