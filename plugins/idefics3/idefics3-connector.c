/* idefics3-connector.c: Idefics3Connector as an element: pixel shuffle (space to
 * depth by scale_factor) then the bias-free modality projection into text space. */
#include "idefics3-elements.h"
#include "compute/ops.h"
#include "nn/projector.h"

struct _Idefics3Connector {
  VlmModelElement parent;
  gint64 scale;         /* config scale_factor */
  gint64 vision_dim;
  VlmLinear proj;       /* [D_text, vision_dim * scale^2] */
};

G_DEFINE_FINAL_TYPE (Idefics3Connector, idefics3_connector, VLM_TYPE_MODEL_ELEMENT)

static gboolean
connector_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Idefics3Connector *self = IDEFICS3_CONNECTOR (element);
  /* Idefics3Config defaults: scale_factor 2, vision hidden 1152, text hidden 4096. */
  gint64 scale = vlm_model_dir_get_int (dir, NULL, "scale_factor", 2);
  gint64 vdim = vlm_model_dir_get_int (dir, "vision_config", "hidden_size", 1152);
  gint64 tdim = vlm_model_dir_get_int (dir, "text_config", "hidden_size", 4096);
  if (scale <= 0 || vdim <= 0 || tdim <= 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s: scale_factor (%" G_GINT64_FORMAT ") and the hidden sizes must be positive",
                 vlm_model_dir_get_path (dir), scale);
    return FALSE;
  }
  g_autoptr (VlmWeights) weights = vlm_weights_open (dir, vlm_element_get_pipeline (VLM_ELEMENT (self)),
                                                     error);
  if (!weights)
    return FALSE;
  const char *const aliases[] = { "connector.", NULL };
  g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (weights, "model.connector.", aliases);
  VlmLinear proj = { 0 };
  vlm_weight_request_linear (r, "modality_projection.proj", tdim, vdim * scale * scale,
                             VLM_WEIGHT_NO_BIAS, &proj);
  if (!vlm_weight_request_finish (r, error)) {
    vlm_linear_clear (&proj);
    return FALSE;
  }
  vlm_linear_clear (&self->proj);
  self->proj = proj;
  self->scale = scale;
  self->vision_dim = vdim;
  return TRUE;
}

static gboolean
connector_process (VlmElement *element, GError **error)
{
  Idefics3Connector *self = IDEFICS3_CONNECTOR (element);
  VlmTensor *in = vlm_element_get_input_tensor (element, "vision_hidden");
  if (!in) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "no vision_hidden tensor");
    return FALSE;
  }
  gint64 s = self->scale, side = 0;
  gboolean ok = vlm_tensor_get_ndim (in) == 3 && vlm_dtype_is_float (vlm_tensor_get_dtype (in))
                && vlm_tensor_get_dim (in, 2) == self->vision_dim;
  if (ok) {
    gint64 seq = vlm_tensor_get_dim (in, 1);
    while (side * side < seq)
      side++;
    ok = side * side == seq && side % s == 0;
  }
  if (!ok) {
    g_autofree char *d = vlm_tensor_describe (in);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "vision_hidden: %s, expected F32 [n_tiles, n * n, %" G_GINT64_FORMAT
                 "] with n a multiple of scale_factor %" G_GINT64_FORMAT,
                 d, self->vision_dim, s);
    return FALSE;
  }
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (in, VLM_DTYPE_F32, error);
  if (!f)
    return FALSE;
  g_autoptr (VlmTensor) x = vlm_tensor_contiguous (f);
  gint64 n = vlm_tensor_get_dim (x, 0), seq = side * side, dv = self->vision_dim;
  gint64 tokens = seq / (s * s), width = dv * s * s;
  g_autofree float *shuffled = g_new (float, MAX (n * tokens * width, 1));
  const float *src = vlm_tensor_get_data (x);
  for (gint64 t = 0; t < n; t++)
    vlm_pixel_shuffle (src + t * seq * dv, side, dv, s, shuffled + t * tokens * width);
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 2,
                                              (gint64[]) { n * tokens, self->proj.out });
  vlm_linear_forward (&self->proj, shuffled, n * tokens, vlm_tensor_get_data_mut (out));
  vlm_element_set_output_tensor (element, "image_features", out);
  return TRUE;
}

static void
idefics3_connector_finalize (GObject *object)
{
  Idefics3Connector *self = IDEFICS3_CONNECTOR (object);
  vlm_linear_clear (&self->proj);
  G_OBJECT_CLASS (idefics3_connector_parent_class)->finalize (object);
}

static void
idefics3_connector_class_init (Idefics3ConnectorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = idefics3_connector_finalize;
  ec->process = connector_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = connector_load;
  vlm_projector_class_declare (ec, "Idefics3 connector",
                               "Pixel shuffle by scale_factor, then the linear projection "
                               "into the text embedding space",
                               "F32 [n_tiles, patches, D_vision] from the vision tower",
                               "F32 [n_tiles * image_seq_len, D_text], tiles in order");
}

static void
idefics3_connector_init (Idefics3Connector *self)
{
}
