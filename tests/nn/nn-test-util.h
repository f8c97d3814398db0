/* nn-test-util.h: fixture access and comparisons shared by the nn tests. */
#pragma once

#include <vlm/vlm.h>

#include "nn/decoder.h"

char       *nn_fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
VlmTensor  *nn_golden (const char *arch, const char *name);
VlmDecoder *nn_load_decoder (const char *arch);
double      nn_rel_l2 (const float *got, const float *want, gint64 n);
VlmElement *nn_make_decoder (const char *arch, VlmTensor *input_ids, VlmTensor *image_features);
void        nn_set_tensor_input (VlmElement *e, const char *port, VlmTensor *t);
