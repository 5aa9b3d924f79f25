// oneDNN's C API plus the OpenMP call that sets the calling thread's team size
// (Debian's libdnnl uses the OpenMP runtime; a per-thread ICV lets contexts differ).
#ifndef NIC_CDNNL_SHIM_H
#define NIC_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);

/// DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx) is a function-like macro Swift cannot import.
static inline int nic_dnnl_arg_post_op(int index) { return DNNL_ARG_ATTR_MULTIPLE_POST_OP(index); }

#endif
