// JSON Schema to GBNF, by llama.cpp's own converter (deps/llama.cpp/common/json-schema-to-grammar.cpp,
// compiled from the pinned source into the addon). Every failure is an mm::Error: a schema the
// converter rejects is InvalidArgument, one it would only partly enforce (it warns and widens) is
// Unsupported.
#pragma once
#include <string>

namespace mm {

// The GBNF grammar (root rule "root") of the JSON Schema given as JSON text.
std::string json_schema_to_gbnf(const std::string& schema_json);

}  // namespace mm
