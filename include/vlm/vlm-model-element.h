/* vlm-model-element.h: base class of the elements that load from a model folder. */
#pragma once

#include <vlm/vlm-element.h>
#include <vlm/vlm-model-dir.h>

G_BEGIN_DECLS

#define VLM_TYPE_MODEL_ELEMENT (vlm_model_element_get_type ())
G_DECLARE_DERIVABLE_TYPE (VlmModelElement, vlm_model_element, VLM, MODEL_ELEMENT, VlmElement)

/**
 * VlmModelElementClass:
 * @parent_class: the parent class
 * @load: reads what the element needs (settings, weights, tokenizer) from @dir,
 *   the folder linked to the "model" input; called by prepare when that folder
 *   differs from the one loaded last (first run, or the model changed). Returns
 *   %FALSE with @error set on failure; the next prepare then loads again.
 *
 * An abstract #VlmElement that declares the "model" input (a string: the model
 * folder, usually linked to `@model`) and implements #VlmElementClass.prepare:
 * subclasses only implement @load and #VlmElementClass.process, which runs after
 * a successful load.
 */
struct _VlmModelElementClass {
  VlmElementClass parent_class;

  gboolean (*load) (VlmModelElement *self, VlmModelDir *dir, GError **error);

  /*< private >*/
  gpointer padding[4];
};

VlmModelDir *vlm_model_element_get_dir (VlmModelElement *self);
const char  *vlm_model_element_get_path (VlmModelElement *self);

G_END_DECLS
