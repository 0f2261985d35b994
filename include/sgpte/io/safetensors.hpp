#ifndef SGPTE_IO_SAFETENSORS_HPP
#define SGPTE_IO_SAFETENSORS_HPP

// Reading and writing safetensors checkpoints: SafetensorsReader (validating, mmap-based)
// and SafetensorsWriter (standard layout, atomic replacement of the target).

#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>

#endif
