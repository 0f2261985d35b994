#ifndef SGPTE_CORE_ERROR_HPP
#define SGPTE_CORE_ERROR_HPP

#include <stdexcept>
#include <string>

namespace sgpte
{

// Every failure sgpte reports is one of these, with a message that names the offending
// option, layer or file, so a driver can print it as the single line a user sees.
class Error : public std::runtime_error
{
public:
  using std::runtime_error::runtime_error;
};

// An option, an option combination or an argument's shape is invalid; raised before any
// work starts.
class InvalidArgument : public Error
{
public:
  using Error::Error;
};

// The numbers cannot be processed: NaN/Inf in weights or activations, or a Hessian that
// stays indefinite after the damping retries.
class NumericalError : public Error
{
public:
  using Error::Error;
};

// A file cannot be read or written, or its contents are malformed.
class FileError : public Error
{
public:
  using Error::Error;
};

} // namespace sgpte

#endif
