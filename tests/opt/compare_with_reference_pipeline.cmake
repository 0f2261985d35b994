# Runs sgpte-opt on a model with the options of one run of the official pipeline and checks
# the compressed perplexity against the one that pipeline measured
# (tools/reference/results/reference_ppl.json: its opt_sequential + opt_eval on the same
# model, calibration windows and evaluation tokens).
# Variables: OPT (the program), MODEL_DIR, MODEL (name in the table), RUN (run name),
# OPTIONS (comma-separated), CALIBRATION, EVALUATION, REFERENCE (the JSON file), STATS (output JSON),
# TOLERANCE_PERCENT (an integer).
string(REPLACE "," ";" OPTIONS "${OPTIONS}")
execute_process(COMMAND ${OPT} ${MODEL_DIR} --calibration ${CALIBRATION} --evaluation ${EVALUATION}
    --skip-dense-eval --stats-json ${STATS} ${OPTIONS}
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "sgpte-opt failed (status ${status}):\n${output}")
endif()

file(READ ${REFERENCE} reference_json)
string(JSON entries LENGTH "${reference_json}" table)
math(EXPR last "${entries} - 1")
unset(reference)
foreach(i RANGE ${last})
  string(JSON model GET "${reference_json}" table ${i} model)
  string(JSON run GET "${reference_json}" table ${i} run)
  if(model STREQUAL MODEL AND run STREQUAL RUN)
    string(JSON reference GET "${reference_json}" table ${i} perplexity)
  endif()
endforeach()
if(NOT DEFINED reference)
  message(FATAL_ERROR "${REFERENCE} has no run '${RUN}' of '${MODEL}'")
endif()

file(READ ${STATS} stats_json)
string(JSON ours GET "${stats_json}" perplexity compressed perplexity)
# CMake has no floating-point arithmetic: compare in millionths with math(EXPR), which
# reads digits with leading zeros as decimal.
foreach(value IN ITEMS ours reference)
  if(NOT ${value} MATCHES "^([0-9]+)\\.([0-9]*)$")
    message(FATAL_ERROR "unexpected perplexity '${${value}}'")
  endif()
  set(integer ${CMAKE_MATCH_1})
  string(SUBSTRING "${CMAKE_MATCH_2}000000" 0 6 fraction)
  math(EXPR ${value}_micro "${integer} * 1000000 + ${fraction}")
endforeach()
math(EXPR difference "${ours_micro} - ${reference_micro}")
if(difference LESS 0)
  math(EXPR difference "-${difference}")
endif()
# |ours − reference| ≤ TOLERANCE_PERCENT % of reference, both sides in millionths.
math(EXPR bound "${reference_micro} * ${TOLERANCE_PERCENT} / 100")
message("${MODEL} ${RUN}: sgpte ${ours}, official pipeline ${reference} "
  "(difference ${difference} millionths, allowed ${bound})")
if(difference GREATER bound)
  message(FATAL_ERROR "${MODEL} ${RUN}: perplexity ${ours} is not within ${TOLERANCE_PERCENT} % of the official pipeline's ${reference}")
endif()
