// START_OR_SKIP(server): in a test body, after starting a Sluiced, skips the test when the
// kernel refused io_uring (a container without it) and fails it, with the server's output,
// when the server did not come up.
#ifndef SLUICE_TESTS_E2E_START_OR_SKIP_H_
#define SLUICE_TESTS_E2E_START_OR_SKIP_H_

#include <gtest/gtest.h>

#define START_OR_SKIP(server)                                                   \
  do {                                                                          \
    if ((server).io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring"; \
    ASSERT_TRUE((server).ok()) << (server).output();                            \
  } while (0)

#endif  // SLUICE_TESTS_E2E_START_OR_SKIP_H_
