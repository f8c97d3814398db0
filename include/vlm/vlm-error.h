/* vlm-error.h: the error domain shared by the library, plugins and the CLI. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * VLM_ERROR:
 *
 * Error domain of vlm-pipeline. Every failure carries a message naming the
 * file, node, tensor or line it concerns.
 */
#define VLM_ERROR (vlm_error_quark ())

/**
 * VlmError:
 * @VLM_ERROR_FAILED: a runtime failure that fits no other code
 * @VLM_ERROR_IO: a file could not be read or written
 * @VLM_ERROR_FORMAT: a file's content is malformed (JSON, image, safetensors, tokenizer)
 * @VLM_ERROR_INVALID: a pipeline or argument is invalid (the CLI exits 2)
 * @VLM_ERROR_NOT_FOUND: a named thing (element, tensor, model, property) does not exist
 * @VLM_ERROR_UNSUPPORTED: a valid input that this build cannot handle
 * @VLM_ERROR_PLUGIN: a plugin could not be loaded or initialised
 * @VLM_ERROR_LIMIT: an input exceeds a configured limit (image pixels, sizes)
 * @VLM_ERROR_CANCELLED: the operation was cancelled
 *
 * Error codes in the %VLM_ERROR domain.
 */
typedef enum {
  VLM_ERROR_FAILED,
  VLM_ERROR_IO,
  VLM_ERROR_FORMAT,
  VLM_ERROR_INVALID,
  VLM_ERROR_NOT_FOUND,
  VLM_ERROR_UNSUPPORTED,
  VLM_ERROR_PLUGIN,
  VLM_ERROR_LIMIT,
  VLM_ERROR_CANCELLED,
} VlmError;

GQuark vlm_error_quark (void);

G_END_DECLS
