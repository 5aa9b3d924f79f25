/* The init functions of symbol version LIBNIC_0, for programs built against the first layouts
 * of NicEncodeOptions and NicConfig: each fills that layout's fields with the current defaults
 * and writes nothing past them (the current inits, version LIBNIC_0.3, fill the whole struct). */
#include "abi_compat.h"

#include "../../include/nic.h"

void nic_encode_options_init_v0(NicEncodeOptionsV0 *options) {
    if (!options) return;
    NicEncodeOptions defaults;
    nic_encode_options_init(&defaults);
    options->struct_size = sizeof *options;
    options->quality = defaults.quality;
    options->refine_steps = defaults.refine_steps;
}

__asm__(".symver nic_encode_options_init_v0, nic_encode_options_init@LIBNIC_0");

void nic_config_init_v0(NicConfigV0 *config) {
    if (!config) return;
    NicConfig defaults;
    nic_config_init(&defaults);
    config->struct_size = sizeof *config;
    config->threads = defaults.threads;
    config->model_dir = defaults.model_dir;
    config->log_callback = NULL;
    config->log_user_data = defaults.log_user_data;
    config->log_level = (int)defaults.log_level;
    config->generic_ai_fallback = defaults.generic_ai_fallback;
}

__asm__(".symver nic_config_init_v0, nic_config_init@LIBNIC_0");
