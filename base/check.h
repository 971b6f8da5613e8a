// Invariant checks: a failed check is a bug in StructKV, never a user error,
// so it aborts with file and line (user errors are Status values).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SKV_CHECK(cond)                                                  \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                               \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

#ifdef NDEBUG
#define SKV_DCHECK(cond) \
  do {                   \
  } while (0)
#else
#define SKV_DCHECK(cond) SKV_CHECK(cond)
#endif
