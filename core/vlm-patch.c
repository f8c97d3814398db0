/* vlm-patch.c: registered patches and their application. */
#include "vlm/vlm-patch.h"
#include "vlm-registry-private.h"

struct _VlmPatch {
  char *name;
  VlmHook hook;
  GStrv model_types;
  int order;
  char *description;
  VlmPatchFunc func;
  char *plugin_name;
};

/* Patches live as long as the registry, so the boxed copy is the pointer itself. */
static VlmPatch *
patch_copy (VlmPatch *patch)
{
  return patch;
}

static void
patch_free (VlmPatch *patch)
{
}

G_DEFINE_BOXED_TYPE (VlmPatch, vlm_patch, patch_copy, patch_free)

GType
vlm_hook_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VLM_HOOK_WEIGHTS, "VLM_HOOK_WEIGHTS", "weights" },
    { VLM_HOOK_BEFORE_MERGE, "VLM_HOOK_BEFORE_MERGE", "before-merge" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("VlmHook", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * vlm_hook_to_string:
 * @hook: a hook
 *
 * Returns: "weights" or "before-merge"
 */
const char *
vlm_hook_to_string (VlmHook hook)
{
  return hook == VLM_HOOK_WEIGHTS ? "weights" : "before-merge";
}

VlmPatch *
vlm_patch_new_internal (const char *name, VlmHook hook, const char *const *model_types, int order,
                        const char *description, VlmPatchFunc func, const char *plugin_name)
{
  VlmPatch *p = g_new0 (VlmPatch, 1);
  p->name = g_strdup (name);
  p->hook = hook;
  p->model_types = g_strdupv ((GStrv) model_types);
  p->order = order;
  p->description = g_strdup (description);
  p->func = func;
  p->plugin_name = g_strdup (plugin_name);
  return p;
}

void
vlm_patch_free_internal (VlmPatch *patch)
{
  g_free (patch->name);
  g_strfreev (patch->model_types);
  g_free (patch->description);
  g_free (patch->plugin_name);
  g_free (patch);
}

/**
 * vlm_patch_get_name:
 * @patch: a patch
 *
 * Returns: its name
 */
const char *
vlm_patch_get_name (const VlmPatch *patch)
{
  return patch->name;
}

/**
 * vlm_patch_get_hook:
 * @patch: a patch
 *
 * Returns: where it runs
 */
VlmHook
vlm_patch_get_hook (const VlmPatch *patch)
{
  return patch->hook;
}

/**
 * vlm_patch_get_order:
 * @patch: a patch
 *
 * Returns: its order at its hook
 */
int
vlm_patch_get_order (const VlmPatch *patch)
{
  return patch->order;
}

/**
 * vlm_patch_get_description:
 * @patch: a patch
 *
 * Returns: its description
 */
const char *
vlm_patch_get_description (const VlmPatch *patch)
{
  return patch->description;
}

/**
 * vlm_patch_get_model_types:
 * @patch: a patch
 *
 * Returns: (array zero-terminated=1) (transfer none) (nullable): model types it
 *   applies to, %NULL for all
 */
const char *const *
vlm_patch_get_model_types (const VlmPatch *patch)
{
  return (const char *const *) patch->model_types;
}

/**
 * vlm_patch_get_plugin_name:
 * @patch: a patch
 *
 * Returns: the plugin that registered it
 */
const char *
vlm_patch_get_plugin_name (const VlmPatch *patch)
{
  return patch->plugin_name;
}

/**
 * vlm_patch_applies_to:
 * @patch: a patch
 * @model_type: (nullable): a model type
 *
 * Returns: whether the patch is registered for @model_type (or for all)
 */
gboolean
vlm_patch_applies_to (const VlmPatch *patch, const char *model_type)
{
  if (!patch->model_types || !patch->model_types[0])
    return TRUE;
  return model_type && g_strv_contains ((const char *const *) patch->model_types, model_type);
}

/**
 * vlm_patch_apply:
 * @patch: a patch
 * @tensors: the tensors at its hook
 * @model_type: (nullable): the model type being run
 * @error: return location for a #GError
 *
 * Runs the patch, logging the application at debug level.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_patch_apply (const VlmPatch *patch, VlmTensorSet *tensors, const char *model_type,
                 GError **error)
{
  GError *local = NULL;
  g_debug ("applying patch %s (plugin %s) at hook %s to %u tensors", patch->name,
           patch->plugin_name, vlm_hook_to_string (patch->hook), vlm_tensor_set_get_size (tensors));
  if (!patch->func (tensors, model_type, &local)) {
    g_propagate_prefixed_error (error, local, "patch %s: ", patch->name);
    return FALSE;
  }
  return TRUE;
}
