/* text-fixtures.h: locating and reading the shared fixtures in the text tests. */
#pragma once

#include <json-glib/json-glib.h>

/* A path below $VLM_SHARED_DIR (asserts it is set). */
char     *text_fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* $VLM_SHARED_DIR/fixtures/FILE parsed (asserts it loads). */
JsonNode *text_fixture_json (const char *file);
