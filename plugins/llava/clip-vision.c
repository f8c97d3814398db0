/* clip-vision.c: the CLIP vision tower as LLaVA uses it: class token and
 * pre-LayerNorm, then only the layers up to vision_feature_layer (hidden state
 * index: 0 is the embeddings, negative counts from the end of n_layers + 1), the
 * class row dropped under the "default" select strategy and kept under "full". */
#include "llava-elements.h"
#include "nn/vision-encoder.h"

#include <string.h>

struct _ClipVision {
  VlmModelElement parent;
  gint64 layers_run;        /* hidden-state index = layers to run */
  gboolean drop_cls;
  VlmVisionEncoder *enc;
};

G_DEFINE_FINAL_TYPE (ClipVision, clip_vision, VLM_TYPE_MODEL_ELEMENT)

/* CLIPVisionConfig defaults for absent keys. */
static gboolean
read_config (VlmModelDir *dir, VlmVisionConfig *cfg, GError **error)
{
  const char *sec = "vision_config";
  cfg->hidden = vlm_model_dir_get_int (dir, sec, "hidden_size", 768);
  cfg->intermediate = vlm_model_dir_get_int (dir, sec, "intermediate_size", 3072);
  cfg->n_layers = vlm_model_dir_get_int (dir, sec, "num_hidden_layers", 12);
  cfg->n_heads = vlm_model_dir_get_int (dir, sec, "num_attention_heads", 12);
  cfg->channels = vlm_model_dir_get_int (dir, sec, "num_channels", 3);
  cfg->image_size = vlm_model_dir_get_int (dir, sec, "image_size", 224);
  cfg->patch = vlm_model_dir_get_int (dir, sec, "patch_size", 32);
  cfg->eps = (float) vlm_model_dir_get_double (dir, sec, "layer_norm_eps", 1e-5);
  cfg->class_token = TRUE;
  const char *act = vlm_model_dir_get_string (dir, sec, "hidden_act", "quick_gelu");
  if (!vlm_activation_from_name (act, &cfg->act)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: vision_config.hidden_act \"%s\" is not supported",
                 vlm_model_dir_get_path (dir), act);
    return FALSE;
  }
  return TRUE;
}

/* vision_feature_layer (LlavaConfig default -2) as a number of layers to run, and the
 * select strategy (default "default"). */
static gboolean
read_selection (VlmModelDir *dir, gint64 n_layers, gint64 *layers_run, gboolean *drop_cls,
                GError **error)
{
  const char *path = vlm_model_dir_get_path (dir);
  JsonNode *n = vlm_model_dir_lookup (dir, NULL, "vision_feature_layer");
  if (n && (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: vision_feature_layer must be one integer (lists of layers are "
                 "not supported)", path);
    return FALSE;
  }
  gint64 layer = n ? json_node_get_int (n) : -2;
  gint64 index = layer < 0 ? n_layers + 1 + layer : layer;
  if (index < 0 || index > n_layers) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: vision_feature_layer %" G_GINT64_FORMAT " is outside the %"
                 G_GINT64_FORMAT " hidden states of the vision tower", path, layer, n_layers + 1);
    return FALSE;
  }
  const char *strategy = vlm_model_dir_get_string (dir, NULL, "vision_feature_select_strategy",
                                                   "default");
  if (g_strcmp0 (strategy, "default") != 0 && g_strcmp0 (strategy, "full") != 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: vision_feature_select_strategy \"%s\" is not supported "
                 "(default, full)", path, strategy);
    return FALSE;
  }
  *layers_run = index;
  *drop_cls = g_strcmp0 (strategy, "default") == 0;
  return TRUE;
}

