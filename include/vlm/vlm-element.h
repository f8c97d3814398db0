/* vlm-element.h: the base class of every pipeline stage. */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-tensor-set.h>

G_BEGIN_DECLS

/**
 * VlmElementKind:
 * @VLM_ELEMENT_KIND_OTHER: anything else (tensor tools, tokenizers, templates)
 * @VLM_ELEMENT_KIND_IMAGE_LOADER: reads image files into U8 tensors
 * @VLM_ELEMENT_KIND_PROCESSOR: turns images and text into model inputs
 * @VLM_ELEMENT_KIND_TOKENIZER: text to token ids and back
 * @VLM_ELEMENT_KIND_VISION_TOWER: pixels to image features
 * @VLM_ELEMENT_KIND_PROJECTOR: image features to text-embedding space
 * @VLM_ELEMENT_KIND_DECODER: the language model
 * @VLM_ELEMENT_KIND_SAMPLER: picks the next token from logits
 * @VLM_ELEMENT_KIND_SINK: writes results out
 *
 * What an element is for; `vlm-pipeline inspect` groups by it.
 */
typedef enum {
  VLM_ELEMENT_KIND_OTHER,
  VLM_ELEMENT_KIND_IMAGE_LOADER,
  VLM_ELEMENT_KIND_PROCESSOR,
  VLM_ELEMENT_KIND_TOKENIZER,
  VLM_ELEMENT_KIND_VISION_TOWER,
  VLM_ELEMENT_KIND_PROJECTOR,
  VLM_ELEMENT_KIND_DECODER,
  VLM_ELEMENT_KIND_SAMPLER,
  VLM_ELEMENT_KIND_SINK,
} VlmElementKind;

GType vlm_element_kind_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_ELEMENT_KIND (vlm_element_kind_get_type ())
const char *vlm_element_kind_to_string (VlmElementKind kind);

/**
 * VlmPortDirection:
 * @VLM_PORT_INPUT: the element consumes the value
 * @VLM_PORT_OUTPUT: the element produces the value
 */
typedef enum {
  VLM_PORT_INPUT,
  VLM_PORT_OUTPUT,
} VlmPortDirection;

/**
 * VlmPortFlags:
 * @VLM_PORT_FLAG_NONE: no flags: an input must be connected
 * @VLM_PORT_FLAG_OPTIONAL: an input that may stay unconnected
 */
typedef enum {
  VLM_PORT_FLAG_NONE = 0,
  VLM_PORT_FLAG_OPTIONAL = 1 << 0,
} VlmPortFlags;

/**
 * VlmPortSpec:
 * @name: the port name, unique per direction
 * @direction: input or output
 * @value_type: the #GType of the values it carries (#VlmTensor, #VlmTensorSet,
 *   a string, a #GObject subclass...)
 * @flags: #VlmPortFlags
 * @description: one line for `inspect`
 *
 * A typed port declared by an element class, like a GStreamer pad template.
 * A link is valid when the output's type is the input's type or derives from it.
 */
typedef struct {
  const char *name;
  VlmPortDirection direction;
  GType value_type;
  VlmPortFlags flags;
  const char *description;
} VlmPortSpec;

#define VLM_TYPE_ELEMENT (vlm_element_get_type ())
G_DECLARE_DERIVABLE_TYPE (VlmElement, vlm_element, VLM, ELEMENT, GObject)

typedef struct _VlmPipeline VlmPipeline;

/**
 * VlmElementClass:
 * @parent_class: the parent class
 * @process: consumes the inputs (vlm_element_get_input()) and produces every
 *   output (vlm_element_set_output()); returns %FALSE with @error set on failure
 * @prepare: optional; loads what the element needs (weights, tokenizers) from
 *   its inputs and keeps it across runs. It is called before every @process (by
 *   vlm_element_process()) and by vlm_pipeline_prepare(), which times loading
 *   apart from running and sets only the inputs linked to pipeline values
 *   (`@model`, `@prompt`, ...); so it must return at once when what it loaded
 *   still matches its inputs, and load again when they changed (another model
 *   folder). #VlmModelElement implements it for elements that read a model folder.
 *
 * Subclasses declare metadata and ports in class_init with
 * vlm_element_class_set_metadata() and vlm_element_class_add_port(), and their
 * settings as GObject properties (with nicks, blurbs, ranges and defaults:
 * `inspect` and pipeline validation read them).
 */
struct _VlmElementClass {
  GObjectClass parent_class;

  gboolean (*process) (VlmElement *self, GError **error);
  gboolean (*prepare) (VlmElement *self, GError **error);

  /*< private >*/
  gpointer padding[7];
};

void         vlm_element_class_set_metadata (VlmElementClass *klass, VlmElementKind kind,
                                             const char *long_name, const char *description);
void         vlm_element_class_add_port (VlmElementClass *klass, const char *name,
                                         VlmPortDirection direction, GType value_type,
                                         VlmPortFlags flags, const char *description);
VlmElementKind vlm_element_class_get_kind (VlmElementClass *klass);
const char  *vlm_element_class_get_long_name (VlmElementClass *klass);
const char  *vlm_element_class_get_description (VlmElementClass *klass);
GPtrArray   *vlm_element_class_list_ports (VlmElementClass *klass, VlmPortDirection direction);
const VlmPortSpec *vlm_element_class_find_port (VlmElementClass *klass, const char *name,
                                                VlmPortDirection direction);

const char  *vlm_element_get_id (VlmElement *self);
void         vlm_element_set_id (VlmElement *self, const char *id);
VlmPipeline *vlm_element_get_pipeline (VlmElement *self);
void         vlm_element_set_pipeline (VlmElement *self, VlmPipeline *pipeline);

const GValue *vlm_element_get_input (VlmElement *self, const char *port);
void         vlm_element_set_input (VlmElement *self, const char *port, const GValue *value);
gboolean     vlm_element_has_input (VlmElement *self, const char *port);
VlmTensor   *vlm_element_get_input_tensor (VlmElement *self, const char *port);
VlmTensorSet *vlm_element_get_input_tensor_set (VlmElement *self, const char *port);
const char  *vlm_element_get_input_string (VlmElement *self, const char *port);
gpointer     vlm_element_get_input_object (VlmElement *self, const char *port);
VlmTensor   *vlm_element_get_input_f32 (VlmElement *self, const char *port, guint ndim,
                                        const char *leading, gint64 last_dim, GError **error);

const GValue *vlm_element_get_output (VlmElement *self, const char *port);
void         vlm_element_set_output (VlmElement *self, const char *port, const GValue *value);
void         vlm_element_set_output_tensor (VlmElement *self, const char *port, VlmTensor *tensor);
void         vlm_element_set_output_tensor_set (VlmElement *self, const char *port, VlmTensorSet *set);
void         vlm_element_set_output_string (VlmElement *self, const char *port, const char *text);
void         vlm_element_set_output_object (VlmElement *self, const char *port, gpointer object);
void         vlm_element_clear_values (VlmElement *self);

gboolean     vlm_element_process (VlmElement *self, GError **error);
gboolean     vlm_element_prepare (VlmElement *self, GError **error);
double       vlm_element_get_elapsed_ms (VlmElement *self);
void         vlm_element_emit_text (VlmElement *self, const char *text);

G_END_DECLS
