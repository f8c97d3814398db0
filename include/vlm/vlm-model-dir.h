/* vlm-model-dir.h: a model folder (config, generation and processor settings, weights). */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <vlm/vlm-safetensors.h>

G_BEGIN_DECLS

#define VLM_TYPE_MODEL_DIR (vlm_model_dir_get_type ())
G_DECLARE_FINAL_TYPE (VlmModelDir, vlm_model_dir, VLM, MODEL_DIR, GObject)

VlmModelDir    *vlm_model_dir_new (const char *path_or_hf_id, GError **error);
char           *vlm_model_dir_resolve (const char *path_or_hf_id, GError **error);
const char     *vlm_model_dir_get_path (VlmModelDir *self);
const char     *vlm_model_dir_get_model_type (VlmModelDir *self);
JsonObject     *vlm_model_dir_get_config (VlmModelDir *self);
JsonObject     *vlm_model_dir_get_section (VlmModelDir *self, const char *section);
JsonObject     *vlm_model_dir_get_text_config (VlmModelDir *self);
JsonObject     *vlm_model_dir_get_vision_config (VlmModelDir *self);
JsonObject     *vlm_model_dir_get_generation_config (VlmModelDir *self);
JsonObject     *vlm_model_dir_get_processor_config (VlmModelDir *self);

gboolean        vlm_model_dir_has_key (VlmModelDir *self, const char *section, const char *keys);
gint64          vlm_model_dir_get_int (VlmModelDir *self, const char *section, const char *keys,
                                       gint64 default_value);
double          vlm_model_dir_get_double (VlmModelDir *self, const char *section,
                                          const char *keys, double default_value);
gboolean        vlm_model_dir_get_bool (VlmModelDir *self, const char *section, const char *keys,
                                        gboolean default_value);
const char     *vlm_model_dir_get_string (VlmModelDir *self, const char *section,
                                          const char *keys, const char *default_value);
JsonNode       *vlm_model_dir_lookup (VlmModelDir *self, const char *section, const char *keys);

gint64         *vlm_model_dir_get_eos_token_ids (VlmModelDir *self, guint *n_ids);
gboolean        vlm_model_dir_get_quantization (VlmModelDir *self, int *group_size, int *bits);

char           *vlm_model_dir_find_file (VlmModelDir *self, const char *name);
JsonObject     *vlm_model_dir_load_json (VlmModelDir *self, const char *name, GError **error);
VlmSafetensors *vlm_model_dir_get_weights (VlmModelDir *self, GError **error);

JsonNode       *vlm_json_object_lookup (JsonObject *object, const char *keys);

G_END_DECLS
