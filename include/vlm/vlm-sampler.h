/* vlm-sampler.h: picks the next token from logits (greedy or sampled, seeded). */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VLM_TYPE_SAMPLER (vlm_sampler_get_type ())
G_DECLARE_FINAL_TYPE (VlmSampler, vlm_sampler, VLM, SAMPLER, GObject)

VlmSampler *vlm_sampler_new (void);
VlmSampler *vlm_sampler_new_for_generation (VlmSampler *user, JsonObject *generation_config);
gboolean    vlm_sampler_is_greedy (VlmSampler *self);
void        vlm_sampler_reset (VlmSampler *self);
gint64      vlm_sampler_sample (VlmSampler *self, float *logits, gint64 n_vocab,
                                const gint64 *context, gsize n_context);

G_END_DECLS
