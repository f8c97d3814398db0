/* test-elements.h: a static plugin of tiny elements for pipeline tests. */
#pragma once

#include <vlm/vlm.h>

gboolean test_elements_register (GError **error);

/* How often test-source's prepare ran. */
extern guint test_source_prepare_calls;
