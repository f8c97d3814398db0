/* processor-test-util.h: model folders, processor pipelines and pixel/ids
 * comparisons for the processor element tests. Expected values are read from
 * /work/shared-style fixtures ($VLM_SHARED_DIR) at run time. */
#pragma once

#include <json-glib/json-glib.h>
#include <vlm/vlm.h>

/* Path under $VLM_SHARED_DIR/fixtures (g_free it). */
char        *fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Root object of a JSON file; the parser owns it. */
JsonObject  *fixture_object (JsonParser *parser, const char *path);
VlmTensor   *fixture_tensor (const char *path, const char *name);

/* A temporary model folder: the processor settings of @settings_dir
 * (preprocessor_config.json, processor_config.json) beside config.json and the
 * tokenizer files of @tokenizer_dir (symbolic links). */
char        *model_dir_new (const char *settings_dir, const char *tokenizer_dir);
void         model_dir_remove (char *dir);

/* image-loader -> @element (model @model, text @prompt), with the element's
 * @properties (a JSON object text, or NULL). */
VlmPipeline *processor_pipeline (const char *model, const char *element, const char *properties);
/* Runs it on one image (or none) and a prompt, asserting success. */
void         processor_run (VlmPipeline *p, const char *image, const char *prompt);
/* Output "proc.<port>", asserting it is a tensor. */
VlmTensor   *processor_output (VlmPipeline *p, const char *port);
const char  *processor_output_string (VlmPipeline *p, const char *port);

/* Asserts that @actual (float values) is within one uint8 level of @expected
 * on 99.9% of values, in level units (value * std / rescale): the value at
 * flat index i belongs to channel (i / plane) % 3. @expected may be F16/F32. */
void         assert_pixels_levels (VlmTensor *actual, VlmTensor *expected, gsize plane,
                                   const float mean[3], const float std[3], double rescale,
                                   const char *what);
/* Same, against uint8 levels: @u8 is [n, H, W, 3] sampled at every @stride-th
 * row and column of @actual's [n, 3, H*stride', W*stride'] images. */
void         assert_pixels_u8 (VlmTensor *actual, VlmTensor *u8, int stride, const float mean[3],
                               const float std[3], double rescale, const char *what);
/* Asserts equal shapes, naming both. */
void         assert_same_shape (VlmTensor *actual, VlmTensor *expected, const char *what);
void         assert_ids_equal (VlmTensor *actual, VlmTensor *expected, const char *what);
/* I64 [1, n] from a JSON array of integers. */
VlmTensor   *ids_from_json (JsonArray *array);
/* Mean and std of a preprocessor_config.json. */
void         settings_mean_std (const char *settings_dir, float mean[3], float std[3]);
