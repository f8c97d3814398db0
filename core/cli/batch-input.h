/* batch-input.h: `batch` requests: one JSONL line each, parsed and their images decoded
 * on a prefetch thread while the model answers the previous ones. */
#pragma once

#include <vlm/vlm.h>

typedef struct {
  guint line;               /* 1-based line number in the input */
  char *key;                /* what --resume matches: the id as JSON, or "line:N" without one */
  JsonNode *id;             /* the request's id (a JSON null when it has none) */
  char *prompt;
  GStrv images;             /* resolved paths */
  VlmGenerateParams *params;
  GError *error;            /* a broken line or an unreadable image: answered without the model */
} BatchRequest;

void batch_request_free (BatchRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BatchRequest, batch_request_free)

BatchRequest *batch_request_parse (const char *text, guint line, const char *base_dir,
                                   VlmGenerateParams *defaults);
char *batch_key_for_result (const char *result_line);

typedef struct _BatchPrefetch BatchPrefetch;

BatchPrefetch *batch_prefetch_start (GStrv lines, const char *base_dir, GHashTable *skip,
                                     VlmGenerateParams *defaults, guint depth);
BatchRequest  *batch_prefetch_next (BatchPrefetch *prefetch);
void           batch_prefetch_done (BatchPrefetch *prefetch);
void           batch_prefetch_free (BatchPrefetch *prefetch);
