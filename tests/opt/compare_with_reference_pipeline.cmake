# Runs sgpte-opt on a model with the options of one run of the official pipeline and checks
# the compressed perplexity against the one that pipeline measured
# (tools/reference/results/reference_ppl.json: its opt_sequential + opt_eval on the same
# model, calibration windows and evaluation tokens).
# Variables: OPT (the program), MODEL_DIR, MODEL (name in the table), RUN (run name),
# OPTIONS (comma-separated), CALIBRATION, EVALUATION, REFERENCE (the JSON file), STATS (output JSON),
# TOLERANCE_PERCENT (an integer). Optionally BASELINE (the statistics JSON of another sgpte-opt
# run, e.g. in fp32) and BASELINE_TOLERANCE_PERMILLE (an integer): the perplexity must also be
# within that many thousandths of the baseline's.
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
# reads digits with leading zeros as decimal. Fails unless |value − expected| ≤ per_mille ‰
# of expected (both in millionths).
function(require_within what value expected per_mille)
  foreach(name IN ITEMS value expected)
    if(NOT ${name} MATCHES "^([0-9]+)\\.([0-9]*)$")
      message(FATAL_ERROR "unexpected perplexity '${${name}}'")
    endif()
    set(integer ${CMAKE_MATCH_1})
    string(SUBSTRING "${CMAKE_MATCH_2}000000" 0 6 fraction)
    math(EXPR ${name}_micro "${integer} * 1000000 + ${fraction}")
  endforeach()
  math(EXPR difference "${value_micro} - ${expected_micro}")
  if(difference LESS 0)
    math(EXPR difference "-${difference}")
  endif()
  math(EXPR bound "${expected_micro} * ${per_mille} / 1000")
  message("${MODEL} ${RUN}: sgpte ${value}, ${what} ${expected} "
    "(difference ${difference} millionths, allowed ${bound})")
  if(difference GREATER bound)
    message(FATAL_ERROR "${MODEL} ${RUN}: perplexity ${value} is not within ${per_mille} per mille of the ${what}'s ${expected}")
  endif()
endfunction()

math(EXPR per_mille "${TOLERANCE_PERCENT} * 10")
require_within("official pipeline" ${ours} ${reference} ${per_mille})
if(DEFINED BASELINE)
  file(READ ${BASELINE} baseline_json)
  string(JSON baseline GET "${baseline_json}" perplexity compressed perplexity)
  require_within("baseline run" ${ours} ${baseline} ${BASELINE_TOLERANCE_PERMILLE})
endif()
