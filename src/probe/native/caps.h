/* What a step refused with EPERM needs, said against the capabilities this process holds. */
#ifndef SS_CAPS_H
#define SS_CAPS_H

#include <stddef.h>

/*
 * "needs CAP_A, CAP_B; missing CAP_B" for the capabilities (numbers from linux/capability.h) a
 * step needs, or, when every one is held, that something else refused it.
 */
const char *ss_caps_hint(const int *caps, size_t n);

#endif
