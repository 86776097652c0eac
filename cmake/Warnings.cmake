# Warnings (as errors) and the optional sanitizer build, applied per target to our own code only.
function(finesse_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror
    $<$<COMPILE_LANGUAGE:CXX>:-Wno-missing-field-initializers>)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  if(FINESSE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
