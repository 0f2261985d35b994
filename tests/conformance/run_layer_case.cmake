# Runs sgpte-layer --config-from-metadata on one reference case and checks its output
# with sgpte-compare-case. Variables: LAYER, COMPARE, CASE, OUTPUT.
execute_process(COMMAND ${LAYER} --config-from-metadata ${CASE} ${OUTPUT} RESULT_VARIABLE layer_status
  OUTPUT_QUIET)
if(NOT layer_status EQUAL 0)
  message(FATAL_ERROR "sgpte-layer failed on ${CASE} (status ${layer_status})")
endif()
execute_process(COMMAND ${COMPARE} ${CASE} ${OUTPUT} RESULT_VARIABLE compare_status)
if(NOT compare_status EQUAL 0)
  message(FATAL_ERROR "sgpte-layer's output does not conform on ${CASE}")
endif()
