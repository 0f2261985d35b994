# The programs end to end: sgpte-layer --save-packed on a reference case, then sgpte-unpack
# on the packed file. The packed file must have the size the statistics JSON reports, and
# the unpacked W_out must equal sgpte-layer's W_out byte for byte.
#   cmake -DLAYER=sgpte-layer -DUNPACK=sgpte-unpack -DCASE=case.safetensors -DWORK=dir -P run_unpack_cli.cmake

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${status}):\n${output}${errors}")
  endif()
endfunction()

# The bytes of tensor `name` of a safetensors file, as hex.
function(tensor_hex file name result)
  file(READ ${file} length_hex LIMIT 8 HEX)
  string(REGEX MATCHALL ".." bytes "${length_hex}")
  list(REVERSE bytes) # little-endian
  string(JOIN "" length_hex ${bytes})
  math(EXPR length "0x${length_hex}")
  file(READ ${file} header OFFSET 8 LIMIT ${length})
  string(JSON begin GET "${header}" ${name} data_offsets 0)
  string(JSON end GET "${header}" ${name} data_offsets 1)
  math(EXPR offset "8 + ${length} + ${begin}")
  math(EXPR size "${end} - ${begin}")
  file(READ ${file} data OFFSET ${offset} LIMIT ${size} HEX)
  set(${result} "${data}" PARENT_SCOPE)
endfunction()

file(MAKE_DIRECTORY ${WORK})
get_filename_component(name ${CASE} NAME_WE)
set(packed ${WORK}/${name}.packed.safetensors)
run(${LAYER} --config-from-metadata --save-packed ${packed} --stats-json ${WORK}/${name}.json ${CASE}
  ${WORK}/${name}.out.safetensors)
run(${UNPACK} ${packed} ${WORK}/${name}.unpacked.safetensors)

file(READ ${WORK}/${name}.json statistics)
string(JSON reported GET "${statistics}" size_after_bytes)
file(SIZE ${packed} on_disk)
if(NOT reported EQUAL on_disk)
  message(FATAL_ERROR "the statistics report ${reported} packed bytes, the file has ${on_disk}")
endif()
tensor_hex(${WORK}/${name}.out.safetensors W_out compressed)
tensor_hex(${WORK}/${name}.unpacked.safetensors W_out unpacked)
if(NOT compressed STREQUAL unpacked)
  message(FATAL_ERROR "the unpacked W_out differs from sgpte-layer's W_out")
endif()
message(STATUS "${name}: ${on_disk} packed bytes, W_out identical")
