/* model-test-util.h: fixture access and tensor comparison for end-to-end model tests. */
#pragma once

#include <vlm/vlm.h>
#include <json-glib/json-glib.h>

char      *fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
JsonNode  *fixture_json (const char *path);
VlmTensor *golden_tensor (VlmSafetensors *golden, const char *name);
double     rel_l2 (VlmTensor *actual, VlmTensor *expected);
void       assert_close (VlmTensor *actual, VlmTensor *expected, double tolerance, const char *what);
void       assert_ids_equal (VlmTensor *actual, VlmTensor *expected, const char *what);
VlmTensor *pipeline_output (VlmPipeline *pipeline, const char *port);
VlmPipeline *arch_case_pipeline (const char *dir, JsonObject *c);
VlmPipeline *arch_fixture_run (const char *name, VlmSafetensors **golden);
void       test_arch_fixture (gconstpointer name);
