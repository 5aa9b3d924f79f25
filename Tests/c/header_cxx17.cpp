// nic.h must compile as C++17 with every warning as an error.
#include <nic.h>

int main() {
    NicConfig config{};
    nic_config_init(&config);
    NicContext *context = nullptr;
    NicStatus status = nic_context_create(&config, &context);
    nic_context_destroy(context);
    return status == NIC_OK ? 0 : 1;
}
