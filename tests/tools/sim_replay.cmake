# Runs sluice-sim on the sample trace and compares its decisions with the checked-in ones
# (computed by hand from the GCRA rule: see sample_trace.csv).
execute_process(
  COMMAND ${SIM} --algorithm gcra --rate 4/s --burst 4 --trace ${TRACE} --decisions ${OUT}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sluice-sim exited ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${EXPECTED} RESULT_VARIABLE diff)
if(NOT diff EQUAL 0)
  file(READ ${OUT} got)
  message(FATAL_ERROR "decisions differ from ${EXPECTED}; got:\n${got}")
endif()
