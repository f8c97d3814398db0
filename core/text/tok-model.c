/* tok-model.c: picks the model implementation named by tokenizer.json's model.type. */
#include "text/tok-private.h"

#include "vlm/vlm-error.h"

#include <string.h>

TokModel *
tok_model_new (TjNode *node, const char *where, GError **error)
{
  if (!tj_is (node, TJ_OBJECT)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: missing \"model\" object", where);
    return NULL;
  }
  /* Older files omit the type for BPE; WordPiece and Unigram slot in here. */
  const char *type = tj_get_string (node, "type");
  if (!type && tj_get (node, "merges")) type = "BPE";
  if (type && strcmp (type, "BPE") == 0) return tok_bpe_new (node, where, error);
  g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "%s: unsupported model type \"%s\"", where,
               type ? type : "(none)");
  return NULL;
}

void
tok_model_free (TokModel *m)
{
  if (m) m->klass->free (m);
}
