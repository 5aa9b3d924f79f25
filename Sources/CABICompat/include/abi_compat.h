/* Entry points kept for programs built against earlier layouts of nic.h's option structs.
 * They are exported under the symbol version of that layout only (see libnic.map); nothing
 * here is part of the public header. */
#ifndef NIC_ABI_COMPAT_H
#define NIC_ABI_COMPAT_H

#include <stddef.h>

/* NicEncodeOptions as libnic 0.2 laid it out (16 bytes on LP64). */
typedef struct NicEncodeOptionsV0 {
    size_t struct_size;
    int quality;
    int refine_steps;
} NicEncodeOptionsV0;

void nic_encode_options_init_v0(NicEncodeOptionsV0 *options);

/* NicConfig as libnic 0.2 laid it out (48 bytes on LP64): up to generic_ai_fallback. */
typedef struct NicConfigV0 {
    size_t struct_size;
    int threads;
    const char *model_dir;
    void (*log_callback)(void *user_data, int level, const char *message);
    void *log_user_data;
    int log_level;
    int generic_ai_fallback;
} NicConfigV0;

void nic_config_init_v0(NicConfigV0 *config);

#endif
