// Custom Boost.Test main: initialises Kokkos once for all test cases (and MPI before it in
// the tests that run as several processes, compiled with SGPTE_TEST_MAIN_INITIALISES_MPI).
// Invalid floating-point operations are trapped per test case by the fixture of
// trap_invalid_operations.hpp (Boost.Test resets the traps around each test unit).

#include <Kokkos_Core.hpp>
#if defined(SGPTE_TEST_MAIN_INITIALISES_MPI)
#include <mpi.h>
#endif

#define BOOST_TEST_NO_MAIN
#if defined(SGPTE_BOOST_TEST_HEADER_ONLY)
#include <boost/test/included/unit_test.hpp>
#else
#include <boost/test/unit_test.hpp>
#endif

namespace
{

struct KokkosScopeGuard
{
  KokkosScopeGuard(int &argc, char **&argv)
  {
#if defined(SGPTE_TEST_MAIN_INITIALISES_MPI)
    MPI_Init(&argc, &argv);
#endif
    Kokkos::initialize(argc, argv);
  }
  ~KokkosScopeGuard()
  {
    Kokkos::finalize();
#if defined(SGPTE_TEST_MAIN_INITIALISES_MPI)
    MPI_Finalize();
#endif
  }
  KokkosScopeGuard(KokkosScopeGuard const &) = delete;
  KokkosScopeGuard &operator=(KokkosScopeGuard const &) = delete;
};

// The shared-library Boost.Test takes a bool() initialiser, the static and header-only
// variants a test_suite *(int, char **) one.
#if defined(BOOST_TEST_DYN_LINK)
bool init_unit_test() { return true; }
#else
boost::unit_test::test_suite *init_unit_test(int, char *[]) { return nullptr; }
#endif

} // namespace

int main(int argc, char *argv[])
{
  KokkosScopeGuard guard(argc, argv);
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
