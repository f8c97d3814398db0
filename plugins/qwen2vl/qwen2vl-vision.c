/* qwen2vl-vision.c: the "qwen2vl-vision" element: merge-order patches and their
 * grids -> merged image features in text space (vision tower + patch merger of
 * Qwen2-VL or Qwen2.5-VL, chosen by the model's model_type). */
#include "qwen2vl-elements.h"
#include "qwen2vl-vision-model.h"

struct _Qwen2vlVisionElement {
  VlmModelElement parent;
  Qwen2vlVision *vision;
};

G_DEFINE_FINAL_TYPE (Qwen2vlVisionElement, qwen2vl_vision_element, VLM_TYPE_MODEL_ELEMENT)

static gboolean
vision_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Qwen2vlVisionElement *self = QWEN2VL_VISION_ELEMENT (element);
  Qwen2vlVisionConfig cfg;
  if (!qwen2vl_vision_config_load (&cfg, dir, error)) {
    g_free (cfg.full_attention);
    return FALSE;
  }
  g_autoptr (VlmWeights) weights = vlm_weights_open (dir, vlm_element_get_pipeline (VLM_ELEMENT (self)),
                                                     error);
  Qwen2vlVision *vision = weights ? qwen2vl_vision_load (&cfg, weights, error) : NULL;
  if (!vision) {
    g_free (cfg.full_attention);
    return FALSE;
  }
  g_clear_pointer (&self->vision, qwen2vl_vision_free);
  self->vision = vision;
  return TRUE;
}

static VlmTensor *
read_grid (VlmTensor *t, GError **error)
{
  VlmDType dt = t ? vlm_tensor_get_dtype (t) : VLM_DTYPE_F32;
  if (!t || (dt != VLM_DTYPE_I64 && dt != VLM_DTYPE_I32) || vlm_tensor_get_ndim (t) != 2
      || vlm_tensor_get_dim (t, 1) != 3 || vlm_tensor_get_dim (t, 0) == 0) {
    g_autofree char *d = t ? vlm_tensor_describe (t) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "image_grid_thw: %s, expected I64 [n_images, 3]", d);
    return NULL;
  }
  g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (t, VLM_DTYPE_I64, error);
  return i64 ? vlm_tensor_contiguous (i64) : NULL;
}

static gboolean
vision_process (VlmElement *element, GError **error)
{
  Qwen2vlVisionElement *self = QWEN2VL_VISION_ELEMENT (element);
  const Qwen2vlVisionConfig *c = &self->vision->cfg;
  VlmTensor *pv_in = vlm_element_get_input_tensor (element, "pixel_values");
  /* A prompt without images: nothing to encode. */
  if (!pv_in && !vlm_element_has_input (element, "image_grid_thw"))
    return TRUE;
  gint64 cols = c->channels * c->temporal * c->patch * c->patch;
  if (!pv_in || !vlm_dtype_is_float (vlm_tensor_get_dtype (pv_in))
      || vlm_tensor_get_ndim (pv_in) != 2 || vlm_tensor_get_dim (pv_in, 1) != cols) {
    g_autofree char *d = pv_in ? vlm_tensor_describe (pv_in) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "pixel_values: %s, expected F32 [patches, %" G_GINT64_FORMAT "]", d, cols);
    return FALSE;
  }
  g_autoptr (VlmTensor) grid = read_grid (vlm_element_get_input_tensor (element, "image_grid_thw"),
                                          error);
  if (!grid)
    return FALSE;
  gint64 n_images = vlm_tensor_get_dim (grid, 0), n = vlm_tensor_get_dim (pv_in, 0);
  if (!qwen2vl_vision_check_grid (c, vlm_tensor_get_data (grid), n_images, n, error))
    return FALSE;
  g_autoptr (VlmTensor) f32 = vlm_tensor_to_dtype (pv_in, VLM_DTYPE_F32, error);
  if (!f32)
    return FALSE;
  g_autoptr (VlmTensor) pv = vlm_tensor_contiguous (f32);
  gint64 unit = c->merge * c->merge;
  g_autoptr (VlmTensor) hidden = vlm_tensor_new_empty (VLM_DTYPE_F32, 2, (gint64[]) { n, c->dim });
  g_autoptr (VlmTensor) features = vlm_tensor_new_empty (VLM_DTYPE_F32, 2,
                                                         (gint64[]) { n / unit, c->out_dim });
  qwen2vl_vision_forward (self->vision, vlm_tensor_get_data (pv), vlm_tensor_get_data (grid),
                          n_images, n, vlm_tensor_get_data_mut (hidden),
                          vlm_tensor_get_data_mut (features));
  vlm_element_set_output_tensor (element, "vision_hidden", hidden);
  vlm_element_set_output_tensor (element, "image_features", features);
  return TRUE;
}

static void
vision_finalize (GObject *object)
{
  Qwen2vlVisionElement *self = QWEN2VL_VISION_ELEMENT (object);
  g_clear_pointer (&self->vision, qwen2vl_vision_free);
  G_OBJECT_CLASS (qwen2vl_vision_element_parent_class)->finalize (object);
}

static void
qwen2vl_vision_element_class_init (Qwen2vlVisionElementClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = vision_finalize;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = vision_load;
  ec->process = vision_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_VISION_TOWER, "Qwen2-VL vision tower",
                                  "Qwen2-VL / Qwen2.5-VL vision transformer (2-D RoPE, "
                                  "per-image and windowed attention) and 2x2 patch merger");
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "F32 [patches, C * temporal * patch * patch] in merge order "
                              "(absent with image_grid_thw: no images, no output)");
  vlm_element_class_add_port (ec, "image_grid_thw", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [n_images, 3] (t, h, w) patch grids");
  vlm_element_class_add_port (ec, "vision_hidden", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "F32 [patches, D] after the last block (Qwen2.5-VL: window "
                              "order)");
  vlm_element_class_add_port (ec, "image_features", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL,
                              "F32 [patches / merge^2, D_text] merged features, images in "
                              "order");
}

static void
qwen2vl_vision_element_init (Qwen2vlVisionElement *self)
{
}
