# Runs sgpte-layer on a hostile input written by sgpte-make-hostile-case and requires a
# clean refusal: exit status 1, one error naming the layer (the input's stem) and the
# problem, and no output file. Variables: LAYER, MAKE (the programs), KIND, FRAGMENT,
# DIRECTORY.
set(input ${DIRECTORY}/${KIND}.safetensors)
set(output ${DIRECTORY}/${KIND}.out.safetensors)
file(REMOVE ${output})
execute_process(COMMAND ${MAKE} ${KIND} ${input} RESULT_VARIABLE made)
if(NOT made EQUAL 0)
  message(FATAL_ERROR "sgpte-make-hostile-case ${KIND} failed")
endif()
execute_process(COMMAND ${LAYER} ${input} ${output}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE errors)
if(NOT status EQUAL 1)
  message(FATAL_ERROR "sgpte-layer exited with ${status}, expected 1:\n${out}${errors}")
endif()
string(FIND "${errors}" "layer '${KIND}'" names_layer)
string(FIND "${errors}" "${FRAGMENT}" names_problem)
if(names_layer EQUAL -1 OR names_problem EQUAL -1)
  message(FATAL_ERROR "the error does not name layer '${KIND}' and \"${FRAGMENT}\":\n${errors}")
endif()
file(GLOB leftovers ${DIRECTORY}/${KIND}.out.safetensors*)
if(leftovers)
  message(FATAL_ERROR "a refused run left files behind: ${leftovers}")
endif()
