/* vlm.h: the one header applications and plugins include. */
#pragma once

#include <vlm/vlm-version.h>
#include <vlm/vlm-error.h>
#include <vlm/vlm-tensor.h>
#include <vlm/vlm-tensor-set.h>
#include <vlm/vlm-image.h>
#include <vlm/vlm-tokenizer.h>
#include <vlm/vlm-sampler.h>
#include <vlm/vlm-chat-template.h>
#include <vlm/vlm-safetensors.h>
#include <vlm/vlm-model-dir.h>
#include <vlm/vlm-patch.h>
#include <vlm/vlm-element.h>
#include <vlm/vlm-model-element.h>
#include <vlm/vlm-plugin.h>
#include <vlm/vlm-registry.h>
#include <vlm/vlm-pipeline.h>
#include <vlm/vlm-result.h>
#include <vlm/vlm-generate-params.h>
#include <vlm/vlm-model.h>
