#include "json_schema_grammar.h"

#include <cstdarg>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

#include "errors.h"
#include "json-schema-to-grammar.h"
#include "json.h"

namespace {
// The converter's warnings during the current conversion on this thread (see fprintf_hook.h).
thread_local std::string* g_warnings = nullptr;
}  // namespace

int mm_grammar_fprintf(FILE* stream, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  va_list ap2;
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, format, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return n;
  }
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), format, ap2);
  va_end(ap2);
  if (g_warnings) {
    g_warnings->append(buf.data(), static_cast<size_t>(n));
  } else {
    std::fputs(buf.data(), stream);
  }
  return n;
}

namespace {

// llama.cpp's converter recurses once per schema level and once per $ref it follows, on whatever
// stack it is called from (a JS thread's is 1-8 MiB, a libuv worker's 8 MiB or less). It runs on a
// thread of its own with this much stack (reserved, touched only as deep as the schema goes), so a
// schema within SCHEMA_LIMITS.depth is far inside it whoever calls; the caller waits for it.
constexpr size_t kConverterStackBytes = 256u << 20;

struct Job {
  const std::function<void()>* body;
  std::exception_ptr error;
};

#ifdef _WIN32
DWORD WINAPI run_job(LPVOID p) {
#else
void* run_job(void* p) {
#endif
  Job* job = static_cast<Job*>(p);
  try {
    (*job->body)();
  } catch (...) {
    job->error = std::current_exception();
  }
#ifdef _WIN32
  return 0;
#else
  return nullptr;
#endif
}

// Runs `body` on a new thread with a `stack_bytes` stack and waits; its exception is rethrown here.
void run_on_big_stack(const std::function<void()>& body, size_t stack_bytes) {
  Job job{&body, nullptr};
#ifdef _WIN32
  HANDLE t = CreateThread(nullptr, stack_bytes, run_job, &job, STACK_SIZE_PARAM_IS_A_RESERVATION, nullptr);
  if (!t) throw mm::Error(mm::ErrorCode::Internal, "cannot start the JSON schema converter's thread");
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
#else
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_t t;
  const int rc = pthread_create(&t, &attr, run_job, &job);
  pthread_attr_destroy(&attr);
  if (rc != 0) throw mm::Error(mm::ErrorCode::Internal, "cannot start the JSON schema converter's thread");
  pthread_join(t, nullptr);
#endif
  if (job.error) std::rethrow_exception(job.error);
}

std::string convert(const std::string& schema_json);

}  // namespace

namespace mm {

std::string json_schema_to_gbnf(const std::string& schema_json) {
  std::string grammar;
  run_on_big_stack([&] { grammar = convert(schema_json); }, kConverterStackBytes);
  return grammar;
}

}  // namespace

namespace {

using mm::Error;
using mm::ErrorCode;

std::string convert(const std::string& schema_json) {
  common_json schema;
  try {
    schema = common_json::parse(schema_json);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArgument, std::string("the JSON schema is not valid JSON: ") + e.what());
  }
  std::string warnings;
  g_warnings = &warnings;
  std::string grammar;
  try {
    grammar = json_schema_to_grammar(schema, /* force_gbnf */ true);
  } catch (const std::exception& e) {
    g_warnings = nullptr;
    throw Error(ErrorCode::InvalidArgument, e.what());
  } catch (...) {
    g_warnings = nullptr;
    throw Error(ErrorCode::Internal, "the JSON schema converter failed");
  }
  g_warnings = nullptr;
  if (!warnings.empty()) {
    while (!warnings.empty() && (warnings.back() == '\n' || warnings.back() == ' ')) warnings.pop_back();
    const std::string prefix = "WARNING: ";
    if (warnings.compare(0, prefix.size(), prefix) == 0) warnings.erase(0, prefix.size());
    throw Error(ErrorCode::Unsupported, "the JSON schema cannot be enforced: " + warnings);
  }
  return grammar;
}

}  // namespace