static gboolean
clip_vision_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  ClipVision *self = CLIP_VISION (element);
  VlmVisionConfig cfg = { 0 };
  gint64 layers_run = 0;
  gboolean drop_cls = TRUE;
  if (!read_config (dir, &cfg, error)
      || !read_selection (dir, cfg.n_layers, &layers_run, &drop_cls, error))
    return FALSE;
  g_autoptr (VlmWeights) weights = vlm_weights_open (dir, vlm_element_get_pipeline (VLM_ELEMENT (self)),
                                                     error);
  if (!weights)
    return FALSE;
  /* llava-hf checkpoints, then transformers >= 4.52 names. */
  const char *const aliases[] = { "model.vision_tower.vision_model.", NULL };
  VlmVisionEncoder *enc = vlm_vision_encoder_load (&cfg, weights, "vision_tower.vision_model.",
                                                   aliases, error);
  if (!enc)
    return FALSE;
  g_clear_pointer (&self->enc, vlm_vision_encoder_free);
  self->enc = enc;
  self->layers_run = layers_run;
  self->drop_cls = drop_cls;
  return TRUE;
}

static gboolean
clip_vision_process (VlmElement *element, GError **error)
{
  ClipVision *self = CLIP_VISION (element);
  const VlmVisionConfig *cfg = &self->enc->cfg;
  VlmTensor *in = vlm_element_get_input_tensor (element, "pixel_values");
  const gint64 *s = in ? vlm_tensor_get_shape (in, NULL) : NULL;
  if (!in || vlm_tensor_get_ndim (in) != 4 || !vlm_dtype_is_float (vlm_tensor_get_dtype (in))
      || s[1] != cfg->channels || s[2] != cfg->image_size || s[3] != cfg->image_size) {
    g_autofree char *d = in ? vlm_tensor_describe (in) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "pixel_values: %s, expected float [n_images, %" G_GINT64_FORMAT ", %"
                 G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", d, cfg->channels, cfg->image_size,
                 cfg->image_size);
    return FALSE;
  }
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (in, VLM_DTYPE_F32, error);
  if (!f)
    return FALSE;
  g_autoptr (VlmTensor) pv = vlm_tensor_contiguous (f);
  gint64 n = s[0], seq = vlm_vision_encoder_seq_len (self->enc, s[2], s[3]), D = cfg->hidden;
  g_autofree float *x = g_new (float, MAX (n * seq * D, 1));
  if (n > 0 && !vlm_vision_encoder_embed (self->enc, vlm_tensor_get_data (pv), NULL, n, s[2],
                                          s[3], x, error))
    return FALSE;
  if (n > 0)
    vlm_vision_encoder_run_layers (self->enc, x, NULL, n, seq, 0, self->layers_run);
  gint64 skip = self->drop_cls ? 1 : 0, keep = seq - skip;
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 3, (gint64[]) { n, keep, D });
  float *o = vlm_tensor_get_data_mut (out);
  for (gint64 i = 0; i < n; i++)
    memcpy (o + i * keep * D, x + (i * seq + skip) * D, (gsize) (keep * D) * sizeof (float));
  vlm_element_set_output_tensor (element, "vision_hidden", out);
  return TRUE;
}

static void
clip_vision_finalize (GObject *object)
{
  ClipVision *self = CLIP_VISION (object);
  g_clear_pointer (&self->enc, vlm_vision_encoder_free);
  G_OBJECT_CLASS (clip_vision_parent_class)->finalize (object);
}

static void
clip_vision_class_init (ClipVisionClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = clip_vision_finalize;
  ec->process = clip_vision_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = clip_vision_load;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_VISION_TOWER, "CLIP vision tower",
                                  "CLIP encoder (class token, pre-LayerNorm) read at "
                                  "vision_feature_layer, class row dropped or kept by "
                                  "vision_feature_select_strategy");
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_INPUT, VLM_TYPE_TENSOR, 0,
                              "F32 [n_images, C, image_size, image_size]");
  vlm_element_class_add_port (ec, "vision_hidden", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "F32 [n_images, tokens, D_vision]: the selected hidden state");
}

static void
clip_vision_init (ClipVision *self)
{
}
