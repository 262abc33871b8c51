# Makes libhakozuna.a's code one section of its own, hz_text, so that a
# program linked with it holds all of our code between __start_hz_text and
# __stop_hz_text: idle return (src/budget/idle_return.cpp) must tell our code
# from the program's.
#  - every .text* section of the archive's objects is renamed hz_text;
#  - every weak hidden function (the inline functions an unoptimised build
#    leaves out of line, std::atomic<bool>::load among them) is renamed
#    _hz_own.<name>: else the linker may keep a program's copy of the same
#    function, in the program's .text, and our code would run it there.
# cmake -DLIB=libhakozuna.a -DOBJDUMP=objdump -DOBJCOPY=objcopy -DREADELF=readelf -P text_section.cmake
execute_process(COMMAND ${OBJDUMP} -h ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objdump -h ${LIB} failed")
endif()
string(REGEX MATCHALL "[ \t]\\.text[^ \t\r\n]*" names "${out}")
list(TRANSFORM names STRIP)
list(REMOVE_DUPLICATES names)
set(args)
foreach(n ${names})
  list(APPEND args --rename-section ${n}=hz_text)
endforeach()
execute_process(COMMAND ${READELF} -sW ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -sW ${LIB} failed")
endif()
# "Num: Value Size FUNC WEAK HIDDEN Ndx Name", defined (Ndx not UND).
string(REGEX MATCHALL "FUNC +WEAK +HIDDEN +[0-9]+ +[^ \t\r\n]+" weak "${out}")
list(TRANSFORM weak REPLACE "FUNC +WEAK +HIDDEN +[0-9]+ +" "")
list(REMOVE_DUPLICATES weak)
foreach(s ${weak})
  list(APPEND args --redefine-sym ${s}=_hz_own.${s})
endforeach()
if(args)
  execute_process(COMMAND ${OBJCOPY} ${args} ${LIB} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objcopy on ${LIB} failed")
  endif()
endif()
