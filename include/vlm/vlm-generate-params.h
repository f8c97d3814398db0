/* vlm-generate-params.h: the per-request settings of a generation (length, sampling, stop). */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define VLM_TYPE_GENERATE_PARAMS (vlm_generate_params_get_type ())
G_DECLARE_FINAL_TYPE (VlmGenerateParams, vlm_generate_params, VLM, GENERATE_PARAMS, GObject)

VlmGenerateParams *vlm_generate_params_new (void);
gboolean           vlm_generate_params_set_option (VlmGenerateParams *self, const char *name,
                                                   const GValue *value, GError **error);

G_END_DECLS
