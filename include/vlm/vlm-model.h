/* vlm-model.h: a loaded model that answers questions about images: the high-level API
 * (load once, generate many times, sync or async), built on the model's pipeline. */
#pragma once

#include <gio/gio.h>
#include <vlm/vlm-pipeline.h>
#include <vlm/vlm-result.h>
#include <vlm/vlm-generate-params.h>

G_BEGIN_DECLS

#define VLM_TYPE_MODEL (vlm_model_get_type ())
G_DECLARE_FINAL_TYPE (VlmModel, vlm_model, VLM, MODEL, GObject)

VlmModel    *vlm_model_load (const char *model, GCancellable *cancellable, GError **error);
void         vlm_model_load_async (const char *model, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
VlmModel    *vlm_model_load_finish (GAsyncResult *result, GError **error);
VlmModel    *vlm_model_new_for_pipeline (VlmPipeline *pipeline, GCancellable *cancellable,
                                         GError **error);

VlmPipeline *vlm_model_get_pipeline (VlmModel *self);
const char  *vlm_model_get_path (VlmModel *self);
double       vlm_model_get_load_ms (VlmModel *self);

VlmResult   *vlm_model_generate (VlmModel *self, const char *prompt, const char *const *images,
                                 VlmGenerateParams *params, GCancellable *cancellable,
                                 GError **error);
void         vlm_model_generate_async (VlmModel *self, const char *prompt,
                                       const char *const *images, VlmGenerateParams *params,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
VlmResult   *vlm_model_generate_finish (VlmModel *self, GAsyncResult *result, GError **error);

G_END_DECLS
