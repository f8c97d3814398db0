/* vlm-pipeline.h: a graph of elements read from JSON, validated, then run. */
#pragma once

#include <gio/gio.h>
#include <vlm/vlm-element.h>
#include <vlm/vlm-patch.h>

G_BEGIN_DECLS

#define VLM_TYPE_PIPELINE (vlm_pipeline_get_type ())
G_DECLARE_FINAL_TYPE (VlmPipeline, vlm_pipeline, VLM, PIPELINE, GObject)

VlmPipeline *vlm_pipeline_new_from_file (const char *filename, GError **error);
VlmPipeline *vlm_pipeline_new_from_data (const char *data, gssize length, const char *base_dir,
                                         GError **error);
VlmPipeline *vlm_pipeline_new_for_model (const char *model, GError **error);

const char  *vlm_pipeline_get_name (VlmPipeline *pipeline);
const char  *vlm_pipeline_get_model (VlmPipeline *pipeline);
gboolean     vlm_pipeline_set_model (VlmPipeline *pipeline, const char *model, GError **error);
const char  *vlm_pipeline_get_model_type (VlmPipeline *pipeline);
const char  *vlm_pipeline_get_prompt (VlmPipeline *pipeline);
void         vlm_pipeline_set_prompt (VlmPipeline *pipeline, const char *prompt);
const char  *vlm_pipeline_get_system (VlmPipeline *pipeline);
void         vlm_pipeline_set_system (VlmPipeline *pipeline, const char *system);
const char *const *vlm_pipeline_get_images (VlmPipeline *pipeline);
void         vlm_pipeline_set_images (VlmPipeline *pipeline, const char *const *images);
GStrv        vlm_pipeline_list_node_ids (VlmPipeline *pipeline);
VlmElement  *vlm_pipeline_get_element (VlmPipeline *pipeline, const char *id);
VlmElement  *vlm_pipeline_find_element (VlmPipeline *pipeline, VlmElementKind kind);
gboolean     vlm_pipeline_set_node_property (VlmPipeline *pipeline, const char *assignment,
                                             GError **error);
gboolean     vlm_pipeline_apply_patches (VlmPipeline *pipeline, VlmHook hook,
                                         VlmTensorSet *tensors, GError **error);
GPtrArray   *vlm_pipeline_list_active_patches (VlmPipeline *pipeline, VlmHook hook);
gboolean     vlm_pipeline_prepare (VlmPipeline *pipeline, GError **error);
gboolean     vlm_pipeline_run (VlmPipeline *pipeline, GCancellable *cancellable, GError **error);
GCancellable *vlm_pipeline_get_cancellable (VlmPipeline *pipeline);
GStrv        vlm_pipeline_list_sink_outputs (VlmPipeline *pipeline);
const GValue *vlm_pipeline_get_value (VlmPipeline *pipeline, const char *node_port);

G_END_DECLS
