/* nic_encode_options_init of symbol version LIBNIC_0, for programs built against the first
 * layout of NicEncodeOptions: it fills that layout's fields with the current defaults and
 * writes nothing past them (the current init, version LIBNIC_0.3, fills the whole struct). */
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
