// Force-included (compiler -include) into llama.cpp's common/json-schema-to-grammar.cpp only. The
// converter reports what it could not convert (an unsupported regex pattern, for which it falls back
// to "any string") with one fprintf to stderr and carries on; this hook routes that call to
// mm_grammar_warning() instead, so our wrapper can refuse the schema rather than silently accept it.
#pragma once
#include <cstdarg>
#include <cstdio>

int mm_grammar_fprintf(FILE* stream, const char* format, ...);

#define fprintf mm_grammar_fprintf
