/* weight-binder.h: bind a checkpoint's tensors to the names a model declares.
 *
 * A model element opens the checkpoint once (VlmWeights), then declares what it
 * needs in a request and finishes it: either every declaration is bound, or one
 * error lists every missing, wrongly shaped and unexpected tensor.
 *
 *   g_autoptr (VlmWeights) w = vlm_weights_open (dir, pipeline, error);
 *   const char *const aliases[] = { "model.language_model.", "language_model.model.",
 *                                   "language_model.", NULL };
 *   g_autoptr (VlmWeightRequest) r = vlm_weight_request_new (w, "model.text_model.", aliases);
 *   vlm_weight_request_embedding (r, "embed_tokens", vocab, hidden, 0, &embed);
 *   vlm_weight_request_linear (r, "layers.0.self_attn.q_proj", hidden, hidden, 0, &q);
 *   vlm_weight_request_tensor (r, "norm.weight", 1, (gint64[]) { hidden }, 0, &norm);
 *   vlm_weight_request_linear (r, "lm_head|/lm_head|/language_model.lm_head", vocab, hidden,
 *                              VLM_WEIGHT_NO_BIAS | (tied ? VLM_WEIGHT_OPTIONAL : 0), &head);
 *   if (!vlm_weight_request_finish (r, error)) ...
 *
 * Names: relative to the request's prefix; `a|b` lists alternatives tried in
 * order; an alternative starting with `/` is a full checkpoint name.
 */
#pragma once

#include "compute/linear.h"
#include "vlm/vlm-model-dir.h"
#include "vlm/vlm-pipeline.h"

G_BEGIN_DECLS

/* A checkpoint after the `weights` patches: refcounted, shareable by every
 * element that binds from the same model folder. */
typedef struct _VlmWeights VlmWeights;

VlmWeights   *vlm_weights_open (VlmModelDir *dir, VlmPipeline *pipeline, GError **error);
VlmWeights   *vlm_weights_ref (VlmWeights *weights);
void          vlm_weights_unref (VlmWeights *weights);
gboolean      vlm_weights_is_mlx_layout (VlmWeights *weights);
VlmTensorSet *vlm_weights_get_tensors (VlmWeights *weights);
const char   *vlm_weights_get_path (VlmWeights *weights);
gboolean      vlm_weights_get_module_quantization (VlmWeights *weights, const char *module,
                                                   int *bits, int *group_size);

typedef enum {
  VLM_WEIGHT_OPTIONAL = 1 << 0, /* absent is fine: the destination stays empty (NULL data) */
  VLM_WEIGHT_BIAS = 1 << 1,     /* linear: `.bias` is required (default: bound when present) */
  VLM_WEIGHT_NO_BIAS = 1 << 2,  /* linear: the module has no `.bias` (one present is unexpected) */
  VLM_WEIGHT_CONV = 1 << 3,     /* tensor: a conv kernel declared [O, I, k...] (HF order);
                                 * mlx layout stores [O, k..., I] and is transposed */
} VlmWeightFlags;

typedef struct _VlmWeightRequest VlmWeightRequest;

VlmWeightRequest *vlm_weight_request_new (VlmWeights *weights, const char *prefix,
                                          const char *const *aliases);
void        vlm_weight_request_set_strict (VlmWeightRequest *request, gboolean strict);
void        vlm_weight_request_linear (VlmWeightRequest *request, const char *module,
                                       gint64 out, gint64 in, guint flags, VlmLinear *dest);
void        vlm_weight_request_embedding (VlmWeightRequest *request, const char *module,
                                          gint64 rows, gint64 dim, guint flags, VlmLinear *dest);
void        vlm_weight_request_tensor (VlmWeightRequest *request, const char *name, guint ndim,
                                       const gint64 *shape, guint flags, VlmTensor **dest);
gboolean    vlm_weight_request_finish (VlmWeightRequest *request, GError **error);
const char *vlm_weight_request_get_prefix (VlmWeightRequest *request);
const char *vlm_weight_request_resolved (VlmWeightRequest *request, const char *name);
void        vlm_weight_request_free (VlmWeightRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmWeights, vlm_weights_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmWeightRequest, vlm_weight_request_free)

G_END_DECLS
