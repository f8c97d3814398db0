/* vlm-model-element.c: the "model" input, and loading again only when the linked
 * folder changes, for every element that reads a model folder. */
#include "vlm/vlm-model-element.h"
#include "vlm/vlm-error.h"

typedef struct {
  char *path;       /* the "model" input the loaded state came from */
  VlmModelDir *dir;
} VlmModelElementPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (VlmModelElement, vlm_model_element, VLM_TYPE_ELEMENT)

static gboolean
model_element_prepare (VlmElement *element, GError **error)
{
  VlmModelElement *self = VLM_MODEL_ELEMENT (element);
  VlmModelElementPrivate *priv = vlm_model_element_get_instance_private (self);
  const char *model = vlm_element_get_input_string (element, "model");
  if (!model) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "no model folder (link \"model\" to @model)");
    return FALSE;
  }
  if (priv->path && g_str_equal (priv->path, model))
    return TRUE;
  /* Forgotten first: after a failed load the subclass state is not that of any folder. */
  g_clear_pointer (&priv->path, g_free);
  g_clear_object (&priv->dir);
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (model, error);
  if (!dir || !VLM_MODEL_ELEMENT_GET_CLASS (self)->load (self, dir, error))
    return FALSE;
  priv->dir = g_steal_pointer (&dir);
  priv->path = g_strdup (model);
  return TRUE;
}

static void
vlm_model_element_finalize (GObject *object)
{
  VlmModelElementPrivate *priv = vlm_model_element_get_instance_private (VLM_MODEL_ELEMENT (object));
  g_free (priv->path);
  g_clear_object (&priv->dir);
  G_OBJECT_CLASS (vlm_model_element_parent_class)->finalize (object);
}

static void
vlm_model_element_class_init (VlmModelElementClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = vlm_model_element_finalize;
  ec->prepare = model_element_prepare;
  vlm_element_class_add_port (ec, "model", VLM_PORT_INPUT, G_TYPE_STRING, 0, "the model folder");
}

static void
vlm_model_element_init (VlmModelElement *self)
{
}

/**
 * vlm_model_element_get_dir:
 * @self: a model element
 *
 * Returns: (transfer none) (nullable): the folder loaded last, %NULL before the
 *   first successful load
 */
VlmModelDir *
vlm_model_element_get_dir (VlmModelElement *self)
{
  g_return_val_if_fail (VLM_IS_MODEL_ELEMENT (self), NULL);
  VlmModelElementPrivate *priv = vlm_model_element_get_instance_private (self);
  return priv->dir;
}

/**
 * vlm_model_element_get_path:
 * @self: a model element
 *
 * Returns: (nullable): the "model" input value (a folder or Hugging Face id) the
 *   loaded state came from, %NULL before the first successful load
 */
const char *
vlm_model_element_get_path (VlmModelElement *self)
{
  g_return_val_if_fail (VLM_IS_MODEL_ELEMENT (self), NULL);
  VlmModelElementPrivate *priv = vlm_model_element_get_instance_private (self);
  return priv->path;
}
