/* safetensors-header.h: strict parser for the JSON header of a .safetensors file. */
#pragma once

#include "vlm/vlm-tensor.h"

G_BEGIN_DECLS

/* Headers above this size are rejected before any allocation. */
#define VLM_ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct {
  char *name;
  VlmDType dtype;
  guint ndim;
  gint64 shape[VLM_TENSOR_MAX_DIMS];
  guint64 begin; /* byte range within the data area */
  guint64 end;
} VlmStEntry;

typedef struct {
  GPtrArray *entries;     /* VlmStEntry*, in header order */
  GHashTable *metadata;   /* char* -> char*, from "__metadata__" */
} VlmStHeader;

gboolean vlm_st_header_parse (const char *json, gsize len, guint64 data_size,
                              const char *file, VlmStHeader *out, GError **error);
gboolean vlm_st_parse_file_bytes (const guint8 *bytes, gsize size, const char *file,
                                  VlmStHeader *out, guint64 *data_start, GError **error);
void     vlm_st_header_clear (VlmStHeader *hdr);

G_END_DECLS
