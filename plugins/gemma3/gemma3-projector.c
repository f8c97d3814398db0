/* gemma3-projector.c: Gemma3MultiModalProjector as an element: the SigLIP patch grid
 * average-pooled to mm_tokens_per_image tokens (row-major), the soft-embedding RMSNorm
 * ((1 + w), the vision layer_norm_eps), then x @ W with W stored [vision, text]. */
#include "gemma3-elements.h"
#include "compute/ops.h"
#include "nn/projector.h"

struct _Gemma3Projector {
  VlmModelElement parent;
  gint64 vision_dim, text_dim, tokens;
  float eps;
  VlmTensor *norm;      /* [vision_dim] F32 */
  VlmTensor *proj;      /* [vision_dim, text_dim] F32 */
};

G_DEFINE_FINAL_TYPE (Gemma3Projector, gemma3_projector, VLM_TYPE_MODEL_ELEMENT)

static void
unload (Gemma3Projector *self)
{
  g_clear_pointer (&self->norm, vlm_tensor_unref);
  g_clear_pointer (&self->proj, vlm_tensor_unref);
}

static gboolean
projector_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Gemma3Projector *self = GEMMA3_PROJECTOR (element);
  unload (self);
  /* Gemma3Config / SiglipVisionConfig defaults for absent keys. */
  self->vision_dim = vlm_model_dir_get_int (dir, "vision_config", "hidden_size", 1152);
  self->text_dim = vlm_model_dir_get_int (dir, "text_config", "hidden_size", 2304);
  self->tokens = vlm_model_dir_get_int (dir, NULL, "mm_tokens_per_image", 256);
  self->eps = (float) vlm_model_dir_get_double (dir, "vision_config", "layer_norm_eps", 1e-6);
  if (self->vision_dim <= 0 || self->text_dim <= 0 || self->tokens <= 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s/config.json: the hidden sizes and "
                 "mm_tokens_per_image must be positive", vlm_model_dir_get_path (dir));
    return FALSE;
  }
  g_autoptr (VlmWeightRequest) r = vlm_projector_request_weights (element, dir, error);
  if (!r)
    return FALSE;
  vlm_weight_request_tensor (r, "mm_soft_emb_norm.weight", 1, &self->vision_dim, 0, &self->norm);
  vlm_weight_request_tensor (r, "mm_input_projection_weight", 2,
                             (gint64[]) { self->vision_dim, self->text_dim }, 0, &self->proj);
  if (!vlm_weight_request_finish (r, error)) {
    unload (self);
    return FALSE;
  }
  return TRUE;
}

static gboolean
projector_process (VlmElement *element, GError **error)
{
  Gemma3Projector *self = GEMMA3_PROJECTOR (element);
  VlmTensor *in = vlm_element_get_input_tensor (element, "vision_hidden");
  gint64 side = 0, k = 0, out_side = 0;
  gboolean ok = in && vlm_tensor_get_ndim (in) == 3
                && vlm_dtype_is_float (vlm_tensor_get_dtype (in))
                && vlm_tensor_get_dim (in, 2) == self->vision_dim;
  if (ok) {
    while (side * side < vlm_tensor_get_dim (in, 1))
      side++;
    while (out_side * out_side < self->tokens)
      out_side++;
    k = out_side > 0 ? side / out_side : 0;
    ok = side * side == vlm_tensor_get_dim (in, 1) && out_side * out_side == self->tokens
         && k > 0 && k * out_side == side;
  }
  if (!ok) {
    g_autofree char *d = in ? vlm_tensor_describe (in) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "vision_hidden: %s, expected float [n_images, n * n, %" G_GINT64_FORMAT
                 "] that pools evenly to mm_tokens_per_image %" G_GINT64_FORMAT " (a square)",
                 d, self->vision_dim, self->tokens);
    return FALSE;
  }
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (in, VLM_DTYPE_F32, error);
  if (!f)
    return FALSE;
  g_autoptr (VlmTensor) x = vlm_tensor_contiguous (f);
  gint64 n = vlm_tensor_get_dim (x, 0), dv = self->vision_dim, rows = n * self->tokens;
  g_autofree float *pooled = g_new (float, MAX (rows * dv, 1));
  const float *src = vlm_tensor_get_data (x);
  for (gint64 i = 0; i < n; i++)
    vlm_avg_pool_2d (src + i * side * side * dv, side, side, dv, k,
                     pooled + i * self->tokens * dv);
  vlm_rms_norm (pooled, vlm_tensor_get_data (self->norm), 1.0f, rows, dv, self->eps, pooled);
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { rows, self->text_dim });
  if (rows > 0)
    vlm_matmul_batched (1, rows, self->text_dim, dv, pooled, vlm_tensor_get_data (self->proj),
                        FALSE, vlm_tensor_get_data_mut (out));
  vlm_element_set_output_tensor (element, "image_features", out);
  return TRUE;
}

static void
gemma3_projector_finalize (GObject *object)
{
  unload (GEMMA3_PROJECTOR (object));
  G_OBJECT_CLASS (gemma3_projector_parent_class)->finalize (object);
}

static void
gemma3_projector_class_init (Gemma3ProjectorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = gemma3_projector_finalize;
  ec->process = projector_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = projector_load;
  vlm_projector_class_declare (ec, "Gemma 3 projector",
                               "Average pooling to mm_tokens_per_image, soft-embedding "
                               "RMSNorm, projection into the text width",
                               "F32 [n_images, patches, D_vision] from the vision tower",
                               "F32 [n_images * mm_tokens_per_image, D_text], images in order");
}

static void
gemma3_projector_init (Gemma3Projector *self)
{
}
