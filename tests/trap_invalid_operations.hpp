#ifndef SGPTE_TESTS_TRAP_INVALID_OPERATIONS_HPP
#define SGPTE_TESTS_TRAP_INVALID_OPERATIONS_HPP

// Boost.Test masks every floating-point trap around each test unit it runs, so a trap set
// once in main() would be lost. Test suites declared with
//   BOOST_FIXTURE_TEST_SUITE(Name, sgpte_test::TrapInvalidOperations)
// turn the invalid-operation trap on inside each of their test cases: any NaN created by
// arithmetic (0/0, ∞ − ∞, sqrt of a negative) then stops the test with SIGFPE instead of
// flowing silently into a comparison. Quiet checks (std::isnan, isfinite) do not trap.

#include <cfenv>

namespace sgpte_test
{

struct TrapInvalidOperations
{
  TrapInvalidOperations() { feenableexcept(FE_INVALID); }
  ~TrapInvalidOperations() { fedisableexcept(FE_INVALID); }
  TrapInvalidOperations(TrapInvalidOperations const &) = delete;
  TrapInvalidOperations &operator=(TrapInvalidOperations const &) = delete;
};

} // namespace sgpte_test

#endif
