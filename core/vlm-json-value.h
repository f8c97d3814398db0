/* vlm-json-value.h: JSON and command-line strings to GObject property values and back. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

gboolean  vlm_json_to_gvalue (JsonNode *node, GParamSpec *pspec, GValue *out, GError **error);
gboolean  vlm_string_to_gvalue (const char *text, GParamSpec *pspec, GValue *out, GError **error);
JsonNode *vlm_gvalue_to_json (const GValue *value);
char     *vlm_gvalue_describe (const GValue *value);

G_END_DECLS
