# Renames every .text* section of the static library's objects to hz_text,
# so that a program linked with libhakozuna.a holds all of our code in one
# output section, between __start_hz_text and __stop_hz_text: idle return
# (src/budget/idle_return.cpp) must tell our code from the program's.
# cmake -DLIB=libhakozuna.a -DOBJDUMP=objdump -DOBJCOPY=objcopy -P text_section.cmake
execute_process(COMMAND ${OBJDUMP} -h ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objdump -h ${LIB} failed")
endif()
string(REGEX MATCHALL "[ \t]\\.text[^ \t\r\n]*" names "${out}")
set(args)
list(TRANSFORM names STRIP)
list(REMOVE_DUPLICATES names)
foreach(n ${names})
  list(APPEND args --rename-section ${n}=hz_text)
endforeach()
if(args)
  execute_process(COMMAND ${OBJCOPY} ${args} ${LIB} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objcopy on ${LIB} failed")
  endif()
endif()
