/* vlm-error.c: the VLM_ERROR domain. */
#include "vlm/vlm-error.h"

G_DEFINE_QUARK (vlm-error-quark, vlm_error)
