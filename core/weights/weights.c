/* weights.c: a model folder's checkpoint after the `weights` patches, ready for binding. */
#include "weights/weight-binder.h"
#include "vlm/vlm-error.h"

struct _VlmWeights {
  gatomicrefcount ref;
  VlmModelDir *dir;
  VlmTensorSet *tensors; /* mapped views, rewritten by the patches */
  gboolean mlx_layout;
  JsonObject *quant;     /* config `quantization` (or `quantization_config`), may be NULL */
};

static JsonObject *
quantization_object (VlmModelDir *dir)
{
  JsonNode *n = vlm_model_dir_lookup (dir, NULL, "quantization|quantization_config");
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* Patches must not run twice on one folder within a pipeline, and several
 * elements bind from the same folder: the pipeline keeps one per folder path. */
static GQuark
cache_quark (VlmModelDir *dir)
{
  g_autofree char *key = g_strconcat ("vlm-weights:", vlm_model_dir_get_path (dir), NULL);
  return g_quark_from_string (key);
}

/**
 * vlm_weights_open:
 * @dir: a model folder
 * @pipeline: (nullable): the pipeline whose `weights` patches apply
 * @error: return location for a #GError
 *
 * Views every tensor of the folder's checkpoint (mapped, no copies), detects
 * the layout (safetensors metadata `format` "mlx", or mlx-vlm's `quantization`
 * section in the config) and runs the `weights` patches. With a pipeline the result is
 * shared by every caller for the same folder.
 *
 * Returns: (transfer full) (nullable): the weights
 */
VlmWeights *
vlm_weights_open (VlmModelDir *dir, VlmPipeline *pipeline, GError **error)
{
  GQuark quark = cache_quark (dir);
  if (pipeline) {
    VlmWeights *cached = g_object_get_qdata (G_OBJECT (pipeline), quark);
    if (cached)
      return vlm_weights_ref (cached);
  }
  VlmSafetensors *st = vlm_model_dir_get_weights (dir, error);
  if (!st)
    return NULL;
  g_autoptr (VlmTensorSet) set = vlm_safetensors_to_tensor_set (st, error);
  if (!set)
    return NULL;
  if (pipeline && !vlm_pipeline_apply_patches (pipeline, VLM_HOOK_WEIGHTS, set, error))
    return NULL;

  VlmWeights *w = g_new0 (VlmWeights, 1);
  g_atomic_ref_count_init (&w->ref);
  w->dir = g_object_ref (dir);
  w->tensors = g_steal_pointer (&set);
  w->quant = quantization_object (dir);
  if (w->quant)
    json_object_ref (w->quant);
  w->mlx_layout = g_strcmp0 (vlm_safetensors_get_metadata (st, "format"), "mlx") == 0
                  || vlm_model_dir_has_key (dir, NULL, "quantization");
  if (pipeline)
    g_object_set_qdata_full (G_OBJECT (pipeline), quark, vlm_weights_ref (w),
                             (GDestroyNotify) vlm_weights_unref);
  return w;
}

/**
 * vlm_weights_ref:
 * @weights: weights
 *
 * Returns: (transfer full): @weights
 */
VlmWeights *
vlm_weights_ref (VlmWeights *weights)
{
  g_atomic_ref_count_inc (&weights->ref);
  return weights;
}

/**
 * vlm_weights_unref:
 * @weights: (nullable): weights
 */
void
vlm_weights_unref (VlmWeights *weights)
{
  if (!weights || !g_atomic_ref_count_dec (&weights->ref))
    return;
  vlm_tensor_set_unref (weights->tensors);
  g_clear_pointer (&weights->quant, json_object_unref);
  g_object_unref (weights->dir);
  g_free (weights);
}

/**
 * vlm_weights_is_mlx_layout:
 * @weights: weights
 *
 * Returns: whether conv kernels are stored channels-last ([O, k..., I])
 */
gboolean
vlm_weights_is_mlx_layout (VlmWeights *weights)
{
  return weights->mlx_layout;
}

/**
 * vlm_weights_get_tensors:
 * @weights: weights
 *
 * Returns: (transfer none): every tensor, after the patches
 */
VlmTensorSet *
vlm_weights_get_tensors (VlmWeights *weights)
{
  return weights->tensors;
}

/* Returns: the model folder path, for messages. */
const char *
vlm_weights_get_path (VlmWeights *weights)
{
  return vlm_model_dir_get_path (weights->dir);
}

static gboolean
read_int (JsonObject *o, const char *key, int *out)
{
  JsonNode *n = json_object_get_member (o, key);
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (n);
  if (v <= 0 || v > 1024)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

static gboolean
read_bits (JsonObject *o, int *bits, int *group_size)
{
  return read_int (o, "bits", bits) && read_int (o, "group_size", group_size);
}

/* The quantization of one module (its full checkpoint name without `.weight`):
 * mlx-vlm writes per-module overrides as objects keyed by the module path.
 * Returns FALSE when the config says nothing (the caller infers from shapes). */
gboolean
vlm_weights_get_module_quantization (VlmWeights *weights, const char *module, int *bits,
                                     int *group_size)
{
  if (!weights->quant)
    return FALSE;
  JsonNode *own = json_object_get_member (weights->quant, module);
  if (own && JSON_NODE_HOLDS_OBJECT (own) && read_bits (json_node_get_object (own), bits,
                                                        group_size))
    return TRUE;
  return read_bits (weights->quant, bits, group_size);
}
