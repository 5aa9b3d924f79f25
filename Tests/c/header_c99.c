/* nic.h must compile as strict C99 with every warning as an error. */
#include <nic.h>

int main(void) {
    NicConfig config;
    NicImage image;
    nic_config_init(&config);
    nic_image_init(&image);
    return (int)config.struct_size - (int)sizeof config + (int)image.struct_size - (int)sizeof image;
}
