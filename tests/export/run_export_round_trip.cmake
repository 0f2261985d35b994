# sgpte-opt --export on the tiny model beside its compressed checkpoint (--output), then the
# reference unpacker on the export, then the comparison of the unpacked weights with the
# checkpoint's (tools/export/compare_dense.py; RELATIVE 0: bit for bit).
#   cmake -DOPT=sgpte-opt -DPYTHON=python3 -DSOURCE_DIR=repo -DWORK=dir -DFORMAT=gptq
#         -DRELATIVE=0 -DOPTIONS=--wbits,4 -P run_export_round_trip.cmake

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${status}):\n${output}${errors}")
  endif()
  message(STATUS "${output}")
endfunction()

string(REPLACE "," ";" OPTIONS "${OPTIONS}")
file(REMOVE_RECURSE ${WORK})
run(${OPT} ${SOURCE_DIR}/models/tiny-opt --calibration ${SOURCE_DIR}/models/data/calibration.bin
  --nsamples 4 ${OPTIONS} --output ${WORK}/compressed --export ${FORMAT} ${WORK}/export)
run(${PYTHON} ${SOURCE_DIR}/tools/export/unpack_export.py ${WORK}/export ${WORK}/unpacked)
run(${PYTHON} ${SOURCE_DIR}/tools/export/compare_dense.py ${WORK}/compressed/model.safetensors
  ${WORK}/unpacked/model.safetensors --relative ${RELATIVE})
