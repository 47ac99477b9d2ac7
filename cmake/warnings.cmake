# Warning flags from STYLE.md; -Werror when KAT_WERROR is on (CI), sanitizers by KAT_SANITIZE.
function(kat_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wformat=2)
  if(KAT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(KAT_SANITIZE)
  add_compile_options(-fsanitize=${KAT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${KAT_SANITIZE})
endif()
