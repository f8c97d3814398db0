/* vlm-pipeline-private.h: the parsed form of a pipeline, shared by parsing and running. */
#pragma once

#include "vlm/vlm-pipeline.h"
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Reserved link sources that carry the pipeline's own inputs. */
#define VLM_SOURCE_PROMPT "@prompt"
#define VLM_SOURCE_SYSTEM "@system"
#define VLM_SOURCE_IMAGES "@images"
#define VLM_SOURCE_MODEL "@model"

typedef struct {
  char *port;        /* input port of the consuming node */
  char *source;      /* producing node id, or a reserved @source */
  char *source_port; /* NULL for reserved sources */
} VlmLink;

typedef struct {
  char *id;
  char *factory;
  VlmElement *element;
  GPtrArray *links; /* VlmLink* */
} VlmNode;

typedef struct {
  char *name;
  char *model;       /* resolved folder, or NULL */
  char *prompt;
  char *system;
  GStrv images;      /* resolved paths */
  GPtrArray *nodes;  /* VlmNode*, in topological order after validation */
  GStrv disabled_patches;
  GStrv enabled_patches;
} VlmPipelineDesc;

VlmPipelineDesc *vlm_pipeline_desc_parse (const char *data, gssize length, const char *source_name,
                                          const char *base_dir, GError **error);
void vlm_pipeline_desc_free (VlmPipelineDesc *desc);
GType vlm_pipeline_source_type (const char *source);
char *vlm_pipeline_read_model_type (const char *model_dir, GError **error);

G_END_DECLS
